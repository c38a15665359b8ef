"""The embedding cache: per collection and tagger, every track's pooled and per-chunk tags and embeddings.

Layout under `cache/embeddings/<collection>/<tagger>/`: `records/<hash of track id>.npz`, one per track,
each written to a temporary file and renamed into place (a killed run never leaves a torn record), and
`pooled.npz`, all pooled rows in one file for fast loading, rebuilt from the records when stale.
A record is valid only while its key matches: the audio file's size and mtime, the weights' sha256 and
the taggers' code version; anything else is recomputed, nothing more. Reads return only records valid
for the weights found now.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .collections import Collection, Track
from .config import cache_dir
from .taggers import TAGGER_VERSION, Tagger, TrackOutput, current_sha256, get_spec

CHUNKING_VERSION = "even-1"


def atomic_write(path: Path, data: bytes) -> None:
    """Write bytes via a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def file_fingerprint(path: Path) -> str:
    """Size and modification time: a changed file gets a new fingerprint without being read."""
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def record_key(track: Track, weights_sha256: str) -> str:
    """What a record is valid for: this version of the audio file, these weights, this code."""
    return "|".join([file_fingerprint(track.path), weights_sha256, TAGGER_VERSION, CHUNKING_VERSION])


@dataclass
class StoredResults:
    """A collection's pooled results for one tagger: tracks (id, path, label, duration) in collection
    order, with their embeddings (n, D) and tag probabilities (n, 50)."""

    tracks: pd.DataFrame
    embeddings: np.ndarray
    tags: np.ndarray


class Store:
    """The cache of one collection."""

    def __init__(self, collection: Collection, root: Path | None = None):
        self.collection = collection
        self.root = (root or cache_dir() / "embeddings") / collection.key

    def folder(self, key: str) -> Path:
        return self.root / key

    def record_path(self, key: str, track_id: str) -> Path:
        return self.folder(key) / "records" / f"{hashlib.sha1(track_id.encode()).hexdigest()[:20]}.npz"

    def has(self, track: Track, tagger: Tagger) -> bool:
        """True when a valid record exists for this track and tagger (current file, weights, code)."""
        path = self.record_path(tagger.spec.key, track.id)
        if not path.is_file():
            return False
        try:
            with np.load(path) as npz:
                return str(npz["key"]) == record_key(track, tagger.weights_sha256)
        except (OSError, ValueError, KeyError):
            return False

    def valid_ids(self, tagger: Tagger) -> set[str]:
        """Ids of the collection's tracks with a valid record: checked against `pooled.npz`'s keys in one
        read (records exist, keys match), opening individual records only for tracks it does not vouch for."""
        packed: dict[str, str] = {}
        path = self.folder(tagger.spec.key) / "pooled.npz"
        if path.is_file():
            with np.load(path) as npz:
                packed = dict(zip(npz["ids"].tolist(), npz["keys"].tolist()))
        return {t.id for t in self.collection.tracks
                if (packed.get(t.id) == record_key(t, tagger.weights_sha256) and self.record_path(tagger.spec.key, t.id).is_file())
                or self.has(t, tagger)}

    def write(self, track: Track, tagger: Tagger, out: TrackOutput) -> None:
        atomic_write(self.record_path(tagger.spec.key, track.id), npz_bytes(
            key=np.array(record_key(track, tagger.weights_sha256)), id=np.array(track.id), tags=out.tags,
            embedding=out.embedding, chunk_tags=out.chunk_tags, chunk_embeddings=out.chunk_embeddings))

    def read(self, key: str, track_id: str) -> TrackOutput | None:
        """One track's stored output, pooled and per chunk, or None."""
        path = self.record_path(key, track_id)
        if not path.is_file():
            return None
        with np.load(path) as npz:
            return TrackOutput(npz["tags"], npz["embedding"], npz["chunk_tags"], npz["chunk_embeddings"])

    def pack(self, tagger: Tagger, valid: set[str]) -> None:
        """Gather the records of the `valid` track ids into `pooled.npz` (atomically), in collection order."""
        ids, keys, embs, tags = [], [], [], []
        for track in self.collection.tracks:
            if track.id in valid:
                out = self.read(tagger.spec.key, track.id)
                ids.append(track.id)
                keys.append(record_key(track, tagger.weights_sha256))
                embs.append(out.embedding)
                tags.append(out.tags)
        dim = tagger.spec.embedding_dim
        atomic_write(self.folder(tagger.spec.key) / "pooled.npz", npz_bytes(
            ids=np.array(ids, dtype=str), keys=np.array(keys, dtype=str),
            embeddings=np.array(embs, np.float32).reshape(-1, dim),
            tags=np.array(tags, np.float32).reshape(-1, len(tagger.spec.tags))))

    def load(self, key: str) -> StoredResults:
        """The pooled results of every track whose record is valid for its current file, the weights found
        now and this code, in collection order (empty if none, or if the tagger has no weights)."""
        path = self.folder(key) / "pooled.npz"
        frame = self.collection.frame()
        if not path.is_file():
            return StoredResults(frame.iloc[:0], np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32))
        with np.load(path) as npz:
            row = {i: n for n, i in enumerate(npz["ids"])}
            keys, sha = npz["keys"], current_sha256(get_spec(key))
            keep = [n for n, t in enumerate(self.collection.tracks)
                    if sha and t.id in row and keys[row[t.id]] == record_key(t, sha)]
            take = [row[self.collection.tracks[n].id] for n in keep]
            return StoredResults(frame.iloc[keep].reset_index(drop=True), npz["embeddings"][take],
                                 npz["tags"][take])

    def load_chunks(self, key: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Per-chunk embeddings of every stored track: (one row per chunk: id, label, chunk index), array."""
        rows, embs = [], []
        for track in self.collection.tracks:
            out = self.read(key, track.id)
            if out is not None:
                rows += [{"id": track.id, "label": track.label, "chunk": i} for i in range(len(out.chunk_embeddings))]
                embs.append(out.chunk_embeddings)
        return pd.DataFrame(rows), (np.concatenate(embs) if embs else np.zeros((0, 0), np.float32))

    @property
    def failures_path(self) -> Path:
        return self.root / "failures.json"

    def write_failures(self, failures: list[dict]) -> None:
        atomic_write(self.failures_path, json.dumps(failures, indent=1).encode())

    def failures(self) -> list[dict]:
        """Tracks the last precompute could not read: [{id, path, reason}]."""
        if not self.failures_path.is_file():
            return []
        return json.loads(self.failures_path.read_text())


def load_embeddings(collection: Collection, key: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(tracks DataFrame, embeddings array) of a precomputed collection and tagger."""
    results = Store(collection).load(key)
    return results.tracks, results.embeddings
