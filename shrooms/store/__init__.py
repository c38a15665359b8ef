"""The store: every collection's tags and embeddings, per tagger and track, in one SQLite database.

`cache/store.sqlite3` (WAL mode) holds one `results` row per (collection, tagger, track, precision): the
track's pooled tags (50,) and embedding (D,), its per-chunk tags (n, 50) and embeddings (n, D) as float32
blobs, its decoded sample count, a checksum of the arrays and what the row is valid for: the audio
file's size and mtime_ns *when it was decoded*, the weights' sha256, TAGGER_VERSION, CHUNKING_VERSION and
the precision. Reads return only the rows valid now (current file, weights found now, this code), so
there is no aggregate to go stale. Each track is committed in one transaction: a killed run loses at
most the tracks it had not committed. `claims` rows (run, pid, host, heartbeat) let concurrent
precomputes share a collection: a claim is a lease of LEASE_SECONDS that its live run renews
(`Store.lease`), so the claims of a run that stopped anywhere (another host or container, a pid since
reused) are taken over within seconds. `failures` rows record unreadable files (valid while the file is
unchanged). Statements name their columns; `PRAGMA user_version` holds the schema version, and a store
of an older version is migrated when it is opened for writing (a newer one is refused in one line).

Reads of one answer share one snapshot: inside `with store.snapshot():` every query of every Store of
this database (in this thread) reads the same committed state, and each file is stat'ed once.

Only SQLite's corruption codes (SQLITE_CORRUPT, SQLITE_NOTADB) raise `StoreDamaged`, one line saying to
run `shrooms precompute --repair`, which moves the file aside (`store.sqlite3.damaged-<time>`) and copies
every row still readable, looked up row by row, into a new one; it refuses while another process has
the store open (each process holds a shared lock on `store.sqlite3.lock` while it does). A cache folder
that is not writable is opened read-only (`mode=ro`; see `Store.connection`).
"""

from .claims import LEASE_SECONDS, RUN, claim_alive, run_host
from .repair import MAX_ROWID_GAP, readable_rows
from .rows import Store, StoredResults, load_embeddings
from .schema import (CHUNKING_VERSION, DB_NAME, FAILURE_COLUMNS, RESULT_COLUMNS, SCHEMA_VERSION, StoreDamaged,
                     StoreInUse, StoreReadOnly, atomic_write, blob, checksum)

__all__ = ["CHUNKING_VERSION", "DB_NAME", "FAILURE_COLUMNS", "LEASE_SECONDS", "MAX_ROWID_GAP", "RESULT_COLUMNS",
           "RUN", "SCHEMA_VERSION", "Store", "StoreDamaged", "StoreInUse", "StoreReadOnly", "StoredResults",
           "atomic_write", "blob", "checksum", "claim_alive", "load_embeddings", "readable_rows", "run_host"]
