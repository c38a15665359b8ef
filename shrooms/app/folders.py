"""The app's folder policy: which folders the folder box may open (`SHROOMS_LIBRARY_ROOTS`, never `/` or
a system folder), and the collection behind a source, loaded again whenever its folder changes (checked on
every run: a listing per folder and a stat per track; files added, removed, renamed or rewritten by
another process show up on the next run, without a restart)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import NamedTuple

import streamlit as st

from ..audio import AUDIO_EXTENSIONS, text_path
from ..collections import Collection, load_collection
from ..config import cache_dir
from ..errors import ShroomsError

REFUSED = "not allowed or not found"
SYSTEM_FOLDERS = ("proc", "sys", "dev", "run", "boot", "etc")
KEPT = 4  # listings (collection versions) kept per source: the views of a page being drawn keep theirs


def library_roots() -> list[Path]:
    """The folders `SHROOMS_LIBRARY_ROOTS` (colon-separated) allows the folder box to open; [] = any."""
    return [Path(p).expanduser().resolve() for p in os.environ.get("SHROOMS_LIBRARY_ROOTS", "").split(":") if p]


def allowed_folder(path: str) -> str:
    """`path` resolved, if it is a folder the app may open: under a library root when roots are set, never
    `/` or a system folder. Outside the roots and missing give the SAME one-line error, so the box cannot
    be used to probe which folders exist. Messages name `path` as given, never what it resolves to (a link
    such as /proc/self/cwd would otherwise tell the server's working directory)."""
    given = Path(os.path.abspath(Path(path).expanduser()))  # as typed: before links are followed
    resolved = given.resolve()
    roots = library_roots()
    if roots and not any(resolved.is_relative_to(root) for root in roots):
        raise ShroomsError(f"{path}: {REFUSED}")
    if not resolved.is_dir():
        raise ShroomsError(f"{path}: {REFUSED}")
    if any(p == Path(p.anchor) or p.parts[1] in SYSTEM_FOLDERS for p in (given, resolved)):
        raise ShroomsError(f"{path}: a system folder, not a music folder: pick the folder holding your music")
    return str(resolved)


def folder_listing(root: Path) -> str:
    """A 16-hex-digit fingerprint of the audio file names below `root` (hidden files and folders skipped, as
    `collections.audio_files` does): one directory listing per folder, no stat per file. It changes when an
    audio file is added, removed or renamed."""
    digest = hashlib.blake2b(digest_size=8)
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        names = sorted(f for f in files if not f.startswith(".") and os.path.splitext(f)[1].lower() in AUDIO_EXTENSIONS)
        digest.update(b"\0".join(map(os.fsencode, [folder, *names])) + b"\n")
    return digest.hexdigest()


def track_states(collection: Collection) -> str:
    """A 16-hex-digit fingerprint of the size and modification time of every track's file: it changes
    when a file is rewritten in place (its duration may have changed) or goes."""
    digest = hashlib.blake2b(digest_size=8)
    for track in collection.tracks:
        try:
            stat = os.stat(track.path)
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(b"gone\n")
    return digest.hexdigest()


class Opened(NamedTuple):
    """A collection as loaded, and what it was loaded from: `folder_listing-track_states` (checked on every
    run: a directory listing per folder and a stat per track, about 25 ms for 1,000 tracks)."""

    collection: Collection
    listing: str


_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _registry() -> dict:
    """{(source, cache folder): [Opened, … newest last]}, shared by every session of the server."""
    return {}


def opened(source: str) -> Opened:
    """The collection `source` names (`demo`, `gtzan` or an allowed folder, resolved), loaded again
    whenever its folder's listing changed since it was last loaded; else the one already loaded."""
    key = (source, str(cache_dir()))
    known = _registry().get(key, [])
    names = folder_listing(known[-1].collection.root) if known else None
    if known and f"{names}-{track_states(known[-1].collection)}" == known[-1].listing:
        return known[-1]
    with st.spinner("Loading the collection (on first start the demo is synthesised: about 10 s)…"):
        coll = load_collection(source)
    # the names as listed BEFORE loading (when the folder is known): a file added meanwhile makes the next
    # run's check differ, so it is loaded then
    fresh = Opened(coll, f"{names if names is not None else folder_listing(coll.root)}-{track_states(coll)}")
    with _lock:
        versions = [o for o in _registry().get(key, []) if o.listing != fresh.listing] + [fresh]
        _registry()[key] = versions[-KEPT:]
    return fresh


def collection_at(source: str, listing: str) -> Collection:
    """The collection `source` as loaded from `listing` (one of the `KEPT` latest), so a cached view
    computes on exactly the tracks its page was drawn from; the latest one when it has been dropped."""
    versions = _registry().get((source, str(cache_dir())), [])
    for version in reversed(versions):
        if version.listing == listing:
            return version.collection
    return opened(source).collection


def open_collection(source: str) -> Opened:
    """`demo`, `gtzan` or an allowed folder → the (current) collection and its listing, or a one-line
    ShroomsError."""
    if source in ("demo", "gtzan"):
        return opened(source)
    resolved = allowed_folder(source)
    try:
        return opened(resolved)
    except ShroomsError as exc:  # e.g. "<folder>: no audio files": named as the visitor typed it
        raise ShroomsError(str(exc).replace(text_path(resolved), source)) from None
