"""The app's shared Streamlit glue: cached loaders (data with `st.cache_data`, collections with
`st.cache_resource`; models are loaded once per process by `shrooms.taggers.load_tagger` itself, for the
CLI and the app alike), the collection picker, and precompute with a progress bar. Pages stay layout-only."""

from __future__ import annotations

import os
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

from .. import views
from ..audio import text_path
from ..agreement import model_agreement
from ..analysis import confusion_for, report
from ..collections import Collection, download_gtzan, find_gtzan, load_collection
from ..precompute import precompute
from ..errors import ShroomsError
from ..place import nearest
from ..status import NOT_COMPUTED, status, statuses
from ..store import Store
from ..study import study_figure
from ..taggers import TAGGERS, current_sha256, download_weights

COLLECTION_KEY = "collection_spec"
QUEUE_KEY = "precompute_queue"
REFUSED = "not allowed or not found"
SYSTEM_FOLDERS = ("proc", "sys", "dev", "run", "boot", "etc")


class PageStopped(Exception):
    """`stop_page()` inside the router: ends the page without asking Streamlit to stop the whole run."""


_routed = threading.local()


def stop_page() -> None:
    """End the current page here. Under app.py's router this ends only the page, so the app's tail (queued
    precomputes) still runs: `st.stop()` would make Streamlit stop at the tail's next element too. A page
    run on its own (AppTest) falls back to `st.stop()`."""
    if getattr(_routed, "active", False):
        raise PageStopped
    st.stop()


def run_page(run: Callable[[], object]) -> None:
    """The app's error boundary: run a page (`run`); any error it raises becomes ONE `st.error` line (the full
    traceback only with `SHROOMS_DEBUG=1`). `stop_page()` ends the page (the app's tail still runs);
    `st.rerun()` passes through to Streamlit."""
    _routed.active = True
    try:
        run()
    except (PageStopped, StopException):
        pass
    except RerunException:
        raise
    except Exception as exc:  # noqa: BLE001 -- the boundary: nothing reaches the user as a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        if isinstance(exc, ShroomsError):
            st.error(first)
        else:
            st.error(f"Something went wrong: {type(exc).__name__}: {first}"[:300]
                     + ("" if os.environ.get("SHROOMS_DEBUG") == "1" else " (set SHROOMS_DEBUG=1 for details)"))
        if os.environ.get("SHROOMS_DEBUG") == "1":
            st.code("".join(traceback.format_exception(exc)))
    finally:
        _routed.active = False


@st.cache_resource(show_spinner="Loading the collection (on first start the demo is synthesised: about 10 s)…")
def collection(source: str) -> Collection:
    return load_collection(source)


def fingerprint(coll: Collection) -> str:
    """Changes whenever any tagger's stored results or weights change, so cached views refresh after a
    precompute or a weights swap."""
    return "|".join([Store(coll).revision()] + [f"{key}:{current_sha256(tagger)}" for key, tagger in TAGGERS.items()])


@st.cache_data(show_spinner="Drawing the map…", max_entries=64)
def map_frame(source: str, key: str, method: str, dims: int, _version: str, space: str = "embedding",
              tags: tuple[str, str] | None = None) -> pd.DataFrame:
    return views.map_frame(collection(source), key, method, dims, space, tags)


@st.cache_data(show_spinner=False, max_entries=64)
def colours(source: str, key: str, method: str, dims: int, by: str, tag: str | None, _version: str,
            space: str = "embedding", tags: tuple[str, str] | None = None) -> pd.Series:
    coll = collection(source)
    return views.colour_values(coll, key, map_frame(source, key, method, dims, _version, space, tags), by, tag,
                               space=space)


@st.cache_data(show_spinner="Placing the track's chunks…", max_entries=256)
def trajectory(source: str, key: str, track_id: str, method: str, dims: int, _version: str, space: str = "embedding",
               tags: tuple[str, str] | None = None) -> pd.DataFrame:
    return views.track_trajectory(collection(source), key, track_id, method, dims, space, tags)


@st.cache_data(show_spinner="Tagging your track chunk by chunk…", max_entries=64)
def upload_trajectory(source: str, key: str, digest: str, _data: bytes, name: str, _version: str) -> pd.DataFrame:
    return views.upload_trajectory(collection(source), key, _data, name)


@st.cache_data(show_spinner="Placing every chunk…", max_entries=16)
def segments(source: str, key: str, method: str, dims: int, _version: str, space: str = "embedding",
             tags: tuple[str, str] | None = None) -> pd.DataFrame:
    return views.segments_frame(collection(source), key, method, dims, space, tags)


