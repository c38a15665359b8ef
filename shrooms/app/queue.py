"""The app's compute queue and downloads: precompute one tagger per run with a progress bar (the views
refresh by themselves: a commit bumps the store's revision, which keys them), GTZAN and weights
downloads with byte progress."""

from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from ..collections import Collection, download_gtzan
from ..errors import ShroomsError
from ..precompute import precompute
from ..taggers import TAGGERS, download_weights
from .folders import open_collection

QUEUE_KEY = "precompute_queue"


def run_precompute(coll: Collection, keys: list[str], what: str | None = None) -> None:
    """Precompute with an `st.progress` bar and an ETA."""
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
    coll = open_collection(source).collection
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
