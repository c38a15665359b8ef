"""Place your track: upload songs and see where every tagger puts them on the collection's map: all the
maps side by side, each with the song's trajectory (its chunks in time order), how novel it is for the
collection and the labels of its nearest tracks; then each tagger's top tags and playable neighbours."""

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from shrooms import views
from shrooms.app import session
from shrooms.errors import ShroomsError
from shrooms.maps import PLACEMENT
from shrooms.space import METRIC, SPACE
from shrooms.place import place
from shrooms.taggers import TAGGERS

MAX_MB = 50
source, coll, version, available = session.open_page("Place your track", need=1)

# Uploads are keyed by CONTENT and collection (sha256 of the bytes, source), never by file name: two different
# files with one name, or one file placed on two collections, stay distinct.
uploads: dict = st.session_state.setdefault("uploads", {})  # (source, sha256) -> (name, bytes, placed)
failed: dict = st.session_state.setdefault("upload_errors", {})  # (source, sha256) -> one-line message
removed: set = st.session_state.setdefault("uploads_removed", set())  # not placed again while still dropped
files = st.file_uploader(f"Drop one or more tracks (wav, mp3, flac, ogg, au; up to {MAX_MB} MB each)",
                         type=["wav", "mp3", "flac", "ogg", "au"], accept_multiple_files=True, key="uploader")
current = []
for f in files or []:
    data = f.getvalue()  # kept in memory only: never written to cache/ or the collection
    ident = (source, hashlib.sha256(data).hexdigest())
    current.append(ident)
    if ident in uploads or ident in failed or ident in removed:
        continue
    if len(data) > MAX_MB * 2**20:
        failed[ident] = f"{f.name}: {len(data) / 2**20:.0f} MB is over the {MAX_MB} MB limit for uploads."
        continue
    bar = st.progress(0.0, text=f"Tagging {f.name}…")
    try:
        placed = place([data], coll, available, k=5, names=[f.name],
                       progress=lambda done, total, name=f.name: bar.progress(
                           done / total, text=f"{name}: {done} / {total} taggers"))[0]
        if placed.error:  # an unreadable upload: one line, the other uploads carry on
            failed[ident] = placed.error
        else:
            uploads[ident] = (f.name, data, placed)
    except ShroomsError as exc:
        message = str(exc).strip().splitlines()[0]
        failed[ident] = message if f.name in message else f"{f.name}: {message}"
    except Exception as exc:  # noqa: BLE001 -- one bad file is one line; the others are still placed
        failed[ident] = f"{f.name}: could not be placed ({type(exc).__name__}: {str(exc).strip()[:200]})"
    finally:
        bar.empty()
for ident in current:
    if ident in failed:
        st.error(failed[ident])

mine = {ident: entry for ident, entry in uploads.items() if ident[0] == source}
if not mine:
    st.caption(f"Your tracks will be placed on the {coll.name} maps of: "
               + ", ".join(TAGGERS[k].name for k in available) + ".")
    session.stop_page()

# One map per tagger with every upload on it: placed on the collection's map as it is (each among its
# listed nearest tracks), or, with "add my tracks to the map", the map re-optimised with them (joint map).
left, right = st.columns([3, 2])
method = session.pick_projection("place_method", "Map", where=left)
joint = right.toggle("Add my tracks to the map", key="place_joint", disabled=method != "tsne",
                     help="re-optimise each tagger's t-SNE map with your tracks in it (the study's joint map): a "
                          "style the collection lacks can show its own island; the collection's points move little")
joint = joint and method == "tsne"
keys = [k for k in available if any(k in placed.models for _, _, placed in mine.values())]
grid = st.columns(min(len(keys), 3) or 1)
for n, key in enumerate(keys):
    on_map = [(digest, name, placed.models[key]) for (_, digest), (name, _, placed) in mine.items()
              if key in placed.models]
    frame = session.map_frame(source, key, method, 2, version)
    colour = session.colours(source, key, method, 2, "label", None, version)
    points = [where.xy for _, _, where in on_map]
    if any(where.method != method for _, _, where in on_map):  # placed on t-SNE maps on upload: this map too
        points = list(session.placed_points(source, key, method, version, tuple(d for d, _, _ in on_map),
                                            np.stack([where.embedding for _, _, where in on_map])))
    if joint:
        frame, points = session.joint_frame(source, key, version, tuple(d for d, _, _ in on_map),
                                            np.stack([where.embedding for _, _, where in on_map]))
    figure = views.map_figure(frame, colour, 2, title=f"{TAGGERS[key].name} · {views.PROJECTION_NAMES[method]}"
                              + (" · joint map" if joint else ""),
                              uploads=[{"name": name, "xy": xy} for (_, name, _), xy in zip(on_map, points)],
                              height=420)
    if not joint:
        for digest, name, _ in on_map:
            data = next(d for (_, dg), (_, d, _) in mine.items() if dg == digest)
            path = session.upload_trajectory(source, key, digest, data, name, version, method)
            if len(path) > 1:
                views.add_trajectory(figure, path, name, colour=views.UPLOAD_COLOUR)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.02))
    with grid[n % len(grid)]:
        st.plotly_chart(figure, width="stretch", key=f"place_grid_{key}")
        for _, name, where in on_map:
            st.caption(f"**{TAGGERS[key].name}** · {name}: {views.novelty_line(where.novelty)}. "
                       f"Nearest tracks: {views.mix_line(where.neighbour_labels)}.")
st.caption(f"Neighbours are the exact nearest in each tagger's space ({SPACE}, {METRIC}); a track is placed "
           f"{PLACEMENT}, so it lands among the tracks listed for it.")

for (_, digest), (name, data, placed) in mine.items():
    head, remove = st.columns([6, 1])
    head.subheader(name)
    if remove.button("Remove", key=f"remove_{digest}"):
        del uploads[(source, digest)]
        removed.add((source, digest))
        st.rerun()
    st.caption(f"sha256 {digest[:12]}… · placed on {coll.name}")
    for line in placed.warnings:  # e.g. truncated: decoded from what the file holds
        st.warning(line)
    st.audio(data, format=views.PLAYABLE.get(Path(name).suffix.lower(), "audio/wav"))
    tabs = st.tabs([TAGGERS[k].name for k in placed.models])
    for tab, (key, where) in zip(tabs, placed.models.items()):
        with tab:
            left, right = st.columns([2, 3])
            left.plotly_chart(views.tags_figure(where.top_tags(8), "top tags"), width="stretch",
                              key=f"place_tags_{digest}_{key}")
            with right:
                session.show_neighbours(where.neighbours, "Nearest tracks, and why here")
    for key, why in placed.unavailable.items():
        st.caption(f"{TAGGERS[key].name}: unavailable ({why.split(' — ')[0]})")
