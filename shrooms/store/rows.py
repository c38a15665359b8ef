"""The store's rows: each collection's tags and embeddings per tagger and track, and which of them are
valid now. `Store` reads (one snapshot per answer) and writes (one transaction per track); its claims
(`claims.py`) and repair (`repair.py`) are its other two jobs."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
import contextvars
from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
import sqlite3
import threading
import time
from typing import Iterator

import numpy as np
import pandas as pd

from ..audio import SAMPLE_RATE, chunk_starts, file_state, text_path
from ..collections import Collection, Track
from ..config import cache_dir
from ..errors import ShroomsError
from ..taggers import TAGGER_VERSION, Tagger, TrackOutput, current_sha256, default_precision, get_spec
from .claims import Claims
from .repair import Repair
from .schema import (BUSY_TIMEOUT_MS, CHUNKING_VERSION, DAMAGE_CODES, DB_NAME, FAILURE_COLUMNS, MIGRATIONS, POOLED,
                     RESULT_COLUMNS, SCHEMA_0, SCHEMA_VERSION, SQLITE_READONLY, Connection, StoreDamaged, StoreReadOnly,
                     _open, blob, checksum, hold, insert_sql, precision_of, result_code)


@dataclass
class StoredResults:
    """A collection's pooled results for one tagger: tracks (id, path, label, duration) in collection
    order, with their embeddings (n, D) and tag probabilities (n, 50)."""

    tracks: pd.DataFrame
    embeddings: np.ndarray
    tags: np.ndarray


@dataclass
class _Snapshot:
    """An open read transaction shared by every Store of one database in this context, and the file
    states seen in it."""

    conn: sqlite3.Connection
    states: dict


_snapshots: contextvars.ContextVar[dict | None] = contextvars.ContextVar("shrooms_store_snapshots", default=None)


class Store(Claims, Repair):
    """The stored results of one collection (see the module docstring)."""

    def __init__(self, collection: Collection, root: Path | None = None):
        self.collection = collection
        self.path = (root or cache_dir()) / DB_NAME
        self.tracks = {t.id: t for t in collection.tracks}
        self._local = threading.local()
        self.taken_over: Counter = Counter()  # (host, pid) of stopped runs → tracks of theirs claimed here

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
        """Turn SQLite's corruption errors (SQLITE_CORRUPT, SQLITE_NOTADB) into one-line StoreDamaged and
        its read-only errors into StoreReadOnly; every other error (a constraint, a misuse: bugs) passes."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            code = result_code(exc)
            if code in DAMAGE_CODES:
                raise self.damaged(exc) from None
            if code == SQLITE_READONLY:
                raise StoreReadOnly(f"{self.path.parent} is read-only: cannot store results ({exc})") from None
            raise

    def connection(self, write: bool = False) -> sqlite3.Connection | None:
        """This thread's connection: read-write when the cache is writable, else read-only; None for
        reads when no database exists yet. Opening one for writing migrates an older schema."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not self.path.exists() and not write:
            return None
        with self.guard():
            if self.writable:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                hold(self.path, writable=True)
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       factory=Connection, check_same_thread=False)
                try:
                    self._set_up(conn)
                except BaseException:
                    conn.close()
                    raise
            else:
                hold(self.path, writable=False)
                conn = self._open_read_only()
        self._local.conn = conn
        _open.add(conn)
        return conn

    def _set_up(self, conn: sqlite3.Connection) -> None:
        """WAL mode, and the schema created or migrated to SCHEMA_VERSION (in one write transaction)."""
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # SQLite answers "database is locked" without waiting while another process's last connection
        # cleans up the WAL on close, or recovers it (sqlite.org/wal.html, "Sometimes queries return
        # SQLITE_BUSY"): setting up is idempotent, so try again until the timeout
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    self._migrate(conn)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            if version == 0:
                for statement in SCHEMA_0.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            for v in range(version, SCHEMA_VERSION):
                conn.execute(MIGRATIONS[v])
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ShroomsError(f"{self.path} was written by a newer shrooms (store schema {version}; this one "
                               f"knows up to {SCHEMA_VERSION}): upgrade shrooms, or point SHROOMS_CACHE elsewhere")

    def _open_read_only(self) -> sqlite3.Connection:
        """A read-only connection (`mode=ro`) for a cache folder this process cannot write.

        SQLite reads a WAL database read-only when its -wal and -shm files exist (a writer with the right
        to write the folder has it open), or when they can be created (sqlite.org/wal.html, "Read-Only
        Databases"). In a read-only folder without them `mode=ro` cannot open it, and only `immutable=1`
        can, which is safe only while nobody writes: so such a connection is `immutable=1` but marked,
        and `query` checks after every read that no writer started meanwhile (no -wal file, the database
        file unchanged), reading again on a fresh connection if one did."""
        uri = self.path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, factory=Connection, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._check_version(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.unchanged = None  # a live view of the database: nothing to check
            return conn
        except sqlite3.DatabaseError as exc:
            if result_code(exc) not in (SQLITE_READONLY, 14) or Path(f"{self.path}-wal").exists():  # 14: CANTOPEN
                raise
        state = self._file_identity()
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, factory=Connection,
                               check_same_thread=False)
        self._check_version(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.unchanged = state
        return conn

    def _file_identity(self) -> tuple | None:
        """(inode, size, mtime_ns) of the database file, or None while a -wal file exists (a writer)."""
        if Path(f"{self.path}-wal").exists():
            return None
        st = self.path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _still_valid(self, conn: sqlite3.Connection) -> bool:
        """False when `conn` reads an immutable file that a writer has since changed (or started to)."""
        state = getattr(conn, "unchanged", None)
        return state is None or self._file_identity() == state

    def close(self) -> None:
        """Close this thread's connection (the last one to close checkpoints the WAL and removes it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _active_snapshot(self) -> _Snapshot | None:
        return (_snapshots.get() or {}).get(self.path)

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Rows of one SELECT (one consistent snapshot; inside `snapshot()`, the snapshot's); [] when
        there is no database yet."""
        snap = self._active_snapshot()
        if snap is not None:
            with self.guard():
                return snap.conn.execute(sql, args).fetchall()
        for _ in range(5):
            conn = self.connection()
            if conn is None:
                return []
            with self.guard():
                rows = conn.execute(sql, args).fetchall()
            if self._still_valid(conn):
                return rows
            self.close()  # an immutable read of a file a writer changed: read again, live
        raise ShroomsError(f"{self.path} kept changing while read through a read-only folder: try again")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside (by any Store of this database, in this thread or task) sees one committed
        state of the store and one stat of each file: an answer built from several reads never mixes
        two runs' commits. Nested snapshots share the outer one."""
        active = _snapshots.get() or {}
        if self.path in active:
            yield
            return
        conn = self.connection()
        if conn is None:  # no database yet: every read is empty, and stays so
            yield
            return
        with self.guard():
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read transaction starts here
        token = _snapshots.set({**active, self.path: _Snapshot(conn, {})})
        try:
            yield
        finally:
            _snapshots.reset(token)
            if conn.in_transaction:
                conn.execute("COMMIT")

    def load_many(self, keys: list[str], precision: str | None = None) -> dict[str, StoredResults]:
        """`load` of several taggers from one snapshot of the store: {key: results}."""
        with self.snapshot():
            return {key: self.load(key, precision) for key in keys}

    def file_state(self, track: Track) -> tuple[int, int]:
        """A track's (size, mtime_ns) now; inside a snapshot, as first seen in it."""
        snap = self._active_snapshot()
        if snap is None:
            return file_state(track.path)
        if track.path not in snap.states:
            snap.states[track.path] = file_state(track.path)
        return snap.states[track.path]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers queue on the busy timeout, readers go on). It
        is committed, or else rolled back: a failed COMMIT leaves no transaction open on the connection."""
        conn = self.connection(write=True)
        with self.guard():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def bump(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO revisions (collection, n) VALUES (?, 1) "
                     "ON CONFLICT(collection) DO UPDATE SET n = n + 1", (self.collection.key,))

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
            if t is not None and (r["size"], r["mtime_ns"]) == self.file_state(t) and \
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
                if t.id in rows and tuple(rows[t.id][3:]) == self.file_state(t)]

    def revision(self) -> str:
        """Changes whenever anything stored for this collection changes (a commit, a failure) or one of its
        files does (which changes what is valid)."""
        n = self.query("SELECT n FROM revisions WHERE collection = ?", (self.collection.key,))
        files = hashlib.blake2b(repr([self.file_state(t) for t in self.collection.tracks]).encode(),
                                digest_size=8).hexdigest()
        return f"{n[0][0] if n else 0}-{files}"

    def commit(self, track: Track, state: tuple[int, int], n_samples: int, outputs: dict[Tagger, TrackOutput]) -> None:
        """Store one track's outputs for every tagger in one transaction (and drop its claim and any
        failure record); `state` is the file's (size, mtime_ns) when it was decoded."""
        with self.transaction() as conn:
            for tagger, out in outputs.items():
                t, e, ct, ce = blob(out.tags), blob(out.embedding), blob(out.chunk_tags), blob(out.chunk_embeddings)
                conn.execute(insert_sql("results", RESULT_COLUMNS), (
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
            conn.execute(insert_sql("failures", FAILURE_COLUMNS),
                         (self.collection.key, track.id, text_path(track.path), reason, *state))
            self._unclaim(conn, track)
            self.bump(conn)


def load_embeddings(collection: Collection, key: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(tracks DataFrame, embeddings array) of a precomputed collection and tagger."""
    results = Store(collection).load(key)
    return results.tracks, results.embeddings
