"""Claims: how concurrent precomputes share a collection. A `claims` row (run, pid, host, heartbeat) is a
lease of LEASE_SECONDS on one track that its live run renews (`Store.lease`), so the claims of a run that
stopped anywhere (another host or container, a pid since reused) are taken over within seconds."""

from __future__ import annotations

from contextlib import contextmanager
import os
import secrets
import socket
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Iterator

from ..audio import file_state
from ..errors import ShroomsError
from .schema import insert_sql, precision_of

if TYPE_CHECKING:
    from ..collections import Track
    from ..taggers import Tagger

LEASE_SECONDS = 20.0  # a claim not renewed for this long belongs to a run that stopped: it is taken over
RUN = secrets.token_hex(8)  # this process's run: claims are its leases


def run_host() -> str:
    """The host this run says it lives on: $SHROOMS_HOSTNAME (tests simulate another machine with it),
    else the hostname. Only identifies the run in claims and messages."""
    return os.environ.get("SHROOMS_HOSTNAME") or socket.gethostname()


def claim_alive(pid: int, host: str, heartbeat: float) -> bool:
    """A claim holds while its lease runs (renewed less than LEASE_SECONDS ago) and, on this host, its
    process exists (a pid that does not is taken over at once; one reused by another process waits for
    the lease only)."""
    if time.time() - heartbeat > LEASE_SECONDS:
        return False
    if host != run_host():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Claims:
    """The claim half of `Store` (a mixin: it uses the Store's `transaction`, `_valid_rows`, `collection`)."""

    def claim(self, track: Track, taggers: dict[str, Tagger]) -> tuple[str, list[str]]:
        """Claim a track for computing, in one transaction: ("done", []) when every tagger has a valid
        row, ("failed", []) when its file is a known failure, ("busy", []) when a live run holds its
        lease, else ("mine", the tagger keys it lacks). Taking over a stopped run's claim counts it in
        `taken_over`."""
        with self.transaction() as conn:
            failed = conn.execute("SELECT size, mtime_ns FROM failures WHERE collection = ? AND track = ?",
                                  (self.collection.key, track.id)).fetchone()
            if failed is not None and tuple(failed) == file_state(track.path):
                return "failed", []
            missing = [k for k, tg in taggers.items()
                       if track.id not in self._valid_rows(k, precision_of(tg), ["track"], track.id)]
            if not missing:
                return "done", []
            row = conn.execute("SELECT run, pid, host, heartbeat FROM claims WHERE collection = ? AND track = ?",
                               (self.collection.key, track.id)).fetchone()
            if row and row[0] != RUN:
                if claim_alive(*row[1:]):
                    return "busy", []
                self.taken_over[(row[2], row[1])] += 1
            conn.execute(insert_sql("claims", ["collection", "track", "run", "pid", "host", "heartbeat"]),
                         (self.collection.key, track.id, RUN, os.getpid(), run_host(), time.time()))
            return "mine", missing

    def heartbeat(self) -> None:
        """Renew this run's claims (their lease runs LEASE_SECONDS from now)."""
        with self.transaction() as conn:
            conn.execute("UPDATE claims SET heartbeat = ? WHERE run = ?", (time.time(), RUN))

    @contextmanager
    def lease(self) -> Iterator[None]:
        """Renew this run's claims every LEASE_SECONDS / 4, in a background thread, while the block runs
        (however long one track takes); a run that stops renewing loses them within LEASE_SECONDS."""
        stop = threading.Event()

        def renew() -> None:
            try:
                while not stop.wait(LEASE_SECONDS / 4):
                    try:
                        self.heartbeat()
                    except (ShroomsError, sqlite3.Error):  # the main thread meets and reports the same
                        pass
            finally:
                self.close()

        thread = threading.Thread(target=renew, name="shrooms-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def release(self, track: Track) -> None:
        with self.transaction() as conn:
            self._unclaim(conn, track)

    def _unclaim(self, conn: sqlite3.Connection, track: Track) -> None:
        conn.execute("DELETE FROM claims WHERE collection = ? AND track = ? AND run = ?",
                     (self.collection.key, track.id, RUN))
