"""Place your track: upload songs and see where every tagger puts them on the collection's map."""

import streamlit as st

from shrooms import views
from shrooms.app import session
from shrooms.errors import ShroomsError
from shrooms.place import place
from shrooms.taggers import TAGGERS

MAX_MB = 50
st.title("Place your track")
spec, coll = session.pick_collection()
version = session.fingerprint(coll)
available = session.stored_keys(coll)
if not available:
    st.warning("No tagger has embeddings of this collection yet: compute them on the Home page.")
    st.stop()

uploads: dict = st.session_state.setdefault("uploads", {})
seen: set = st.session_state.setdefault("seen_uploads", set())
files = st.file_uploader(f"Drop one or more tracks (wav, mp3, flac, ogg, au; up to {MAX_MB} MB each)",
                         type=["wav", "mp3", "flac", "ogg", "au"], accept_multiple_files=True, key="uploader")
for f in files or []:
    if (f.file_id, spec) in seen:
        continue
    seen.add((f.file_id, spec))
    data = f.getvalue()  # kept in memory only: never written to cache/ or the collection
    if len(data) > MAX_MB * 2**20:
        st.error(f"{f.name}: {len(data) / 2**20:.0f} MB is over the {MAX_MB} MB limit for uploads.")
        continue
    bar = st.progress(0.0, text=f"Tagging {f.name}…")
    try:
        placed = place([data], coll, available, k=5, names=[f.name],
                       progress=lambda done, total, name=f.name: bar.progress(
                           done / total, text=f"{name}: {done} / {total} taggers"))[0]
    except ShroomsError as exc:
        st.error(str(exc))
        continue
    finally:
        bar.empty()
    if placed.error:  # an unreadable upload: one line, the other uploads carry on
        st.error(placed.error)
        continue
    for line in placed.warnings:
        st.warning(line)
    uploads[f.name] = (spec, placed)

mine = {name: placed for name, (where, placed) in uploads.items() if where == spec}
if not mine:
    st.caption(f"Your tracks will be placed on the {coll.name} maps of: "
               + ", ".join(TAGGERS[k].name for k in available) + ".")
for name, placed in mine.items():
    head, remove = st.columns([6, 1])
    head.subheader(name)
    if remove.button("Remove", key=f"remove_{name}"):
        del uploads[name]
        st.rerun()
    tabs = st.tabs([TAGGERS[k].name for k in placed.models])
    for tab, (key, where) in zip(tabs, placed.models.items()):
        with tab:
            frame = session.map_frame(spec, key, "tsne", 2, version)
            colour = session.colours(spec, key, "tsne", 2, "label", None, version)
            figure = views.map_figure(frame, colour, 2, uploads=[{"name": name, "xy": where.xy}], height=480)
            st.plotly_chart(figure, width="stretch", key=f"place_map_{name}_{key}")
            left, right = st.columns([2, 3])
            left.plotly_chart(views.tags_figure(where.top_tags(8), "top tags"), width="stretch",
                              key=f"place_tags_{name}_{key}")
            with right:
                session.show_neighbours(where.neighbours)
    for key, why in placed.unavailable.items():
        st.caption(f"{TAGGERS[key].name}: unavailable ({why.split(' — ')[0]})")