@st.cache_data(show_spinner=False, max_entries=32)
def chunks_per_track(source: str, key: str, _version: str) -> float:
    return views.chunks_per_track(collection(source), key)


@st.cache_data(show_spinner=False, max_entries=32)
def label_tags(source: str, key: str, measure: str, _version: str):
    return views.label_tag_figure(collection(source), key, measure)


@st.cache_data(show_spinner="Comparing the taggers (CKA, neighbour overlap)…", max_entries=16)
def agreement(source: str, keys: tuple[str, ...], space: str, _version: str) -> dict:
    return model_agreement(collection(source), list(keys), space)


@st.cache_data(show_spinner="Tagging the folder and placing its groups…", max_entries=8)
def study(source: str, folder: str, keys: tuple[str, ...], _version: str) -> tuple[pd.DataFrame, dict]:
    ood, models = views.study_models(collection(source), folder, list(keys))
    figures = {key: study_figure(collection(source), ood, key, models[key]) for key in models}
    return views.study_table(models), figures


@st.cache_data(show_spinner="Scoring the taggers (clusters, kNN, probe)…", max_entries=16)
def scores(source: str, keys: tuple[str, ...], _version: str) -> dict:
    return report(collection(source), list(keys), seeds=(0, 1, 2))


@st.cache_data(show_spinner=False, max_entries=32)
def confusion(source: str, key: str, _version: str) -> pd.DataFrame:
    return confusion_for(collection(source), key)


@st.cache_data(show_spinner=False, max_entries=256)
def audio(path: str) -> tuple[bytes, str]:
    return views.playable(path)


def stored_keys(coll: Collection) -> list[str]:
    """Taggers that are ready on this collection (`shrooms.status`: weights load, at least 4 stored tracks)."""
    return [key for key, state in statuses(coll).items() if state.ready]


def library_roots() -> list[Path]:
    """The folders `SHROOMS_LIBRARY_ROOTS` (colon-separated) allows the folder box to open; [] = any."""
    return [Path(p).expanduser().resolve() for p in os.environ.get("SHROOMS_LIBRARY_ROOTS", "").split(":") if p]


def allowed_folder(path: str) -> str:
    """`path` resolved, if it is a folder the app may open: under a library root when roots are set, never
    `/` or a system folder. Outside the roots and missing give the SAME one-line error, so the box cannot
    be used to probe which folders exist."""
    resolved = Path(path).expanduser().resolve()
    roots = library_roots()
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise ShroomsError(f"{path}: {REFUSED}")
    if not resolved.is_dir():
        raise ShroomsError(f"{path}: {REFUSED}")
    if resolved == Path(resolved.anchor) or resolved.parts[1] in SYSTEM_FOLDERS:
        raise ShroomsError(f"{path}: a system folder, not a music folder: pick the folder holding your music")
    return str(resolved)


def open_collection(source: str) -> Collection:
    """`demo`, `gtzan` or an allowed folder → the (cached) collection, or a one-line ShroomsError."""
    return collection(source if source in ("demo", "gtzan") else allowed_folder(source))


def pick_collection() -> tuple[str, Collection]:
    """Sidebar picker: the demo, GTZAN when found, or a folder path. Remembered across pages and kept
    in the URL (`?collection=`); a link naming a collection that is not here falls back with a note."""
    options = ["demo"] + (["gtzan"] if find_gtzan() else []) + ["folder"]
    if COLLECTION_KEY not in st.session_state and "collection" in st.query_params:
        wanted = st.query_params["collection"]
        try:
            open_collection(wanted)
            st.session_state[COLLECTION_KEY] = wanted
        except ShroomsError as exc:
            st.info(f"The link's collection is not available here ({exc}): showing the demo instead.")
    current = st.session_state.get(COLLECTION_KEY, "demo")
    labels = {"demo": "Demo (generated)", "gtzan": "GTZAN", "folder": "A music folder…"}
    choice = st.sidebar.radio("Collection", options, format_func=labels.get,
                              index=options.index(current if current in options else "folder"))
    source = choice
    if choice == "folder":
        path = st.sidebar.text_input("Folder path", value="" if current in ("demo", "gtzan") else current,
                                     help="sub-folders are labels; a flat folder is unlabelled")
        if not path:
            st.sidebar.info("Type a folder path, or pick the demo.")
            stop_page()
        source = path
    try:
        coll = open_collection(source)
    except ShroomsError as exc:
        st.sidebar.error(str(exc))
        stop_page()
    st.session_state[COLLECTION_KEY] = source
    st.query_params["collection"] = source
    if source == "demo" and not st.session_state.get("demo_started"):
        st.session_state["demo_started"] = True  # first start: compute the demo on the spot, fcn first
        status = views.tagger_status(coll)
        queue_precompute(source, list(status[(status["weights"] == "available") & ~status["complete"]]["key"]))
    st.sidebar.caption(f"{coll.name}: {len(coll.tracks)} tracks, {len(coll.labels)} labels")
    return source, coll


