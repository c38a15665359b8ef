"""The app's shared Streamlit glue: cached loaders (data with `st.cache_data`, collections with
`st.cache_resource`; models are loaded once per process by `shrooms.taggers.load_tagger` itself, for the
CLI and the app alike), the collection picker, and precompute with a progress bar. Pages stay layout-only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import views
from ..analysis import confusion_for, report
from ..collections import Collection, find_gtzan, load_collection
from ..precompute import precompute
from ..errors import ShroomsError
from ..place import nearest
from ..store import Store
from ..taggers import TAGGERS, current_sha256, find_weights, missing_message

COLLECTION_KEY = "collection_spec"


@st.cache_resource(show_spinner="Loading the collection (on first start the demo is synthesised: about 10 s)…")
def collection(spec: str) -> Collection:
    return load_collection(spec)


def fingerprint(coll: Collection) -> str:
    """Changes whenever any tagger's stored results or weights change, so cached views refresh after a
    precompute or a weights swap."""
    return "|".join([Store(coll).revision()] + [f"{key}:{current_sha256(spec)}" for key, spec in TAGGERS.items()])


@st.cache_data(show_spinner="Drawing the map…", max_entries=64)
def map_frame(spec: str, key: str, method: str, dims: int, _version: str) -> pd.DataFrame:
    return views.map_frame(collection(spec), key, method, dims)


@st.cache_data(show_spinner=False, max_entries=64)
def colours(spec: str, key: str, method: str, dims: int, by: str, tag: str | None, _version: str) -> pd.Series:
    coll = collection(spec)
    return views.colour_values(coll, key, map_frame(spec, key, method, dims, _version), by, tag)


@st.cache_data(show_spinner="Scoring the taggers (clusters, kNN, probe)…", max_entries=16)
def scores(spec: str, keys: tuple[str, ...], _version: str) -> dict:
    return report(collection(spec), list(keys), seeds=(0, 1, 2))


@st.cache_data(show_spinner=False, max_entries=32)
def confusion(spec: str, key: str, _version: str) -> pd.DataFrame:
    return confusion_for(collection(spec), key)


@st.cache_data(show_spinner=False, max_entries=256)
def audio(path: str) -> tuple[bytes, str]:
    return views.playable(path)


def stored_keys(coll: Collection) -> list[str]:
    """Taggers with weights whose embeddings of this collection are cached (at least 4 tracks)."""
    store = Store(coll)
    return [k for k in TAGGERS if find_weights(TAGGERS[k]) and len(store.load(k).tracks) >= 4]


def pick_collection() -> tuple[str, Collection]:
    """Sidebar picker: the demo, GTZAN when found, or a folder path. Remembered across pages."""
    options = ["demo"] + (["gtzan"] if find_gtzan() else []) + ["folder"]
    current = st.session_state.get(COLLECTION_KEY, "demo")
    labels = {"demo": "Demo (generated)", "gtzan": "GTZAN", "folder": "A music folder…"}
    choice = st.sidebar.radio("Collection", options, format_func=labels.get,
                              index=options.index(current if current in options else "folder"))
    spec = choice
    if choice == "folder":
        path = st.sidebar.text_input("Folder path", value="" if current in ("demo", "gtzan") else current,
                                     help="sub-folders are labels; a flat folder is unlabelled")
        if not path:
            st.sidebar.info("Type a folder path, or pick the demo.")
            st.stop()
        spec = path
    try:
        coll = collection(spec)
    except ShroomsError as exc:
        st.sidebar.error(str(exc))
        st.stop()
    st.session_state[COLLECTION_KEY] = spec
    st.sidebar.caption(f"{coll.name}: {len(coll.tracks)} tracks, {len(coll.labels)} labels")
    return spec, coll


def run_precompute(coll: Collection, keys: list[str]) -> None:
    """Precompute with an `st.progress` bar and an ETA, then refresh the cached views."""
    bar = st.progress(0.0, text=f"Computing embeddings of {coll.name}…")

    def progress(done: int, total: int, elapsed: float) -> None:
        eta = elapsed / max(done, 1) * (total - done)
        bar.progress(done / max(total, 1), text=f"{done} / {total} tracks · {done / max(elapsed, 1e-9):.1f} tracks/s"
                                                 f" · about {eta:.0f} s left")

    summary = precompute(coll, keys, progress=progress, show_bar=False)
    bar.empty()
    st.toast(summary.lines()[0])


def tagger_label(key: str, available: list[str]) -> str:
    spec = TAGGERS[key]
    return spec.name if key in available else f"{spec.name} (unavailable)"


def unavailable_reason(coll: Collection, key: str) -> str:
    spec = TAGGERS[key]
    if not find_weights(spec):
        return missing_message(spec)
    return f"{coll.name} is not precomputed for {spec.name} yet: compute it on the Home page."


def show_neighbours(neighbours: list, heading: str = "Nearest tracks") -> None:
    """A playable list of neighbours: id, label, cosine distance, audio player."""
    st.markdown(f"**{heading}** (cosine distance in embedding space)")
    for n in neighbours:
        left, right = st.columns([2, 3])
        left.write(f"`{n.id}` · {n.label or 'unlabelled'} · {n.distance:.3f}")
        data, mime = audio(n.path)
        right.audio(data, format=mime)


def show_track(spec: str, coll: Collection, key: str, track_id: str, version: str) -> None:
    """A collection track's details: player, top tags, nearest neighbours (each playable)."""
    store = Store(coll)
    row = next(t for t in coll.tracks if t.id == track_id)
    out = store.read(key, track_id)
    st.subheader(f"{track_id}" + (f" · {row.label}" if row.label else ""))
    data, mime = audio(str(row.path))
    st.audio(data, format=mime)
    left, right = st.columns([2, 3])
    order = out.tags.argsort()[::-1][:8]
    left.plotly_chart(views.tags_figure([(TAGGERS[key].tags[i], float(out.tags[i])) for i in order],
                                        f"{TAGGERS[key].name}: top tags"), width="stretch")
    with right:
        near = [n for n in nearest(coll, key, out.embedding[None, :], 6)[0] if n.id != track_id][:5]
        show_neighbours(near)
