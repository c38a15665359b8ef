"""The store: every collection's tags and embeddings, per tagger and track, in one SQLite database.

`cache/store.sqlite3` (WAL mode) holds one `results` row per (collection, tagger, track, precision): the
track's pooled tags (50,) and embedding (D,), its per-chunk tags (n, 50) and embeddings (n, D) as float32
blobs, its decoded sample count, a checksum of the arrays and what the row is valid for: the audio
file's size and mtime_ns *when it was decoded*, the weights' sha256, TAGGER_VERSION, CHUNKING_VERSION and
the precision. Reads return only the rows valid now (current file, weights found now, this code), so
there is no aggregate to go stale. Each track is committed in one transaction: a killed run loses at
most the tracks it had not committed. `claims` rows (pid, host, heartbeat) let concurrent precomputes
share a collection; `failures` rows record unreadable files (valid while the file is unchanged).

A damaged database file raises `StoreDamaged`, one line saying to run `shrooms precompute --repair`,
which moves the file aside (`store.sqlite3.damaged-<time>`) and copies every row still readable into a
new one. A cache folder that is not writable is opened read-only.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import socket
import sqlite3
import tempfile
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .audio import SAMPLE_RATE, chunk_starts, file_state, text_path
from .collections import Collection, Track
from .config import cache_dir
from .errors import ShroomsError
from .taggers import TAGGER_VERSION, Tagger, TrackOutput, current_sha256, default_precision, get_spec

CHUNKING_VERSION = "even-1"
DB_NAME = "store.sqlite3"
BUSY_TIMEOUT_MS = 60_000
STALE_CLAIM_SECONDS = 600.0  # a claim not refreshed for this long is taken over even if its pid lives

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    collection TEXT NOT NULL, tagger TEXT NOT NULL, track TEXT NOT NULL, precision TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, weights_sha256 TEXT NOT NULL,
    tagger_version TEXT NOT NULL, chunking_version TEXT NOT NULL,
    n_samples INTEGER NOT NULL, n_chunks INTEGER NOT NULL, n_tags INTEGER NOT NULL, dim INTEGER NOT NULL,
    tags BLOB NOT NULL, embedding BLOB NOT NULL, chunk_tags BLOB NOT NULL, chunk_embeddings BLOB NOT NULL,
    checksum TEXT NOT NULL, computed_by INTEGER NOT NULL, computed_at REAL NOT NULL,
    PRIMARY KEY (collection, tagger, track, precision));
CREATE TABLE IF NOT EXISTS failures (
    collection TEXT NOT NULL, track TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, PRIMARY KEY (collection, track));
CREATE TABLE IF NOT EXISTS claims (
    collection TEXT NOT NULL, track TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    heartbeat REAL NOT NULL, PRIMARY KEY (collection, track));
CREATE TABLE IF NOT EXISTS revisions (collection TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""
POOLED = ["track", "size", "mtime_ns", "n_chunks", "n_tags", "dim", "tags", "embedding", "chunk_tags",
          "chunk_embeddings", "checksum"]


class Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (to close it at exit)."""


class StoreDamaged(ShroomsError):
    """The database file cannot be read as a database."""


class StoreReadOnly(ShroomsError):
    """Work to store, and a cache that cannot be written."""


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


