"""Map fitting and placement times.

Fit: openTSNE (and PCA) maps of 1,000 and 10,000 points in 2-D and 3-D, on 200-dimensional vectors drawn
around 10 centres (the shape of a Musicnn embedding of GTZAN; fit time depends on n and dimensions, not on
what the vectors mean). Placement: one real 30-s recording placed on every available tagger's 2-D and 3-D
maps of a precomputed collection (cold: first call, loading models and maps; warm: the next calls).

    python benchmarks/maps.py [--sizes 1000,10000] [--collection demo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shrooms.collections import load_collection  # noqa: E402
from shrooms.precompute import precompute  # noqa: E402
from shrooms.maps import TagMap  # noqa: E402
from shrooms.place import place  # noqa: E402
from shrooms.taggers import available_taggers  # noqa: E402

SONG = ROOT.parent / "shared" / "conformance" / "clips" / "gtzan_country_00000.flac"


def vectors(n: int, dim: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (10, dim))
    return (centres[rng.integers(0, 10, n)] + rng.normal(0, 1, (n, dim))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--collection", default="demo")
    args = parser.parse_args()
    print(f"{'fit':<14}{'points':>8}{'seconds':>10}")
    for n in map(int, args.sizes.split(",")):
        x = vectors(n)
        for method, dims in (("pca", 2), ("tsne", 2), ("tsne", 3)):
            start = time.perf_counter()
            TagMap(method, dims).fit(x)
            print(f"{method + f' {dims}-D':<14}{n:>8}{time.perf_counter() - start:>10.1f}")
    collection = load_collection(args.collection)
    keys = list(available_taggers()[0])
    precompute(collection, keys, show_bar=False)
    times = []
    for _ in range(4):
        start = time.perf_counter()
        placed = place([SONG], collection, keys, k=10)[0]
        times.append(time.perf_counter() - start)
    print(f"placement of one 30-s track on {len(placed.models)} taggers ({', '.join(placed.models)}), 2-D + 3-D + "
          f"10 neighbours, collection {collection.name} ({len(collection.tracks)} tracks): cold {times[0]:.2f} s, "
          f"warm {statistics.median(times[1:]):.2f} s (median of {len(times) - 1})")


if __name__ == "__main__":
    main()
