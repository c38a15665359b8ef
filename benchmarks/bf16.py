"""bf16 against float32: fidelity and speed of every tagger on real music.

For each tagger (released weights for fcn, musicnn and crnn; the conformance fixtures' synthetic weights
for the other four, whose scores then mean little but whose numerical drift does) it tags a real
labelled collection twice, in float32 and in bf16: Debian's freely licensed music, one label per package
(tests/debian_music.py; 30-s clips), plus the six conformance recordings. Prints per tagger: the largest
|tag difference| over all chunks, the cosine similarity of chunk embeddings (min and median), the
clustering scores of both (Hungarian accuracy of k-means, NMI, leave-one-out kNN accuracy; mean ± std over
seeds, as `shrooms report` computes them) and the throughput of both, measured in the same run.

    python benchmarks/bf16.py [--models fcn,musicnn,crnn] [--per-label 12] [--seeds 5]
    python benchmarks/bf16.py --per-label 0   # fidelity and speed on the six conformance recordings alone
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.taggers import machine  # noqa: E402
from tests.conformance_models import clips, conformance_tagger, manifest  # noqa: E402
from tests.debian_music import debian_collection  # noqa: E402

from shrooms.analysis import cluster_scores, knn_accuracy, preprocessed  # noqa: E402
from shrooms.audio import load_audio  # noqa: E402
from shrooms.taggers import TAGGERS, bf16_supported  # noqa: E402


def run(tagger, tracks: list[np.ndarray]) -> tuple[list, float]:
    """Every track's TrackOutput and the seconds it took."""
    start = time.perf_counter()
    outs = [tagger.tag(x) for x in tracks]
    return outs, time.perf_counter() - start


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, D) arrays."""
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def scores(embeddings: np.ndarray, y: np.ndarray, seeds: tuple[int, ...]) -> str:
    x = preprocessed(embeddings)
    s = cluster_scores(x, y, len(np.unique(y)), seeds)
    return (f"{s['hungarian_kmeans'].mean:.3f} ± {s['hungarian_kmeans'].std:.3f} | {s['nmi'].mean:.3f} ± "
            f"{s['nmi'].std:.3f} | {knn_accuracy(x, y):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--per-label", type=int, default=12,
                        help="Debian clips per label (0: the six conformance recordings alone, no clustering scores)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not bf16_supported(torch.device("cpu")):
        raise SystemExit("this CPU has no native bfloat16 (AVX-512 BF16 or AMX): nothing to compare")
    torch.set_num_threads(args.threads)
    ref = manifest()
    files = sorted(debian_collection(args.per_label)[0].glob("*/*.flac")) if args.per_label else []
    labelled = [load_audio(f) for f in files]
    y = np.array([f.parent.name for f in files])
    tracks = labelled + list(clips(ref).values())
    audio = sum(len(x) for x in tracks) / 16000
    keys = list(TAGGERS) if args.models == "all" else args.models.split(",")
    seeds = tuple(range(args.seeds))
    print(machine())
    print(f"{len(labelled)} labelled Debian clips ({len(set(y))} labels) + 6 conformance recordings, "
          f"{audio:.0f} s of real music; {args.threads} threads; load average {os.getloadavg()[0]:.1f} "
          "(a shared machine: compare within a row)")
    print()
    print("| tagger | max abs tag diff | emb. cosine min / median | Hung. k-means fp32 | bf16 | NMI fp32 | bf16 "
          "| kNN fp32 | bf16 | fp32 audio s/s | bf16 audio s/s | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        info = ref["models"][key]
        outs = {}
        for precision in ("float32", "bf16"):
            outs[precision] = run(conformance_tagger(key, info, "cpu", precision, batch_size=None), tracks)
        (f32, t32), (b16, tb16) = outs["float32"], outs["bf16"]
        tag_diff = max(float(np.abs(a.chunk_tags - b.chunk_tags).max()) for a, b in zip(f32, b16))
        cos = np.concatenate([cosines(a.chunk_embeddings, b.chunk_embeddings) for a, b in zip(f32, b16)])
        n = len(labelled)
        s32 = scores(np.stack([o.embedding for o in f32[:n]]), y, seeds).split(" | ") if n else ["–"] * 3
        s16 = scores(np.stack([o.embedding for o in b16[:n]]), y, seeds).split(" | ") if n else ["–"] * 3
        weights = "" if info["real_weights"] else " (synthetic weights)"
        print(f"| {key}{weights} | {tag_diff:.4f} | {cos.min():.4f} / {np.median(cos):.5f} | {s32[0]} | {s16[0]} | "
              f"{s32[1]} | {s16[1]} | {s32[2]} | {s16[2]} | {audio / t32:.1f} | {audio / tb16:.1f} | {t32 / tb16:.2f}× |",
              flush=True)


if __name__ == "__main__":
    main()