def run_precompute(coll: Collection, keys: list[str], what: str | None = None) -> None:
    """Precompute with an `st.progress` bar and an ETA, then refresh the cached views."""
    what = what or f"Computing embeddings of {coll.name}"
    bar = st.progress(0.0, text=f"{what}…")

    def progress(done: int, total: int, elapsed: float) -> None:
        eta = elapsed / max(done, 1) * (total - done)
        bar.progress(done / max(total, 1), text=f"{what}: {done} / {total} tracks · "
                                                 f"{done / max(elapsed, 1e-9):.1f} tracks/s · about {eta:.0f} s left")

    summary = precompute(coll, keys, progress=progress, show_bar=False)
    bar.empty()
    st.toast(summary.lines()[0])


def queue_precompute(source: str, keys: list[str]) -> None:
    """Ask for `keys` to be computed on collection `source`, one tagger at a time (see `continue_precompute`)."""
    queue = st.session_state.setdefault(QUEUE_KEY, [])
    queue.extend((source, k) for k in keys if (source, k) not in queue)


def continue_precompute() -> None:
    """Run the next queued tagger, then rerun: the pages show each tagger's map as soon as it is done,
    and the sidebar says which tagger is running. Called by app.py after the page has been drawn, so the
    page stays usable; an interaction interrupts it and the next run resumes (the store keeps what is done)."""
    queue = st.session_state.get(QUEUE_KEY, [])
    if not queue:
        return
    source, key = queue[0]
    coll = open_collection(source)
    with st.sidebar:
        st.caption(f"Computing {TAGGERS[key].name} on {coll.name} ({len(queue)} of the queued taggers left)")
        run_precompute(coll, [key], what=f"{TAGGERS[key].name}")
    queue.pop(0)
    st.rerun()


def running_tagger(source: str) -> str | None:
    """The tagger being (or next to be) computed on collection `source`, if any."""
    return next((key for where, key in st.session_state.get(QUEUE_KEY, []) if where == source), None)


def byte_progress(label: str) -> Callable[[int, int | None], None]:
    """An `st.progress` bar for `download.fetch`: bytes, speed and time left, redrawn at most 5 times a second."""
    bar = st.progress(0.0, text=f"{label}: connecting…")
    start, last = time.perf_counter(), [0.0]
    first: list[int] = []

    def progress(done: int, total: int | None) -> None:
        now = time.perf_counter()
        if not first:
            first.append(done)  # a resumed download starts with the bytes it already has
        if now - last[0] < 0.2 and done != total:
            return
        last[0] = now
        speed = (done - first[0]) / max(now - start, 1e-9)
        text = f"{label}: {done / 1e6:.1f}" + (f" / {total / 1e6:.1f} MB" if total else " MB")
        text += f" · {speed / 1e6:.1f} MB/s"
        if total and speed > 0:
            text += f" · about {(total - done) / speed:.0f} s left"
        bar.progress(min(done / total, 1.0) if total else 0.0, text=text)

    return progress


def get_gtzan() -> bool:
    """Download and extract GTZAN (URL from `$SHROOMS_GTZAN_URL`) with a progress bar; True when it is
    there. A failure is one `st.error` line; the partial download is kept, so the next try resumes it."""
    try:
        download_gtzan(progress=byte_progress("GTZAN"))
    except ShroomsError as exc:
        st.error(str(exc).splitlines()[0])
        return False
    return True


def get_weights(keys: list[str]) -> tuple[list[str], list[str]]:
    """Download each tagger's weights (URL base from `$SHROOMS_WEIGHTS_URL`) with a progress bar.
    Returns the keys now available and one line per tagger that failed."""
    got, failed = [], []
    for key in keys:
        try:
            download_weights(TAGGERS[key], progress=byte_progress(f"{TAGGERS[key].name} weights"))
            got.append(key)
        except ShroomsError as exc:
            failed.append(f"{TAGGERS[key].name}: {str(exc).splitlines()[0]}")
    return got, failed


