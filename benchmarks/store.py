"""The SQLite store at GTZAN scale and beyond: commits per second (one transaction per track), database
size, and how long `load` (pooled rows), `segments` (every chunk) and `revision` take.

Rows are shaped as each tagger's rows of a `--seconds`-long track (e.g. Musicnn, 30 s: 10 chunks of 200-d
embeddings and 50 tags), random numbers for placeholder files of a temporary collection: no audio is
decoded and no model runs. The database size is what the store really writes for those shapes.

    python benchmarks/store.py [--tracks 1000] [--taggers fcn,musicnn,crnn] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("SHROOMS_WEIGHTS_DIR", str(Path(__file__).resolve().parent.parent.parent / "shared" / "weights"))

from shrooms.audio import chunk_starts
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
    parser.add_argument("--taggers", default="musicnn")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    for key in args.taggers.split(","):
        run(args.tracks, key, args.seconds)


def run(n_tracks: int, key: str, seconds: float) -> None:
    """Commit `n_tracks` rows of tagger `key` shaped for `seconds`-long tracks; print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SHROOMS_CACHE"] = str(Path(tmp) / "cache")
        tracks = []
        for i in range(n_tracks):
            path = Path(tmp) / "music" / f"g{i % 10}" / f"{i:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"placeholder")
            tracks.append(Track(f"g{i % 10}/{i:05d}", path, f"g{i % 10}", 30.0))
        coll = Collection("bench", "bench", "folder", Path(tmp) / "music", tracks)
        tagger = load_tagger(key)
        samples = int(seconds * 16000)
        chunks = len(chunk_starts(samples, tagger.spec.input_length))
        store = Store(coll)
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for t in tracks:
            ct = rng.random((chunks, 50), np.float32)
            ce = rng.random((chunks, tagger.spec.embedding_dim), np.float32)
            st = t.path.stat()
            store.commit(t, (st.st_size, st.st_mtime_ns), samples, {tagger: TrackOutput(ct.mean(0), ce.mean(0), ct, ce)})
        commit = time.perf_counter() - start
        store.close()
        size = store.path.stat().st_size
        repeats = 5 if n_tracks <= 10_000 else 2
        load = timed(lambda: Store(coll).load(key), repeats)
        segments = timed(lambda: Store(coll).segments(key), repeats)
        revision = timed(lambda: Store(coll).revision(), repeats)
        assert len(Store(coll).load(key).tracks) == n_tracks
    print(f"{n_tracks:,} {key} rows ({seconds:.0f}-s tracks, {chunks} chunks of {tagger.spec.embedding_dim}-d): "
          f"{n_tracks / commit:.0f} track commits/s, database {size / 2**20:.1f} MiB "
          f"({size / 2**20 / n_tracks * 1000:.1f} MiB per 1,000 tracks); median load {load * 1000:.0f} ms, "
          f"segments {segments * 1000:.0f} ms, revision {revision * 1000:.1f} ms")


if __name__ == "__main__":
    main()
