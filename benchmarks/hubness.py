"""Hubness of the released taggers on real music: the README's "Hubness" table.

The Debian collections of tests/debian_music.py (3 styles × 12 clips of 30 s, 5 styles × 12, and those
five plus Wesnoth's orchestral score × 24 clips), each tagger's embeddings in its space (`shrooms.space`).
Per tagger: the skewness of the 10-occurrence with the euclidean neighbour list and with the two hubness-reduced ones (mutual proximity, CSLS), the leave-one-out
5-NN label accuracy with each list (as `shrooms report` and `report --hubness-reduction` compute it), the
time of the reduction, and the top three hubs with their k-occurrence.

    python benchmarks/hubness.py      # needs ../shared/weights; downloads the Debian packages once
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("SHROOMS_WEIGHTS_DIR", str(ROOT.parent / "shared" / "weights"))

from shrooms.analysis import hubness_summary, knn_accuracy, labelled, preprocessed  # noqa: E402
from shrooms.collections import folder_collection  # noqa: E402
from shrooms.hubness import reduced_distances  # noqa: E402
from shrooms.precompute import precompute  # noqa: E402
from shrooms.store import Store  # noqa: E402
from taggers import machine  # noqa: E402  (benchmarks/taggers.py)
from tests.debian_music import PACKAGES, STYLES, debian_collection  # noqa: E402

KEYS = ["fcn", "musicnn", "crnn"]
SIX = {**STYLES, "wesnoth-1.16-music": "orchestral"}


def main() -> None:
    print(machine())
    print(f"{'collection':<14} {'tagger':<8} {'skewness: eucl.':>15} {'MP':>6} {'CSLS':>6}   "
          f"{'5-NN acc.: eucl.':>16} {'MP':>6} {'CSLS':>6}   {'MP s':>5}  top hubs (k-occurrence)")
    for name, clips, packages in (("3 styles", 12, PACKAGES), ("5 styles", 12, STYLES), ("6 styles", 24, SIX)):
        root, _ = debian_collection(clips, 30.0, packages)
        collection = folder_collection(root)
        precompute(collection, KEYS, show_bar=False)
        for key in KEYS:
            results = Store(collection).load(key)
            tracks, x, y = labelled(collection, key, "embedding", results)
            z = preprocessed(x)
            hub = hubness_summary(z, tracks, lambda r, d: knn_accuracy(z, y, reduction=r, distances=d))
            start = time.perf_counter()
            reduced_distances(z, "mp")
            seconds = time.perf_counter() - start
            mp, csls = hub["reduced"]["mp"], hub["reduced"]["csls"]
            top = ", ".join(f"{h['id']} ({h['k_occurrence']})" for h in hub["top"][:3])
            print(f"{name + f' ({len(y)})':<14} {key:<8} {hub['skewness']:>15.2f} {mp['skewness']:>6.2f} "
                  f"{csls['skewness']:>6.2f}   {hub['knn_accuracy']:>16.3f} {mp['knn_accuracy']:>6.3f} "
                  f"{csls['knn_accuracy']:>6.3f}   {seconds:>5.3f}  {top}")


if __name__ == "__main__":
    main()
