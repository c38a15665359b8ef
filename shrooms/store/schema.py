"""The store's tables and what every part of it shares: the schema and its migrations, the row columns,
array blobs and their checksums, SQLite's error codes, and the per-process shared lock on
`store.sqlite3.lock` that every process holding the database open keeps (so `repair` never moves the
file from under one)."""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
from pathlib import Path
import sqlite3
import tempfile
import threading
from typing import TYPE_CHECKING
import weakref

import numpy as np

from ..errors import ShroomsError

if TYPE_CHECKING:
    from ..taggers import Tagger

CHUNKING_VERSION = "even-1"
DB_NAME = "store.sqlite3"
BUSY_TIMEOUT_MS = 60_000
SCHEMA_VERSION = 1    # PRAGMA user_version of the schema below; MIGRATIONS lead older stores to it

# Version 0 (before user_version was set): the tables below, claims without `run`.
SCHEMA_0 = """
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
# MIGRATIONS[v] takes a store from version v to v + 1.
MIGRATIONS = {
    0: "ALTER TABLE claims ADD COLUMN run TEXT NOT NULL DEFAULT ''",  # the run that holds the lease
}
RESULT_COLUMNS = ["collection", "tagger", "track", "precision", "size", "mtime_ns", "weights_sha256",
                  "tagger_version", "chunking_version", "n_samples", "n_chunks", "n_tags", "dim", "tags",
                  "embedding", "chunk_tags", "chunk_embeddings", "checksum", "computed_by", "computed_at"]
FAILURE_COLUMNS = ["collection", "track", "path", "reason", "size", "mtime_ns"]
POOLED = ["track", "size", "mtime_ns", "n_chunks", "n_tags", "dim", "tags", "embedding", "chunk_tags",
          "chunk_embeddings", "checksum"]
# SQLite's primary result codes that mean the file is not a readable database (sqlite.org/rescode.html)
SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_READONLY = 11, 26, 8
DAMAGE_CODES = (SQLITE_CORRUPT, SQLITE_NOTADB)


def insert_sql(table: str, columns: list[str], verb: str = "INSERT OR REPLACE") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


class Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (to close it at exit)."""


class StoreDamaged(ShroomsError):
    """The database file cannot be read as a database."""


class StoreReadOnly(ShroomsError):
    """Work to store, and a cache that cannot be written."""


class StoreInUse(ShroomsError):
    """`repair` asked while another process has the store open."""


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


def result_code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code of an error (None when the error did not come from SQLite)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


_open: weakref.WeakSet = weakref.WeakSet()
_locks: dict[str, int] = {}  # database path → this process's open lock file (holding a shared flock)
_locks_guard = threading.Lock()


def hold(path: Path, writable: bool) -> None:
    """Hold a shared lock on `<database>.lock` for the rest of this process (once per database): `repair`
    takes it exclusively, so it never moves the file from under a process that has it open. Waits while
    a repair runs. A read-only folder without a lock file has no writer to protect: nothing to hold."""
    key = os.path.abspath(path)
    with _locks_guard:
        if key in _locks:
            return
        try:
            fd = os.open(f"{key}.lock", (os.O_RDWR | os.O_CREAT) if writable else os.O_RDONLY, 0o644)
        except OSError:
            return
        fcntl.flock(fd, fcntl.LOCK_SH)
        _locks[key] = fd


@atexit.register
def _close_all() -> None:
    """Close connections at exit, so that a clean exit leaves no -wal/-shm files behind. Each thread has its
    own connection (`check_same_thread=False` only so that this hook, on the main thread, may close them)."""
    for conn in list(_open):
        conn.close()


