"""t-SNE, UMAP and PCA on real music: the README's projection table (issue #18).

The five-style Debian collection of tests/debian_music.py (60 clips of 30 s) and Wesnoth's orchestral music
(12 clips), for FCN, Musicnn and CRNN, each map fitted on the tagger's space (`shrooms.space`), 2-D and 3-D:

- neighbours kept: the mean fraction of a track's 5 nearest tracks in the space among its 10 nearest map
  points (how much of the space's neighbourhoods the picture keeps);
- held-out listed: a track of a style the map was fitted without (each style held out in turn, then Wesnoth),
  placed with `TagMap.transform` — the mean fraction of its 5 listed neighbours among its 10 nearest map
  points; for UMAP also with umap-learn's own learned `transform` (same fitted model);
- own audio: 10 collection tracks' audio tagged anew and placed, the largest distance from the track's own
  point, as % of the map's extent (the tests require ≤ 1%);
- fit: the median of 3 fits of the whole map (space + projection), after one warm-up fit (the first UMAP fit
  in a process also compiles umap-learn's numba code: printed separately).

    python benchmarks/projections.py          # needs ../shared/weights; downloads the Debian packages once
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SHROOMS_WEIGHTS_DIR", str(ROOT.parent / "shared" / "weights"))

from benchmarks.taggers import machine  # noqa: E402
from shrooms.audio import load_audio  # noqa: E402
from shrooms.collections import folder_collection  # noqa: E402
from shrooms.maps import TagMap, fit_umap  # noqa: E402
from shrooms.precompute import precompute  # noqa: E402
from shrooms.store import Store  # noqa: E402
from shrooms.taggers import available_taggers  # noqa: E402
from tests.debian_music import STYLES, debian_collection, debian_ood  # noqa: E402
from tests.test_placement import cases  # noqa: E402

KEYS = ["fcn", "musicnn", "crnn"]
METHODS = ["tsne", "umap", "pca"]
OWN = list(range(0, 60, 6))  # 10 tracks, two per style


def extent(coords: np.ndarray) -> float:
    return float(np.ptp(coords, axis=0).max())


def neighbours_kept(rows: np.ndarray, coords: np.ndarray) -> float:
    """Mean fraction of each track's 5 nearest in the space among its 10 nearest map points (itself excluded)."""
    space = NearestNeighbors(n_neighbors=6).fit(rows).kneighbors(rows)[1][:, 1:]
    near = NearestNeighbors(n_neighbors=11).fit(coords).kneighbors(coords)[1][:, 1:]
    return float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(space, near)]))


def listed_among(tag_map: TagMap, held: np.ndarray, xy: np.ndarray) -> float:
    """Mean fraction of each placed row's 5 listed neighbours among its 10 nearest map points."""
    _, listed = tag_map.space_.kneighbors(held, 5)
    near = NearestNeighbors(n_neighbors=10).fit(tag_map.embedding_).kneighbors(xy)[1]
    return float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(listed, near)]))


def own_transform(tag_map: TagMap, rows: np.ndarray) -> np.ndarray:
    """umap-learn's own `transform` of `rows`, from the model `TagMap` fitted (same rows and seed: the same map)."""
    model = fit_umap(tag_map.rows_, tag_map.dims, tag_map.seed)
    assert np.array_equal(model.embedding_, tag_map.embedding_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.transform(tag_map.space_.transform(rows))


def fit_seconds(x: np.ndarray, method: str, dims: int) -> float:
    TagMap(method, dims).fit(x)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        TagMap(method, dims).fit(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(machine())
    root, _ = debian_collection(12, 30.0, STYLES)
    collection, held = folder_collection(root), folder_collection(debian_ood(clips=12))
    for coll in (collection, held):
        precompute(coll, KEYS, show_bar=False)
    start = time.perf_counter()
    TagMap("umap").fit(np.random.default_rng(0).normal(size=(20, 8)))
    print(f"first UMAP fit in this process (numba compilation): {time.perf_counter() - start:.1f} s")
    taggers, _ = available_taggers(KEYS)
    print(f"{'tagger':<8} {'method':<16} {'dims':>4} {'nbrs kept':>10} {'held-out listed':>16} {'own audio max %':>16} "
          f"{'fit s':>7}")
    for key in KEYS:
        base, new = Store(collection).load(key), Store(held).load(key)
        x, labels, wesnoth = base.embeddings, base.tracks["label"].to_numpy(str), new.embeddings
        fresh = np.stack([taggers[key].tag(load_audio(base.tracks["path"][i])).embedding for i in OWN])
        for method in METHODS:
            for dims in (2, 3):
                tag_map = TagMap(method, dims).fit(x)
                kept = neighbours_kept(tag_map.rows_, tag_map.embedding_)
                own = np.linalg.norm(tag_map.transform(fresh) - tag_map.embedding_[OWN], axis=1).max()
                listed = []
                for _, ref, out in cases(x, labels, wesnoth):
                    part = TagMap(method, dims).fit(ref)
                    listed.append(listed_among(part, out, part.transform(out)))
                seconds = fit_seconds(x, method, dims)
                name = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}[method]
                print(f"{key:<8} {name:<16} {dims:>4} {kept:>10.3f} {np.mean(listed):>16.3f} "
                      f"{100 * own / extent(tag_map.embedding_):>16.3f} {seconds:>7.2f}", flush=True)
                if method == "umap":
                    own_umap = np.linalg.norm(own_transform(tag_map, fresh) - tag_map.embedding_[OWN], axis=1).max()
                    listed = []
                    for _, ref, out in cases(x, labels, wesnoth):
                        part = TagMap(method, dims).fit(ref)
                        listed.append(listed_among(part, out, own_transform(part, out)))
                    print(f"{key:<8} {'UMAP transform':<16} {dims:>4} {'':>10} {np.mean(listed):>16.3f} "
                          f"{100 * own_umap / extent(tag_map.embedding_):>16.3f}", flush=True)


if __name__ == "__main__":
    main()
