"""Repair: a damaged database set aside and rebuilt from every row still readable."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
import fcntl
import os
from pathlib import Path
import sqlite3
import time
from typing import Iterator

from .schema import (FAILURE_COLUMNS, RESULT_COLUMNS, StoreDamaged, StoreInUse, StoreReadOnly, _locks, checksum, hold,
                     insert_sql)


class Repair:
    """The repair half of `Store` (a mixin: it uses the Store's `query`, `transaction`, `close`, `path`)."""

    def repair(self) -> tuple[Path, int] | None:
        """Set a damaged database aside (`store.sqlite3.damaged-<time>`, with its -wal and -shm) and copy
        every row still readable (results matching their checksums, of every collection) into a new
        one: (where the damaged file went, result rows kept), or None when it is not damaged. Raises
        StoreInUse, and moves nothing, while another process has the store open."""
        try:
            if self.query("PRAGMA quick_check") in ([("ok",)], []):
                return None
        except StoreDamaged:
            pass
        self.close()
        with exclusive(self.path, self.collection.source):
            aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{self.path}{suffix}").exists():
                    os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
            return aside, self._salvage(aside)

    def _salvage(self, old: Path) -> int:
        """Copy every row of `old` that can still be read, each looked up by its rowid (a damaged page
        loses the rows on it, not the rest of the table), results only when they match their checksum;
        every collection kept gets a new revision. Returns the result rows kept."""
        try:
            src = sqlite3.connect(f"{old.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.DatabaseError:
            return 0
        kept, collections = 0, Counter()
        try:
            batch = []
            for row in readable_rows(src, "results", RESULT_COLUMNS):
                r = dict(zip(RESULT_COLUMNS, row))
                if r["checksum"] == checksum(r["tags"], r["embedding"], r["chunk_tags"], r["chunk_embeddings"]):
                    batch.append(row)
                    collections[r["collection"]] += 1
                if len(batch) >= 256:
                    kept += self._insert_rows("results", RESULT_COLUMNS, batch)
            kept += self._insert_rows("results", RESULT_COLUMNS, batch)
            self._insert_rows("failures", FAILURE_COLUMNS, list(readable_rows(src, "failures", FAILURE_COLUMNS)))
            old_n = dict(readable_rows(src, "revisions", ["collection", "n"]))
            self._salvage_other_tables(src)
        finally:
            src.close()
        with self.transaction() as conn:  # a new revision for every collection: views of the old one go stale
            for coll, n in collections.items():
                conn.execute("INSERT OR REPLACE INTO revisions (collection, n) VALUES (?, ?)",
                             (coll, int(old_n.get(coll) or 0) + n + 1))
        return kept

    def _salvage_other_tables(self, src: sqlite3.Connection) -> None:
        """Tables other modules keep in this database (e.g. the listening test's votes): recreated from
        their own CREATE statement, with every row still readable by rowid."""
        try:
            tables = src.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
        except sqlite3.DatabaseError:
            return
        for name, sql in tables:
            if name in ("results", "failures", "claims", "revisions") or name.startswith("sqlite_") or not sql:
                continue
            try:
                columns = [c[1] for c in src.execute(f'PRAGMA table_info("{name}")').fetchall()]
                with self.transaction() as conn:
                    conn.execute(sql.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1)
                                 if "IF NOT EXISTS" not in sql.upper() else sql)
            except sqlite3.DatabaseError:
                continue
            self._insert_rows(f'"{name}"', columns, list(readable_rows(src, f'"{name}"', columns)))

    def _insert_rows(self, table: str, columns: list[str], batch: list[tuple]) -> int:
        n = len(batch)
        if batch:
            with self.transaction() as conn:
                conn.executemany(insert_sql(table, columns), batch)
            batch.clear()
        return n


MAX_ROWID_GAP = 100_000  # rowids tried past the last row found when the table's last rowid is unreadable


def readable_rows(conn: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[tuple]:
    """Every row of `table` that SQLite can still read, looked up one rowid at a time, in rowid order:
    rows on a damaged page are lost, the others are not (a scan stops at the first damaged page)."""
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE rowid = ?"
    try:
        conn.execute(sql, (-1,)).fetchall()  # the table and columns can be found at all
    except sqlite3.DatabaseError:
        return
    try:
        last = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        last = None
    rowid = found = 0
    while rowid < last if last is not None else rowid - found < MAX_ROWID_GAP:
        rowid += 1
        try:
            row = conn.execute(sql, (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None:
            found = rowid
            yield row


@contextmanager
def exclusive(path: Path, source: str) -> Iterator[None]:
    """This process alone holds the database (raises StoreInUse when another process has it open)."""
    hold(path, writable=True)
    fd = _locks.get(os.path.abspath(path))
    if fd is None:
        raise StoreReadOnly(f"{path.parent} is read-only: cannot repair {path}")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fcntl.flock(fd, fcntl.LOCK_SH)  # converting may have dropped ours
        raise StoreInUse(f"{path} is open in another process (a precompute, report or the app): stop it, "
                         f"then run `shrooms precompute --repair --collection {source}` again") from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_SH)