def from_url(widget: str, param: str, options: list, parse: Callable[[str], object] = str) -> None:
    """Seed a widget from the URL's `param` on the session's first run of the page, so reloads and shared
    links restore the view. A value that no longer exists falls back to the default with a one-line note."""
    if widget in st.session_state or param not in st.query_params:
        return
    raw = st.query_params[param]
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value in options:
        st.session_state[widget] = value
    else:
        st.caption(f"The link's {param} “{raw}” is not available here: showing the default instead.")


def to_url(**params) -> None:
    """Write the view into the URL (`st.query_params`); None removes a parameter."""
    for name, value in params.items():
        if value is None or value == "" or value == []:
            st.query_params.pop(name, None)
        elif isinstance(value, list):
            st.query_params[name] = ",".join(map(str, value))
        else:
            st.query_params[name] = str(value)


def tagger_label(key: str, available: list[str]) -> str:
    name = TAGGERS[key].name
    return name if key in available else f"{name} (unavailable)"


def unavailable_reason(coll: Collection, key: str) -> str:
    state = status(coll, key)
    if state.state == NOT_COMPUTED:
        return f"{coll.name} is not computed for {TAGGERS[key].name} yet: compute it on the Home page."
    return state.message


def show_neighbours(neighbours: list, heading: str = "Nearest tracks") -> None:
    """A playable list of neighbours: id, label, cosine distance, audio player."""
    st.markdown(f"**{heading}** (cosine distance in embedding space)")
    for n in neighbours:
        left, right = st.columns([2, 3])
        left.write(f"`{n.id}` · {n.label or 'unlabelled'} · {n.distance:.3f}")
        data, mime = audio(n.path)
        right.audio(data, format=mime)


def show_track(source: str, coll: Collection, key: str, track_id: str, version: str,
               path: pd.DataFrame | None = None) -> None:
    """A collection track's details: player, top tags, nearest neighbours (each playable). With its
    trajectory (`path`: chunk, start) and several chunks, a chunk picker: the player starts at that chunk."""
    store = Store(coll)
    row = next(t for t in coll.tracks if t.id == track_id)
    out = store.read(key, track_id)
    st.subheader(f"{track_id}" + (f" · {row.label}" if row.label else ""))
    start = 0
    if path is not None and len(path) > 1:
        starts = dict(zip(path["chunk"], path["start"]))
        chunk = st.selectbox("Play from chunk", list(starts), key="explore_chunk",
                             format_func=lambda c: f"chunk {c} · from {views.clock(starts[c])}")
        start = int(starts.get(chunk, 0))
    data, mime = audio(text_path(row.path))  # text: any file name hashes and shows
    st.audio(data, format=mime, start_time=start)
    left, right = st.columns([2, 3])
    order = out.tags.argsort()[::-1][:8]
    left.plotly_chart(views.tags_figure([(TAGGERS[key].tags[i], float(out.tags[i])) for i in order],
                                        f"{TAGGERS[key].name}: top tags"), width="stretch")
    with right:
        near = [n for n in nearest(store.load(key), out.embedding[None, :], 6)[0] if n.id != track_id][:5]
        show_neighbours(near)


def export_selection(frame: pd.DataFrame, ids: list[str], key: str) -> None:
    """Download buttons for a map selection: an M3U8 playlist of its files and its rows as CSV."""
    playlist, table = views.selection_files(frame, ids)
    left, right = st.columns(2)
    left.download_button(f"Download {len(ids)} tracks as M3U8", playlist.encode(), file_name="selection.m3u8",
                         mime="audio/x-mpegurl", key=f"{key}_m3u8")
    right.download_button("Download as CSV", table, file_name="selection.csv", mime="text/csv", key=f"{key}_csv")


def open_page(title: str, need: int = 0) -> tuple[str, Collection, str, list[str]]:
    """A page's head: its title and the collection picker. Returns (source, collection, its fingerprint, the
    taggers with stored embeddings); with `need` ≥ 1, stops the page with one line when none is stored."""
    st.title(title)
    source, coll = pick_collection()
    available = stored_keys(coll)
    if need and not available:
        st.warning("No tagger has embeddings of this collection yet: compute them on the Home page.")
        stop_page()
    return source, coll, fingerprint(coll), available
