"""The app's folder policy: which folders the folder box may open (`SHROOMS_LIBRARY_ROOTS`, never `/` or
a system folder), and the collection behind a source, rescanned whenever its folder changes (a listing
and one stat per file, compared on every run: files added, removed, renamed or rewritten by another
process show up on the next run, without a restart)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import NamedTuple

import streamlit as st

from ..collections import Collection, audio_files, load_collection
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


def folder_listing(root: Path) -> str:
    """A 16-hex-digit fingerprint of the audio files below `root` (`collections.audio_files`): each one's
    path, size and modification time. It changes when a file is added, removed, renamed or rewritten."""
    digest = hashlib.blake2b(digest_size=8)
    for path in audio_files(Path(root)):
        try:
            stat = path.stat()
        except OSError:  # gone since the listing: the next run sees the folder without it
            continue
        digest.update(os.fsencode(path) + f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class Opened(NamedTuple):
    """A collection as loaded, and the listing of its folder it was loaded from."""

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
    before = folder_listing(known[-1].collection.root) if known else None
    if known and before == known[-1].listing:
        return known[-1]
    with st.spinner("Loading the collection (on first start the demo is synthesised: about 10 s)…"):
        coll = load_collection(source)
    # listed before loading when the folder is known, so a file added meanwhile makes the next run reload
    fresh = Opened(coll, before if before is not None else folder_listing(coll.root))
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
    return opened(source if source in ("demo", "gtzan") else allowed_folder(source))