def blob(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def checksum(*blobs: bytes) -> str:
    """blake2b of a row's array blobs, each prefixed by its length."""
    h = hashlib.blake2b(digest_size=16)
    for b in blobs:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def precision_of(tagger: Tagger) -> str:
    return getattr(tagger, "precision", "float32")


@dataclass
class StoredResults:
    """A collection's pooled results for one tagger: tracks (id, path, label, duration) in collection
    order, with their embeddings (n, D) and tag probabilities (n, 50)."""

    tracks: pd.DataFrame
    embeddings: np.ndarray
    tags: np.ndarray


class Store:
    """The stored results of one collection (see the module docstring)."""

    def __init__(self, collection: Collection, root: Path | None = None):
        self.collection = collection
        self.path = (root or cache_dir()) / DB_NAME
        self.tracks = {t.id: t for t in collection.tracks}
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        """True when the cache folder (and the database, if it exists) may be written."""
        folder = self.path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return os.access(folder, os.W_OK) and (not self.path.exists() or os.access(self.path, os.W_OK))

    def damaged(self, exc: sqlite3.DatabaseError) -> StoreDamaged:
        return StoreDamaged(f"{self.path} is damaged ({exc}): run `shrooms precompute --repair --collection "
                            f"{self.collection.source}` to set it aside and rebuild it from what is readable")

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn SQLite's damage errors into one-line StoreDamaged; other errors pass."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "read-only" in str(exc):
                raise StoreReadOnly(f"{self.path.parent} is read-only: cannot store results ({exc})") from None
            raise
        except sqlite3.DatabaseError as exc:
            raise self.damaged(exc) from None

    def connection(self, write: bool = False) -> sqlite3.Connection | None:
        """This thread's connection: read-write when the cache is writable, else read-only; None for
        reads when no database exists yet."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not self.path.exists() and not write:
            return None
        with self.guard():
            if self.writable:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       factory=Connection, check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                # SQLite answers "database is locked" without waiting while another process's last
                # connection cleans up the WAL on close, or recovers it (sqlite.org/wal.html, "Sometimes
                # queries return SQLITE_BUSY"): setting up is idempotent, so try again until the timeout
                deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
                while True:
                    try:
                        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                            conn.execute("PRAGMA journal_mode = WAL")
                        conn.execute("PRAGMA synchronous = NORMAL")
                        conn.executescript(SCHEMA)
                        break
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
            else:  # without a -wal file nobody is writing: immutable needs no -shm in the read-only folder
                wal = Path(f"{self.path}-wal").exists()
                uri = f"{self.path.resolve().as_uri()}?mode=ro" + ("" if wal else "&immutable=1")
                conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       factory=Connection, check_same_thread=False)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self._local.conn = conn
        _open.add(conn)
        return conn

    def close(self) -> None:
        """Close this thread's connection (the last one to close checkpoints the WAL and removes it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Rows of one SELECT (one consistent snapshot); [] when there is no database yet."""
        conn = self.connection()
        if conn is None:
            return []
        with self.guard():
            return conn.execute(sql, args).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers queue on the busy timeout, readers go on)."""
        conn = self.connection(write=True)
        with self.guard():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def bump(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO revisions VALUES (?, 1) ON CONFLICT(collection) DO UPDATE SET n = n + 1",
                     (self.collection.key,))

    # -- validity ------------------------------------------------------------------------------------
    def _valid_rows(self, key: str, precision: str | None, columns: list[str], track: str | None = None) -> dict[str, tuple]:
        """{track id: row} of the rows of tagger `key` valid now: current file state, the weights found
        now, this code and `precision` (default: the taggers' default, float32 unless `--precision` or
        $SHROOMS_PRECISION says bf16), arrays matching their checksum."""
        precision = precision or default_precision()
        sha = current_sha256(get_spec(key))
        if sha is None:
            return {}
        cols = list(dict.fromkeys(POOLED + columns))
        sql = (f"SELECT {', '.join(cols)} FROM results WHERE collection = ? AND tagger = ? AND precision = ? "
               "AND weights_sha256 = ? AND tagger_version = ? AND chunking_version = ?")
        args = (self.collection.key, key, precision, sha, TAGGER_VERSION, CHUNKING_VERSION)
        if track is not None:
            sql, args = sql + " AND track = ?", args + (track,)
        out = {}
        for row in self.query(sql, args):
            r = dict(zip(cols, row))
            t = self.tracks.get(r["track"])
            if t is not None and (r["size"], r["mtime_ns"]) == file_state(t.path) and \
                    r["checksum"] == checksum(r["tags"], r["embedding"], r["chunk_tags"], r["chunk_embeddings"]):
                out[r["track"]] = tuple(r[c] for c in columns)
        return out

    def valid_ids(self, tagger: Tagger) -> set[str]:
        """Ids of the collection's tracks with a row valid now for this tagger (and its precision)."""
        return set(self._valid_rows(tagger.spec.key, precision_of(tagger), ["track"]))

    def load(self, key: str, precision: str | None = None) -> StoredResults:
        """The pooled results of every track with a row valid now, in collection order; empty (with the
        right 2-D shapes) when there are none or the tagger has no weights."""
        rows = self._valid_rows(key, precision, ["n_tags", "dim", "tags", "embedding"])
        keep = [n for n, t in enumerate(self.collection.tracks) if t.id in rows]
        spec = get_spec(key)
        embs = np.zeros((len(keep), spec.embedding_dim), np.float32)
        tags = np.zeros((len(keep), len(spec.tags)), np.float32)
        for i, n in enumerate(keep):
            _, _, t, e = rows[self.collection.tracks[n].id]
            embs[i], tags[i] = np.frombuffer(e, "<f4"), np.frombuffer(t, "<f4")
        return StoredResults(self.collection.frame().iloc[keep].reset_index(drop=True), embs, tags)

    def read(self, key: str, track_id: str, precision: str | None = None) -> TrackOutput | None:
        """One track's stored output, pooled and per chunk, if its row is valid now; else None."""
        rows = self._valid_rows(key, precision, ["n_chunks", "n_tags", "dim", "tags", "embedding", "chunk_tags",
                                                 "chunk_embeddings"], track=track_id)
        if track_id not in rows:
            return None
        n, n_tags, dim, t, e, ct, ce = rows[track_id]
        arr = lambda b, *shape: np.frombuffer(b, "<f4").reshape(shape).copy()  # noqa: E731
        return TrackOutput(arr(t, n_tags), arr(e, dim), arr(ct, n, n_tags), arr(ce, n, dim))

    def segments(self, key: str, precision: str | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Every chunk of every valid track: (frame with id, label, path, chunk index and start in seconds,
        chunk embeddings (n_chunks_total, D), chunk tags (n_chunks_total, 50)), in collection order."""
        rows = self._valid_rows(key, precision, ["n_samples", "n_chunks", "chunk_tags", "chunk_embeddings"])
        spec = get_spec(key)
        cols: dict[str, list] = {"id": [], "label": [], "path": [], "chunk": [], "start": []}
        embs, tags = [], []
        for t in self.collection.tracks:
            if t.id in rows:
                n_samples, n, ct, ce = rows[t.id]
                cols["id"] += [t.id] * n
                cols["label"] += [t.label] * n
                cols["path"] += [text_path(t.path)] * n
                cols["chunk"] += range(n)
                cols["start"] += [s / SAMPLE_RATE for s in chunk_starts(n_samples, spec.input_length)[:n]]
                embs.append(np.frombuffer(ce, "<f4").reshape(n, spec.embedding_dim))
                tags.append(np.frombuffer(ct, "<f4").reshape(n, len(spec.tags)))
        frame = pd.DataFrame(cols).astype({"chunk": int, "start": float})
        if not embs:
            return frame, np.zeros((0, spec.embedding_dim), np.float32), np.zeros((0, len(spec.tags)), np.float32)
        return frame, np.concatenate(embs), np.concatenate(tags)

    def failures(self) -> list[dict]:
        """Tracks that could not be read, while their files are unchanged: [{id, path, reason}], in
        collection order."""
        rows = {r[0]: r for r in self.query("SELECT track, path, reason, size, mtime_ns FROM failures "
                                            "WHERE collection = ?", (self.collection.key,))}
        return [{"id": t.id, "path": rows[t.id][1], "reason": rows[t.id][2]} for t in self.collection.tracks
                if t.id in rows and tuple(rows[t.id][3:]) == file_state(t.path)]

    def revision(self) -> str:
        """Changes whenever anything stored for this collection changes (a commit, a failure) or one of its
        files does (which changes what is valid)."""
        n = self.query("SELECT n FROM revisions WHERE collection = ?", (self.collection.key,))
        files = hashlib.blake2b(repr([file_state(t.path) for t in self.collection.tracks]).encode(),
                                digest_size=8).hexdigest()
        return f"{n[0][0] if n else 0}-{files}"

    # -- writing (precompute) -----------------------------------------------------------------------
    def claim(self, track: Track, taggers: dict[str, Tagger]) -> tuple[str, list[str]]:
        """Claim a track for computing, in one transaction: ("done", []) when every tagger has a valid
        row, ("failed", []) when its file is a known failure, ("busy", []) when a live process claimed
        it, else ("mine", the tagger keys it lacks)."""
        with self.transaction() as conn:
            failed = conn.execute("SELECT size, mtime_ns FROM failures WHERE collection = ? AND track = ?",
                                  (self.collection.key, track.id)).fetchone()
            if failed is not None and tuple(failed) == file_state(track.path):
                return "failed", []
            missing = [k for k, tg in taggers.items()
                       if track.id not in self._valid_rows(k, precision_of(tg), ["track"], track.id)]
            if not missing:
                return "done", []
            row = conn.execute("SELECT pid, host, heartbeat FROM claims WHERE collection = ? AND track = ?",
                               (self.collection.key, track.id)).fetchone()
            if row and not (row[0] == os.getpid() and row[1] == socket.gethostname()) and claim_alive(*row):
                return "busy", []
            conn.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                         (self.collection.key, track.id, os.getpid(), socket.gethostname(), time.time()))
            return "mine", missing

    def heartbeat(self) -> None:
        """Refresh this process's claims (they stay alive while it works)."""
        with self.transaction() as conn:
            conn.execute("UPDATE claims SET heartbeat = ? WHERE pid = ? AND host = ?",
                         (time.time(), os.getpid(), socket.gethostname()))

    def release(self, track: Track) -> None:
        with self.transaction() as conn:
            self._unclaim(conn, track)

    def _unclaim(self, conn: sqlite3.Connection, track: Track) -> None:
        conn.execute("DELETE FROM claims WHERE collection = ? AND track = ? AND pid = ? AND host = ?",
                     (self.collection.key, track.id, os.getpid(), socket.gethostname()))

    def commit(self, track: Track, state: tuple[int, int], n_samples: int, outputs: dict[Tagger, TrackOutput]) -> None:
        """Store one track's outputs for every tagger in one transaction (and drop its claim and any
        failure record); `state` is the file's (size, mtime_ns) when it was decoded."""
        with self.transaction() as conn:
            for tagger, out in outputs.items():
                t, e, ct, ce = blob(out.tags), blob(out.embedding), blob(out.chunk_tags), blob(out.chunk_embeddings)
                conn.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "?, ?, ?, ?)", (
                                 self.collection.key, tagger.spec.key, track.id, precision_of(tagger), *state,
                                 tagger.weights_sha256, TAGGER_VERSION, CHUNKING_VERSION, n_samples,
                                 len(out.chunk_tags), len(out.tags), len(out.embedding), t, e, ct, ce,
                                 checksum(t, e, ct, ce), os.getpid(), time.time()))
            conn.execute("DELETE FROM failures WHERE collection = ? AND track = ?", (self.collection.key, track.id))
            self._unclaim(conn, track)
            self.bump(conn)

    def fail(self, track: Track, state: tuple[int, int], reason: str) -> None:
        """Record that a track's file (in this state) cannot be read, and drop its claim."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                         (self.collection.key, track.id, text_path(track.path), reason, *state))
            self._unclaim(conn, track)
            self.bump(conn)

    def repair(self) -> tuple[Path, int] | None:
        """Set a damaged database aside (`store.sqlite3.damaged-<time>`, with its -wal and -shm) and copy
        every result row still readable (and matching its checksum) into a new one: (where the damaged
        file went, rows kept), or None when it is not damaged."""
        try:
            if self.query("PRAGMA quick_check") in ([("ok",)], []):
                return None
        except StoreDamaged:
            pass
        self.close()
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{self.path}{suffix}").exists():
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        return aside, self._salvage(aside)

    def _salvage(self, old: Path) -> int:
        """Copy the rows of `old` that can still be read and match their checksums (in batches)."""
        saved, batch = 0, []
        try:
            src = sqlite3.connect(f"{old.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.DatabaseError:
            return 0
        try:
            rows = src.execute("SELECT * FROM results")
            while (row := rows.fetchone()) is not None:
                if row[17] == checksum(*row[13:17]):
                    batch.append(row)
                if len(batch) >= 256:
                    saved += self._insert_rows(batch)
        except sqlite3.DatabaseError:  # the rest is unreadable
            pass
        finally:
            src.close()
        return saved + self._insert_rows(batch)

    def _insert_rows(self, batch: list[tuple]) -> int:
        n = len(batch)
        if batch:
            with self.transaction() as conn:
                conn.executemany("INSERT OR REPLACE INTO results VALUES (" + ", ".join("?" * len(batch[0])) + ")", batch)
            batch.clear()
        return n


_open: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Close connections at exit, so that a clean exit leaves no -wal/-shm files behind. Each thread has its
    own connection (`check_same_thread=False` only so that this hook, on the main thread, may close them)."""
    for conn in list(_open):
        conn.close()


def claim_alive(pid: int, host: str, heartbeat: float) -> bool:
    """A claim holds while its heartbeat is recent and, on this host, its process exists."""
    if time.time() - heartbeat > STALE_CLAIM_SECONDS:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_embeddings(collection: Collection, key: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(tracks DataFrame, embeddings array) of a precomputed collection and tagger."""
    results = Store(collection).load(key)
    return results.tracks, results.embeddings
