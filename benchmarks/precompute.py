"""Precompute throughput on a GTZAN-shaped collection of real music.

Builds (once, cached outside the repo) N clips of 30 s at 22,050 Hz mono 16-bit WAV in GTZAN's layout,
cut from Debian's real game/media music (asc-music, asterisk-moh-opsound-wav, pushover-data; clips of
one recording overlap when N asks for more than its length holds). Then, each in a fresh cache and a
fresh process: every available tagger alone on the first --per-model tracks, and all of them together on
all N tracks. Prints seconds of audio per wall-clock second and peak memory (max RSS). With --large M, also
runs the first tagger over M tracks (the N clips linked under M names) to show memory stays flat.

    python benchmarks/precompute.py [--tracks 1000] [--per-model 200] [--models fcn,musicnn,crnn] [--large 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import librosa
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.debian_music import CACHE, PACKAGES, sources  # noqa: E402  (shared real-music fetcher)

from shrooms.audio import resample  # noqa: E402


def build(n: int, seconds: float = 30.0) -> Path:
    """GTZAN-shaped folder of n real 30-s clips, spread evenly over the packages' recordings."""
    root = CACHE / "bench" / f"gtzan-like-{n}"
    if (root / ".complete").exists():
        return root
    files = [(label, f) for package, label in PACKAGES.items() for f in sources(package)]
    total = sum(sf.info(f).duration - seconds for _, f in files)
    stride = total / n
    count = {label: 0 for label in PACKAGES.values()}
    made = 0
    for label, f in files:
        info = sf.info(f)
        offset = 0.0
        while offset + seconds <= info.duration and made < n:
            x, sr = sf.read(f, start=int(offset * info.samplerate), frames=int(seconds * info.samplerate),
                            dtype="float32", always_2d=True)
            clip = resample(x.mean(axis=1), sr)  # 16 kHz, then to GTZAN's 22,050 Hz below
            out = librosa.resample(clip, orig_sr=16000, target_sr=22050)
            dest = root / "genres" / label / f"{label}.{count[label]:05d}.wav"
            dest.parent.mkdir(parents=True, exist_ok=True)
            sf.write(dest, out, 22050, subtype="PCM_16")
            count[label] += 1
            made += 1
            offset += stride
    (root / ".complete").touch()
    return root


def subset(root: Path, n: int) -> Path:
    """A GTZAN-shaped folder of n symlinks: the first n tracks (round-robin over labels), cycling through
    them again under new numbers when n exceeds the collection."""
    dest = Path(tempfile.mkdtemp(prefix=f"subset-{n}-"))
    tracks = sorted((root / "genres").glob("*/*.wav"), key=lambda p: (int(p.stem.split(".")[1]), p.parent.name))
    for i in range(n):
        p = tracks[i % len(tracks)]
        label = p.parent.name
        (dest / "genres" / label).mkdir(parents=True, exist_ok=True)
        (dest / "genres" / label / f"{label}.{i:05d}.wav").symlink_to(p)
    return dest


def run(collection: Path, models: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, summary line) of one precompute in a fresh cache and process."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SHROOMS_CACHE": cache}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "shrooms.cli", "precompute", "--collection", str(collection),
                                 "--models", models], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out = proc.stdout.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"precompute failed: {out}")
        return wall, usage.ru_maxrss / 1024, out.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--per-model", type=int, default=200)
    parser.add_argument("--models", default="fcn,musicnn,crnn")
    parser.add_argument("--large", type=int, default=0, help="also run the first model over this many tracks")
    args = parser.parse_args()
    root = build(args.tracks)
    print(f"collection: {args.tracks} real 30-s clips (22,050 Hz WAV) in {root}; {os.cpu_count()} cores")
    print(f"{'run':<28}{'tracks':>8}{'wall s':>10}{'audio s/s':>12}{'peak MiB':>10}")
    small = subset(root, args.per_model)
    for key in args.models.split(","):
        wall, rss, _ = run(small, key)
        print(f"{key + ' alone':<28}{args.per_model:>8}{wall:>10.1f}{args.per_model * 30 / wall:>12.0f}{rss:>10.0f}")
    wall, rss, _ = run(root, args.models)
    print(f"{'all together':<28}{args.tracks:>8}{wall:>10.1f}{args.tracks * 30 / wall:>12.0f}{rss:>10.0f}")
    wall_s, rss_s, _ = run(small, args.models)
    print(f"{'all together (subset)':<28}{args.per_model:>8}{wall_s:>10.1f}{args.per_model * 30 / wall_s:>12.0f}{rss_s:>10.0f}")
    print(f"peak memory {rss_s:.0f} MiB for {args.per_model} tracks vs {rss:.0f} MiB for {args.tracks}: "
          "audio is streamed, not held")
    if args.large:
        key = args.models.split(",")[0]
        wall, rss, _ = run(subset(root, args.large), key)
        print(f"{key + ' alone':<28}{args.large:>8}{wall:>10.1f}{args.large * 30 / wall:>12.0f}{rss:>10.0f}")


if __name__ == "__main__":
    main()
