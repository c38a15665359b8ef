"""Collections of tracks: GTZAN (found in either common layout), any music folder, and a generated demo.

A collection is a named list of tracks, each with a stable id, a path, a label (or None) and a duration.

File names: a track's `path` is the real path (a str with surrogate escapes where the name is not valid
UTF-8, as Python hands such names around); its id, label, and the path in `Collection.frame()` are text by
`audio.text_path`'s rule (each byte that is not UTF-8 written as ``\\xNN``, valid names unchanged), so every
name the filesystem allows is stored, reported, exported and shown like any other.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from .audio import AUDIO_EXTENSIONS, duration, fs_path, not_a_file, text_path
from .config import cache_dir
from .demo import DESCRIPTION, ensure_demo
from .download import fetch
from .errors import ShroomsError

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
GTZAN_URL = "https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz"
GTZAN_FILE = re.compile(r"^(?P<genre>[a-z]+)\.(?P<num>\d{5})\.(au|wav)$")
MARKER = ".shrooms-gtzan"  # written inside every GTZAN copy shrooms extracts: only those may be replaced


@dataclass(frozen=True)
class Track:
    id: str
    path: Path
    label: str | None
    duration: float | None = None


@dataclass
class Collection:
    """A named, ordered list of tracks. `key` names it in the cache; `kind` is gtzan, folder or demo;
    `source` is what `--collection` takes to load it again (for commands the user can paste)."""

    key: str
    name: str
    kind: str
    root: Path
    tracks: list[Track] = field(default_factory=list)
    description: str = ""
    source: str = "demo"
    skipped: list[dict] = field(default_factory=list)  # audio-named entries that are no files: {id, path, label, reason}

    @property
    def labels(self) -> list[str]:
        return sorted({t.label for t in self.tracks if t.label is not None})

    def frame(self) -> pd.DataFrame:
        """One row per track: id, path, label, duration."""
        return pd.DataFrame({"id": [t.id for t in self.tracks], "path": [text_path(t.path) for t in self.tracks],
                             "label": [t.label for t in self.tracks],
                             "duration": [t.duration for t in self.tracks]})


def gtzan_genre_dir(root: Path) -> Path | None:
    """The folder holding GTZAN's genre folders below `root`, in the original (`genres/`) or the common
    download's (`Data/genres_original/`) layout, or `root` itself; None when it isn't GTZAN."""
    for candidate in (root, root / "genres", root / "Data" / "genres_original", root / "genres_original"):
        if candidate.is_dir() and any((candidate / g).is_dir() for g in GTZAN_GENRES):
            return candidate
    return None


def find_gtzan(path: str | Path | None = None) -> Path | None:
    """The GTZAN genre folder: at `path` if given, else `$SHROOMS_GTZAN`, else `cache/datasets/gtzan`."""
    places = [Path(path)] if path else [Path(p) for p in [os.environ.get("SHROOMS_GTZAN")] if p] + \
        [cache_dir() / "datasets" / "gtzan"]
    for place in places:
        found = gtzan_genre_dir(place.expanduser())
        if found:
            return found
    return None


def gtzan_collection(path: str | Path | None = None) -> Collection:
    """GTZAN's tracks (`<genre>.000NN`, labelled by genre), or a clear error saying how to get it."""
    root = find_gtzan(path)
    if root is None:
        raise ShroomsError("GTZAN not found: run `shrooms data gtzan`, or set SHROOMS_GTZAN to the folder "
                           "holding genres/<genre>/<genre>.000NN.wav")
    tracks = []
    for genre_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(genre_dir.iterdir()):
            m = GTZAN_FILE.match(f.name)
            if m:
                tracks.append(Track(f"{m['genre']}.{m['num']}", f, genre_dir.name, duration(f)))
    default = find_gtzan()
    key = "gtzan" if default and default.resolve() == root.resolve() else folder_key(root.resolve(), "gtzan-")
    return Collection(key, "GTZAN", "gtzan", root, tracks,
                      "GTZAN genre collection: 1,000 clips of 30 s in 10 genres (Tzanetakis & Cook 2002)",
                      str(path) if path else "gtzan")


def audio_files(root: Path) -> list[Path]:
    """Audio files below `root`, sorted, hidden files skipped."""
    return audio_entries(root)[0]


