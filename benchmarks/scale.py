"""Scale: 100,000 tracks, measured (not extrapolated).

Parts (all by default; pick with --parts):
- maps: openTSNE 2-D (FFT, all cores) and PCA maps of N points, fit time and peak memory (each in a fresh
  subprocess so the peaks are its own);
- neighbours: k-nearest-neighbour search of 1,000 queries against N tracks by cosine distance, brute force
  (NumPy matmul, and scikit-learn's NearestNeighbors) vs a faiss HNSW index when faiss is installed, with
  build time, query time and recall@10 against brute force;
- novelty: the baseline a placement's novelty is ranked against (every track's nearest other track), computed
  once per set of stored rows and then read from the cache;
- ray: the Ray engine's overhead against the local engine on the same real tracks (one machine, local
  2-CPU Ray cluster).

The N-point vectors are made from real embeddings: the 64-d FCN / 200-d Musicnn embeddings of real
recordings (../shared/conformance/clips, 6 clips × their chunks), each repeated with Gaussian jitter of
a tenth of the embedding's standard deviation up to N rows. That is the size and dimension of a real
100,000-track library, not its cluster structure: t-SNE time depends on n and the neighbourhood graph.

    python benchmarks/scale.py [--points 100000] [--parts maps,neighbours,novelty,ray]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIPS = ROOT.parent / "shared" / "conformance" / "clips"
os.environ.setdefault("SHROOMS_WEIGHTS_DIR", str(ROOT.parent / "shared" / "weights"))


def real_like(n: int, key: str = "musicnn", seed: int = 0) -> np.ndarray:
    """(n, D) float32: real chunk embeddings of the conformance clips, jittered up to n rows."""
    from shrooms.audio import load_audio
    from shrooms.taggers import load_tagger
    tagger = load_tagger(key)
    base = np.concatenate([tagger.tag(load_audio(p)).chunk_embeddings for p in sorted(CLIPS.glob("*.flac"))])
    rng = np.random.default_rng(seed)
    rows = base[rng.integers(0, len(base), n)]
    return (rows + rng.normal(0, 0.1, rows.shape) * base.std(axis=0)).astype(np.float32)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_one(method: str, n: int, key: str) -> None:
    """Child process: fit one map of n points, print {seconds, peak_mib} as JSON."""
    from shrooms.maps import TagMap
    x = real_like(n, key)
    before = peak_mib()
    start = time.perf_counter()
    TagMap(method=method, dims=2, seed=0).fit(x)
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_mib": peak_mib(), "before_mib": before}))


def part_maps(n: int) -> None:
    print(f"\n## Maps of {n:,} points (fresh process each; peak RSS of the whole process)\n")
    print("| map | embedding | fit s | peak memory |\n| --- | --- | --- | --- |")
    for key in ("fcn", "musicnn"):
        for method in ("pca", "tsne"):
            proc = subprocess.run([sys.executable, __file__, "--child-fit", method, "--points", str(n), "--key", key],
                                  capture_output=True, text=True)
            if proc.returncode:
                print(f"| {method} | {key} | failed: {proc.stderr.strip().splitlines()[-1]} | |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"| {'t-SNE 2-D (FFT, 2 threads)' if method == 'tsne' else 'PCA 2-D'} | {key} | "
                  f"{r['seconds']:.1f} | {r['peak_mib']:.0f} MiB |")


def part_neighbours(n: int, k: int = 10, queries: int = 1000) -> None:
    from sklearn.neighbors import NearestNeighbors
    print(f"\n## {k}-nearest neighbours of {queries:,} queries among {n:,} tracks (cosine)\n")
    print("| method | dim | build s | query s (all queries) | recall@10 |\n| --- | --- | --- | --- | --- |")
    for key in ("fcn", "musicnn"):
        x = real_like(n + queries, key, seed=1)
        base, q = x[:n], x[n:]
        unit = base / np.linalg.norm(base, axis=1, keepdims=True)
        qu = q / np.linalg.norm(q, axis=1, keepdims=True)
        start = time.perf_counter()
        sims = qu @ unit.T
        truth = np.argpartition(-sims, k, axis=1)[:, :k]
        brute = time.perf_counter() - start
        print(f"| NumPy brute force (matmul + argpartition) | {base.shape[1]} | 0 | {brute:.2f} | 1.000 |")
        start = time.perf_counter()
        index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(base)
        built = time.perf_counter() - start
        start = time.perf_counter()
        _, idx = index.kneighbors(q)
        print(f"| scikit-learn NearestNeighbors (brute) | {base.shape[1]} | {built:.2f} | "
              f"{time.perf_counter() - start:.2f} | {recall(idx, truth):.3f} |")
        try:
            import faiss
        except ImportError:
            print("| faiss HNSW | — | not installed (`pip install faiss-cpu`) | | |")
            continue
        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(base.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.add(np.ascontiguousarray(unit, np.float32))
        built = time.perf_counter() - start
        hnsw.hnsw.efSearch = 64
        start = time.perf_counter()
        _, idx = hnsw.search(np.ascontiguousarray(qu, np.float32), k)
        print(f"| faiss HNSW (M=32, efSearch=64) | {base.shape[1]} | {built:.2f} | "
              f"{time.perf_counter() - start:.2f} | {recall(idx, truth):.3f} |")


def part_novelty(n: int) -> None:
    """The novelty baseline a placement ranks against: every track's leave-one-out nearest distance
    (`shrooms.neighbours.loo_nearest_distances`, n queries among n), and reading it back from the cache."""
    import io

    from shrooms.neighbours import loo_nearest_distances
    print(f"\n## Novelty baseline of {n:,} tracks (each track's nearest other track, cosine)\n")
    print("| embedding | compute s (once per set of rows) | read back from cache/maps s |\n| --- | --- | --- |")
    for key in ("fcn", "musicnn"):
        x = real_like(n, key, seed=2)
        start = time.perf_counter()
        baseline = loo_nearest_distances(x)
        computed = time.perf_counter() - start
        buffer = io.BytesIO()
        np.save(buffer, baseline)
        start = time.perf_counter()
        np.load(io.BytesIO(buffer.getvalue()))
        print(f"| {key} ({x.shape[1]}-d) | {computed:.1f} | {time.perf_counter() - start:.4f} |")


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)]))


def part_ray(n: int, sizes: tuple[int, ...] = (4, 8), repeats: int = 2) -> None:
    """Local engine vs Ray engine on the same real tracks, one machine: the 36 real 30-s Debian clips of
    tests/debian_music.py, each linked under `sizes[i]` names (distinct tracks to the store) for each size,
    fcn + musicnn + crnn, `shrooms precompute` in a fresh process with a fresh cache, `repeats` times each,
    engines interleaved. Ray's wall time includes starting the local cluster. With two sizes, their
    difference gives each engine's cost per track once running (start-up cancels) and, from it, each
    engine's fixed start-up cost."""
    sys.path.insert(0, str(ROOT))
    from tests.debian_music import debian_collection
    source, _ = debian_collection(12)
    clips = sorted(source.rglob("*.flac"))
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for size in sizes:
            root = roots[size * len(clips)] = Path(tmp) / f"music-{size}"
            for clip in clips:
                for c in range(size):
                    dest = root / clip.parent.name / f"{clip.stem}-{c}.flac"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.symlink_to(clip)
        print(f"\n## Ray engine overhead: {' and '.join(map(str, roots))} tracks (30 s each), "
              "fcn + musicnn + crnn, one machine\n")
        print("| tracks | engine | wall s (each run) | median | s of audio / s |\n| --- | --- | --- | --- | --- |")
        walls: dict[tuple[int, str], float] = {}
        for n_tracks, root in roots.items():
            runs: dict[str, list[float]] = {"local": [], "ray": []}
            for r in range(repeats):
                for engine in runs:
                    cache = Path(tmp) / f"cache-{n_tracks}-{engine}-{r}"
                    start = time.perf_counter()
                    proc = subprocess.run([sys.executable, "-m", "shrooms.cli", "precompute", "--collection",
                                           str(root), "--models", "fcn,musicnn,crnn", "--engine", engine],
                                          env={**os.environ, "SHROOMS_CACHE": str(cache)}, capture_output=True,
                                          text=True)
                    if proc.returncode:
                        print(f"| {n_tracks} | {engine} | failed: {proc.stderr.strip().splitlines()[-1]} | | |")
                        return
                    runs[engine].append(time.perf_counter() - start)
            for engine, times in runs.items():
                walls[n_tracks, engine] = wall = float(np.median(times))
                print(f"| {n_tracks} | {engine} | {', '.join(f'{t:.1f}' for t in times)} | {wall:.1f} | "
                      f"{n_tracks * 30 / wall:.0f} |")
        print()
        if len(roots) != 2:
            print("- Ray / local, whole runs: " + ", ".join(f"{t} tracks {walls[t, 'ray'] / walls[t, 'local']:.2f}"
                                                       for t in roots))
            return
        small, large = roots
        per_track = {}
        for engine in ("local", "ray"):
            per_track[engine] = (walls[large, engine] - walls[small, engine]) / (large - small)
            fixed = walls[small, engine] - small * per_track[engine]
            print(f"- {engine}: {per_track[engine]:.3f} s per track once running, {fixed:.1f} s fixed (start-up)")
        print(f"- Ray / local, once running: {per_track['ray'] / per_track['local']:.2f}; whole runs: "
              + ", ".join(f"{t} tracks {walls[t, 'ray'] / walls[t, 'local']:.2f}" for t in roots))


PARTS = {"maps": part_maps, "neighbours": part_neighbours, "novelty": part_novelty, "ray": part_ray}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--child-fit", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--key", default="musicnn", help=argparse.SUPPRESS)
    parser.add_argument("--copies", default="4,8",
                        help="ray part: names per real clip, one run size each (default 4,8: 144 and 288 tracks)")
    parser.add_argument("--repeats", type=int, default=2, help="ray part: runs of each engine per size")
    args = parser.parse_args()
    if args.child_fit:
        fit_one(args.child_fit, args.points, args.key)
        return
    for part in args.parts.split(","):
        if part == "ray":
            part_ray(args.points, tuple(int(c) for c in args.copies.split(",")), args.repeats)
        else:
            PARTS[part](args.points)


if __name__ == "__main__":
    main()
