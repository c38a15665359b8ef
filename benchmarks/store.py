"""The SQLite store at GTZAN scale and beyond: commits per second (one transaction per track), database
size, and how long `load` (pooled rows), `segments` (every chunk) and `revision` take.

Rows are Musicnn-shaped (10 chunks of 200-d embeddings and 50 tags, as for a 30-s clip), random numbers
for placeholder files of a temporary collection: no audio is decoded and no model runs.

    python benchmarks/store.py [--tracks 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from shrooms.collections import Collection, Track
from shrooms.store import Store
from shrooms.taggers import TrackOutput, load_tagger


def timed(fn, repeats: int = 5) -> float:
    """Median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SHROOMS_CACHE"] = str(Path(tmp) / "cache")
        tracks = []
        for i in range(args.tracks):
            path = Path(tmp) / "music" / f"g{i % 10}" / f"{i:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"placeholder")
            tracks.append(Track(f"g{i % 10}/{i:05d}", path, f"g{i % 10}", 30.0))
        coll = Collection("bench", "bench", "folder", Path(tmp) / "music", tracks)
        tagger = load_tagger("musicnn")
        store = Store(coll)
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for t in tracks:
            ct, ce = rng.random((10, 50), np.float32), rng.random((10, 200), np.float32)
            st = t.path.stat()
            store.commit(t, (st.st_size, st.st_mtime_ns), 480000, {tagger: TrackOutput(ct.mean(0), ce.mean(0), ct, ce)})
        commit = time.perf_counter() - start
        store.close()
        size = store.path.stat().st_size
        load = timed(lambda: Store(coll).load("musicnn"))
        segments = timed(lambda: Store(coll).segments("musicnn"))
        revision = timed(lambda: Store(coll).revision())
        assert len(Store(coll).load("musicnn").tracks) == args.tracks
    print(f"{args.tracks} Musicnn rows: {args.tracks / commit:.0f} track commits/s, database {size / 2**20:.1f} MiB; "
          f"median load {load * 1000:.0f} ms, segments {segments * 1000:.0f} ms, revision {revision * 1000:.1f} ms")


if __name__ == "__main__":
    main()