def audio_entries(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(audio files below `root`, sorted; entries named like audio that cannot be read as files, each with
    why: a FIFO, a symbolic link loop, a folder named *.wav, …). Hidden entries are skipped."""
    files, others = [], []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in AUDIO_EXTENSIONS or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        why = not_a_file(p)
        if why is None:
            files.append(p)
        elif not (why.startswith("a folder") and holds_audio(p)):
            others.append((p, why))  # (a folder named *.wav that holds audio is a label, not a left-out file)
    return files, others


def holds_audio(folder: Path) -> bool:
    try:
        return any(c.suffix.lower() in AUDIO_EXTENSIONS for c in folder.rglob("*"))
    except OSError:
        return False


def folder_key(root: Path, prefix: str = "") -> str:
    """A cache key naming one folder: its name and a hash of its resolved path, so two copies differ."""
    return f"{prefix}{re.sub(r'[^A-Za-z0-9_-]+', '-', root.name)}-{hashlib.sha1(os.fsencode(root)).hexdigest()[:8]}"


def folder_collection(root: str | Path, name: str | None = None) -> Collection:
    """Any music folder: `<root>/<label>/<files>` is labelled by sub-folder; files directly in `root` are
    unlabelled. Track ids are paths relative to `root` without the extension."""
    root = fs_path(os.fspath(root)).expanduser().resolve()
    if not root.is_dir():
        raise ShroomsError(f"{text_path(root)}: no such folder")
    if gtzan_genre_dir(root) and all(GTZAN_FILE.match(p.name) for p in audio_files(root)[:50]):
        return gtzan_collection(root)
    files, others = audio_entries(root)
    tracks = []
    for f in files:
        rel = f.relative_to(root)
        label = text_path(rel.parts[0]) if len(rel.parts) > 1 else None
        tracks.append(Track(text_path(rel.with_suffix("").as_posix()), f, label, duration(f)))
    if not tracks:
        raise ShroomsError(f"{text_path(root)}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) found")
    skipped = [{"id": text_path(p.relative_to(root).with_suffix("").as_posix()), "path": text_path(p),
                "label": text_path(p.relative_to(root).parts[0]) if len(p.relative_to(root).parts) > 1 else None,
                "reason": why} for p, why in others]
    return Collection(folder_key(root), name or text_path(root.name), "folder", root, tracks,
                      f"music folder {text_path(root)}", text_path(root), skipped)


def demo_collection() -> Collection:
    """The built-in generated collection, synthesised into the cache on first use."""
    root = ensure_demo(cache_dir() / "datasets" / "demo")
    coll = folder_collection(root, name="Demo (generated)")
    return Collection("demo", "Demo (generated)", "demo", root, coll.tracks,
                      DESCRIPTION, skipped=coll.skipped)


def load_collection(spec: str | Path | None) -> Collection:
    """`gtzan`, `demo` or a folder path → the collection."""
    if spec in (None, "demo"):
        return demo_collection()
    if spec == "gtzan":
        return gtzan_collection()
    return folder_collection(spec)


def download_gtzan(to: Path | None = None, url: str | None = None, sha256: str | None = None,
                   progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download GTZAN's archive (resumable, checksummed where known) and extract it atomically into `to`
    (default `cache/datasets/gtzan`): extraction goes to a temporary folder renamed into place.

    `to` must be new, empty, or a copy shrooms extracted before (it holds the `.shrooms-gtzan` marker):
    any other folder is refused, never deleted. `progress(bytes_done, bytes_total)` follows the download.
    """
    to = Path(to).expanduser() if to else cache_dir() / "datasets" / "gtzan"
    if find_gtzan(to):
        return find_gtzan(to)
    if to.exists() and not (to.is_dir() and (not any(to.iterdir()) or (to / MARKER).is_file())):
        raise ShroomsError(f"{to}: not empty and not a GTZAN copy made by shrooms: choose a new or empty "
                           "folder (nothing was changed)")
    url = url or os.environ.get("SHROOMS_GTZAN_URL", GTZAN_URL)
    archive = fetch(url, cache_dir() / "downloads" / Path(url.split("?")[0]).name, sha256=sha256,
                    label="GTZAN", progress=progress)
    to.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gtzan-", dir=to.parent))  # made here, so ours to remove
    old = None
    try:
        extract(archive, staging)
        if not gtzan_genre_dir(staging):
            raise ShroomsError(f"{url}: the archive holds no GTZAN genre folders")
        (staging / MARKER).write_text(f"extracted by shrooms from {url}\n")
        if to.exists() and any(to.iterdir()):  # a copy shrooms made (checked above): moved aside, then removed
            old = Path(tempfile.mkdtemp(prefix=".gtzan-old-", dir=to.parent))
            os.replace(to, old / "copy")
        os.replace(staging, to)  # onto a missing or empty folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    return gtzan_genre_dir(to)


def extract(archive: Path, dest: Path) -> None:
    """Unpack a tar(.gz) or zip archive, refusing members that would land outside `dest`."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                z.extractall(dest)
        else:
            with tarfile.open(archive) as t:
                t.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise ShroomsError(f"{archive}: cannot extract ({exc})") from None
