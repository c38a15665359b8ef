"""Where a new song lands, measured on real music: the README's placement table.

The five-style Debian collection of tests/debian_music.py (12 × 30-s clips per style), each style held out in
turn, plus Wesnoth's orchestral music held out from all five. Per tagger and method: the mean fraction of a
placed track's 5 listed neighbours (exact, in the tagger's space) among its 10 nearest map points; the
fraction of held-out tracks on a spot of their own (no other within 1% of the map's extent); the largest
distance of a collection track's own row from its point (% of the extent); then, Wesnoth added to the map
with `TagMap.partial_fit`: its own-neighbour fraction on the joint map and on the placed-only view, and the
Procrustes disparity of the collection's points. Also the leave-one-out 5-NN label accuracy in the space
against cosine on the raw embeddings (why the space). Methods: shrooms' locally linear placement, and
openTSNE's `transform` with the settings shrooms used before (perplexity 1.5, exaggeration 4).

    python benchmarks/placement.py            # needs ../shared/weights; downloads the Debian packages once
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.spatial import procrustes
from sklearn.neighbors import NearestNeighbors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SHROOMS_WEIGHTS_DIR", str(ROOT.parent / "shared" / "weights"))

from shrooms.collections import folder_collection  # noqa: E402
from shrooms.maps import TagMap  # noqa: E402
from shrooms.precompute import precompute  # noqa: E402
from shrooms.store import Store  # noqa: E402
from tests.debian_music import STYLES, debian_collection, debian_ood  # noqa: E402
from tests.test_placement import cases, listed_in_map  # noqa: E402

KEYS = ["fcn", "musicnn", "crnn"]


def opentsne_placement(tag_map: TagMap, held: np.ndarray) -> np.ndarray:
    """openTSNE's transform, one row at a time, with the settings of shrooms ≤ 0.2 (for comparison)."""
    from openTSNE import TSNE
    emb = TSNE(2, perplexity=tag_map.perplexity_, initialization="pca", random_state=0, n_jobs=1).fit(tag_map.rows_)
    emb -= (emb.max(axis=0) + emb.min(axis=0)) / 2
    coords = np.array(emb)
    z = tag_map.space_.transform(held)
    out = []
    for row in z:
        out.append(np.array(emb.transform(row[None], perplexity=1.5, exaggeration=4)))
        emb[:] = coords
    return coords, np.concatenate(out)


def figures(coords: np.ndarray, xy: np.ndarray, listed: np.ndarray) -> tuple[float, float]:
    near = NearestNeighbors(n_neighbors=10).fit(coords).kneighbors(xy)[1]
    gap = np.linalg.norm(xy[:, None] - xy[None], axis=2) / np.ptp(coords, axis=0).max()
    return (float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(listed, near)])),
            float(np.mean([not (gap[i, :i] < 0.01).any() for i in range(len(xy))])))


def knn5(z: np.ndarray, labels: np.ndarray, metric: str) -> float:
    idx = NearestNeighbors(n_neighbors=6, metric=metric, algorithm="brute").fit(z).kneighbors(z)[1][:, 1:]
    return float(np.mean([Counter(labels[r]).most_common(1)[0][0] == labels[i] for i, r in enumerate(idx)]))


def main() -> None:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    print("CPU:", next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?"))
    root, _ = debian_collection(12, 30.0, STYLES)
    collection, held = folder_collection(root), folder_collection(debian_ood(clips=12))
    for coll in (collection, held):
        precompute(coll, KEYS, show_bar=False)
    print(f"{'tagger':<8} {'method':<22} {'listed in 10':>12} {'distinct':>9} {'own max %':>10}")
    for key in KEYS:
        base, new = Store(collection).load(key), Store(held).load(key)
        x, labels, wesnoth = base.embeddings, base.tracks["label"].to_numpy(str), new.embeddings
        ours, old = [], []
        for _, ref, out in cases(x, labels, wesnoth):
            tag_map = TagMap().fit(ref)
            ours.append(listed_in_map(tag_map, out))
            _, listed = tag_map.space_.kneighbors(out, 5)
            coords, xy = opentsne_placement(tag_map, out)
            old.append(figures(coords, xy, listed))
        tag_map = TagMap().fit(x)
        own = np.linalg.norm(tag_map.transform(x) - tag_map.embedding_, axis=1).max() / np.ptp(tag_map.embedding_, 0).max()
        for name, runs in (("locally linear", ours), ("openTSNE p1.5 x4 (old)", old)):
            listed, distinct = np.mean(runs, axis=0)
            print(f"{key:<8} {name:<22} {listed:>12.3f} {distinct:>9.3f} "
                  f"{(100 * own if name == 'locally linear' else float('nan')):>10.3f}")
        joint = copy.deepcopy(tag_map).partial_fit(wesnoth)
        n = len(x)
        own_joint = np.mean(NearestNeighbors(n_neighbors=2).fit(joint.embedding_).kneighbors(
            joint.embedding_[n:])[1][:, 1] >= n)
        placed = np.concatenate([tag_map.embedding_, tag_map.transform(wesnoth)])
        own_placed = np.mean(NearestNeighbors(n_neighbors=2).fit(placed).kneighbors(placed[n:])[1][:, 1] >= n)
        print(f"{key:<8} partial_fit + Wesnoth: own-neighbour joint {own_joint:.2f}, placed {own_placed:.2f}, "
              f"Procrustes {procrustes(tag_map.embedding_, joint.embedding_[:n])[2]:.4f}")
        print(f"{key:<8} 5-NN label accuracy: space {knn5(tag_map.rows_, labels, 'euclidean'):.3f}, "
              f"raw cosine {knn5(x, labels, 'cosine'):.3f}")


if __name__ == "__main__":
    main()
