"""Peak memory of decoding and tagging a long file: streaming decode vs the old one, and tagging the whole
decoded track vs streaming it through the tagger (`tag_file`, what `shrooms tag` does).

Builds (in a temp folder, never in the repo) a 60-min 44.1-kHz stereo file by concatenating the shared
real recordings (../shared/data/formats, the GTZAN sample and the conformance clips, each resampled to
44.1 kHz and repeated in turn), written block by block as MP3 (default), FLAC or WAV; or, with
`--silent`, a silent 44.1-kHz mono 16-bit WAV (the issue's case). Then, each in a fresh process: Python
+ the libraries alone; the old decode (whole file read as float32 frames × channels, averaged, resampled
in one shot); shrooms' streaming `decode`; decode + FCN tags of the whole track (`Tagger.tag`); and FCN
tags streamed (`tag_file`). Prints peak RSS (VmHWM of the child: ru_maxrss would carry over the parent's
peak across exec) and seconds. `--modes` picks some of none, old, new, tag, stream.

    python benchmarks/long_audio.py [--minutes 60] [--format mp3|flac|wav] [--silent] [--keep DIR] [--modes stream]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHROOMS_SHARED", ROOT.parent / "shared"))
RATE = 44100

CHILD = r"""
import json, sys, time
mode, path = sys.argv[1], sys.argv[2]
import numpy as np, soundfile as sf, librosa, soxr
from shrooms.audio import decode, resample
start = time.perf_counter()
n = 0
if mode == "old":
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    n = len(resample(data.mean(axis=1), sr))
elif mode in ("new", "tag"):
    samples = decode(path).samples
    n = len(samples)
    if mode == "tag":
        from shrooms.taggers import load_tagger
        out = load_tagger("fcn").tag(samples)
        n = len(out.chunk_tags)
elif mode == "stream":
    from shrooms.taggers import load_tagger
    from shrooms.taggers.inference import tag_file
    n = len(tag_file(path, {"fcn": load_tagger("fcn")})[0]["fcn"].chunk_tags)
seconds = time.perf_counter() - start
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(json.dumps({"peak_mib": int(hwm.split()[1]) / 1024, "seconds": seconds, "n": n}))
"""


def recordings() -> list[Path]:
    data = SHARED / "data"
    return sorted((data / "formats").iterdir()) + sorted((data / "gtzan-sample").rglob("*.wav")) + \
        sorted((SHARED / "conformance" / "clips").glob("*.flac"))


def build(dest: Path, minutes: float) -> Path:
    """`minutes` of real music, the shared recordings concatenated in turn, written as it is made."""
    import librosa
    pieces = []
    for f in recordings():
        x, sr = sf.read(f, dtype="float32", always_2d=True)
        x = np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x[:, :2]
        pieces.append(librosa.resample(x.T, orig_sr=sr, target_sr=RATE, res_type="soxr_hq").T.copy() if sr != RATE else x)
    need, i = int(minutes * 60 * RATE), 0
    with sf.SoundFile(dest, "w", RATE, 2, format={"mp3": "MP3", "flac": "FLAC", "wav": "WAV"}[dest.suffix[1:]],
                      subtype={"mp3": "MPEG_LAYER_III", "flac": "PCM_16", "wav": "PCM_16"}[dest.suffix[1:]]) as out:
        while need > 0:
            piece = pieces[i % len(pieces)][:need]
            out.write(piece)
            need -= len(piece)
            i += 1
    return dest


def build_silent(dest: Path, minutes: float) -> Path:
    """`minutes` of silence, 44.1-kHz mono 16-bit WAV, written a minute at a time."""
    with sf.SoundFile(dest, "w", RATE, 1, subtype="PCM_16") as out:
        left = int(minutes * 60 * RATE)
        while left > 0:
            out.write(np.zeros(min(left, 60 * RATE), np.int16))
            left -= 60 * RATE
    return dest


def measure(mode: str, path: Path) -> dict:
    env = {"SHROOMS_WEIGHTS_DIR": str(SHARED / "weights"), **os.environ,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--format", choices=("mp3", "flac", "wav"), default="mp3")
    parser.add_argument("--keep", type=Path, default=None, help="write the long file here and keep it")
    parser.add_argument("--silent", action="store_true", help="a silent 44.1-kHz mono WAV instead of music")
    parser.add_argument("--modes", default="none,old,new,tag,stream", help="comma-separated: which to measure")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (f"silent-{args.minutes:g}min.wav" if args.silent else f"long-{args.minutes:g}min.{args.format}")
        if not path.exists():
            start = time.perf_counter()
            build_silent(path, args.minutes) if args.silent else build(path, args.minutes)
            print(f"built {path.name}: {path.stat().st_size / 2**20:.0f} MiB, {sf.info(path).duration / 60:.1f} min "
                  f"44.1 kHz, in {time.perf_counter() - start:.0f} s")
        modes = args.modes.split(",")
        for mode, title in [("none", "python + libraries, no decoding"), ("old", "old decode (whole file at once)"),
                            ("new", "streaming decode"), ("tag", "streaming decode + FCN tags of the track"),
                            ("stream", "FCN tags streamed (tag_file)")]:
            if mode not in modes:
                continue
            r = measure(mode, path)
            if "error" in r:
                print(f"{title:<42} failed: {r['error']}")
            else:
                print(f"{title:<42} peak RSS {r['peak_mib']:7.0f} MiB   {r['seconds']:6.1f} s")


if __name__ == "__main__":
    main()
