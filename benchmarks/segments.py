"""Segment points: every chunk of a collection placed on its track-level t-SNE map, one row at a time
(`TagMap.transform`) versus all rows in one openTSNE `transform` call (`segment_points`), and how far apart
the two placements land (% of the map's extent).

    python benchmarks/segments.py [--collection demo] [--model musicnn] [--rows 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shrooms.collections import load_collection  # noqa: E402
from shrooms.maps import get_map, segment_points  # noqa: E402
from shrooms.precompute import precompute  # noqa: E402
from shrooms.store import Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default="demo")
    parser.add_argument("--model", default="musicnn")
    parser.add_argument("--rows", type=int, default=200, help="chunks timed one at a time")
    args = parser.parse_args()
    collection = load_collection(args.collection)
    precompute(collection, [args.model], show_bar=False)
    _, chunks = Store(collection).load_chunks(args.model)
    for dims in (2, 3):
        tag_map = get_map(collection, args.model, "tsne", dims)
        start = time.perf_counter()
        together = segment_points(tag_map, chunks)
        batch = time.perf_counter() - start
        start = time.perf_counter()
        alone = tag_map.transform(chunks[: args.rows])
        per_row = (time.perf_counter() - start) / len(alone)
        apart = np.linalg.norm(together[: len(alone)] - alone, axis=1) / np.ptp(tag_map.embedding_, axis=0).max()
        print(f"{dims}-D, {len(chunks)} chunks of {len(tag_map.embedding_)} tracks ({args.model}): one call "
              f"{batch:.1f} s; one at a time {per_row * 1000:.0f} ms per chunk (→ {per_row * len(chunks):.0f} s "
              f"for all); batch vs one-at-a-time: median {np.median(apart) * 100:.2g}%, max {apart.max() * 100:.2g}% "
              f"of the extent")


if __name__ == "__main__":
    main()
