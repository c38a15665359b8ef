"""The app's shared Streamlit glue for the pages: the error boundary, the collection picker and a page's
head, URL state, and the track and selection widgets. Pages stay layout-only and call everything through
this module; the parts live by job in `folders` (which folders may be opened, collections rescanned when
their folder changes), `loaders` (the cached views, keyed by what they show) and `queue` (precompute one
tagger per run, downloads)."""

from __future__ import annotations

import os
import threading
import traceback
from typing import Callable

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

from .. import views
from ..audio import fs_path, text_path
from ..collections import Collection, find_gtzan
from ..errors import ShroomsError
from ..maps import get_map
from ..place import nearest
from ..space import SPACE
from ..status import NOT_COMPUTED
from ..store import Store
from ..taggers import TAGGERS
from .folders import REFUSED, SYSTEM_FOLDERS, allowed_folder, library_roots, open_collection  # noqa: F401
from .loaders import (agreement, chunks_per_track, collection, colours, confusion, fingerprint, hubness,  # noqa: F401
                      label_tags, joint_frame, map_frame, placed_points, rows, scores, segments, statuses, study,
                      trajectory, upload_trajectory)
from .loaders import audio as _audio
from .queue import (QUEUE_KEY, byte_progress, continue_precompute, get_gtzan, get_weights,  # noqa: F401
                    queue_precompute, run_precompute, running_tagger)

COLLECTION_KEY = "collection_spec"


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


def audio(path: str) -> tuple[bytes, str]:
    """A file's bytes for `st.audio` (cached per version of the file: a rewritten file plays anew)."""
    stat = os.stat(fs_path(path))  # `path` may be a frame's text (`audio.text_path`) for a name that is not UTF-8
    return _audio(path, stat.st_size, stat.st_mtime_ns)


def stored_keys(source: str, version: str) -> list[str]:
    """Taggers that are ready on this collection (`shrooms.status`: weights load, at least 4 stored tracks)."""
    return [key for key, state in statuses(source, version).items() if state.ready]


def pick_collection() -> tuple[str, Collection, str]:
    """Sidebar picker: the demo, GTZAN when found, or a folder path. Remembered across pages and kept
    in the URL (`?collection=`); a link naming a collection that is not here falls back with a note.
    Returns (source, the collection as its folder holds it now, its `fingerprint`: the version that keys
    every view of this run)."""
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
        opened = open_collection(source)
    except ShroomsError as exc:
        st.sidebar.error(str(exc))
        stop_page()
    coll, version = opened.collection, fingerprint(opened)
    st.session_state[COLLECTION_KEY] = source
    st.query_params["collection"] = source
    if source == "demo" and not st.session_state.get("demo_started"):
        st.session_state["demo_started"] = True  # first start: compute the demo on the spot, fcn first
        status = views.tagger_status(coll, statuses(source, version))
        queue_precompute(source, list(status[(status["weights"] == "available") & ~status["complete"]]["key"]))
    st.sidebar.caption(f"{coll.name}: {len(coll.tracks)} tracks, {len(coll.labels)} labels")
    return source, coll, version


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


def pick_projection(widget: str, label: str = "Projection", where=st, help: str | None = None) -> str:
    """A t-SNE / UMAP / PCA radio (`widget` its session key) that the URL's `projection` seeds and keeps."""
    from_url(widget, "projection", list(views.PROJECTION_NAMES))
    method = where.radio(label, list(views.PROJECTION_NAMES), format_func=views.PROJECTION_NAMES.get,
                         horizontal=True, key=widget, help=help)
    to_url(projection=method)
    return method


def tagger_label(key: str, available: list[str]) -> str:
    name = TAGGERS[key].name
    return name if key in available else f"{name} (unavailable)"


def unavailable_reason(source: str, version: str, key: str) -> str:
    """One line on why tagger `key` has no map of this collection (at `version`), and what to do."""
    coll, state = collection(source, version), statuses(source, version)[key]
    if state.state == NOT_COMPUTED:
        return f"{coll.name} is not computed for {TAGGERS[key].name} yet: compute it on the Home page."
    return state.message


def show_neighbours(neighbours: list, heading: str = "Nearest tracks") -> None:
    """A playable list of neighbours: id, label, distance in the tagger's space, audio player and, for a
    placed song's neighbours, why they are near ("why here?": the tags both are heard as, and the tags
    that separate them)."""
    st.markdown(f"**{heading}** (exact nearest; euclidean distance in the tagger's space: {SPACE})")
    for n in neighbours:
        left, right = st.columns([2, 3])
        left.write(f"`{n.id}` · {n.label or 'unlabelled'} · {n.distance:.2f}")
        if getattr(n, "shared_tags", None):
            left.caption("both: " + ", ".join(f"{t} {a:.2f}/{b:.2f}" for t, a, b in n.shared_tags)
                         + " · differ: " + ", ".join(f"{t} {a:.2f}/{b:.2f}" for t, a, b in n.separating_tags))
        data, mime = audio(n.path)
        right.audio(data, format=mime)


def show_track(source: str, coll: Collection, key: str, track_id: str, version: str,
               path: pd.DataFrame | None = None) -> None:
    """A collection track's details: player, top tags, nearest neighbours (each playable) among the rows the
    map was drawn from. With its trajectory (`path`: chunk, start) and several chunks, a chunk picker: the
    player starts at that chunk."""
    row = next(t for t in coll.tracks if t.id == track_id)
    out = Store(coll).read(key, track_id)
    if out is None:  # its file changed (or its row went) since the map was drawn
        st.info(f"{track_id} has changed since this map was drawn: reload the page to see it again.")
        return
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
        stored = rows(source, key, version)
        found = nearest(stored, get_map(coll, key, "tsne", 2, results=stored), out.embedding[None, :], 6)[0][0]
        near = [n for n in found if n.id != track_id][:5]
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
    source, coll, version = pick_collection()
    available = stored_keys(source, version)
    if need and not available:
        st.warning("No tagger has embeddings of this collection yet: compute them on the Home page.")
        stop_page()
    return source, coll, version, available
