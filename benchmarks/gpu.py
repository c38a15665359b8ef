"""GPU throughput: every tagger on every GPU present (shrooms.taggers.devices()), fed fixed-size batches
round-robin by one MultiDeviceTagger, with the GPUs' utilisation sampled while it runs. Prints "no GPU on
this machine" and exits when there is none.

    python benchmarks/gpu.py [--models all] [--precision float32] [--seconds 600]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conformance_models import clips, conformance_tagger, manifest  # noqa: E402

from shrooms.audio import chunk  # noqa: E402
from shrooms.taggers import TAGGERS, MultiDeviceTagger, devices  # noqa: E402


def utilisation(gpu: int) -> float | None:
    """Percent of time the GPU was busy over the last sample period (torch.cuda.utilization, which needs
    pynvml, else nvidia-smi), or None when neither is available."""
    try:
        return float(torch.cuda.utilization(gpu))
    except Exception:  # pynvml missing or unsupported: ask nvidia-smi
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                  "-i", str(gpu)], capture_output=True, text=True, timeout=10)
            return float(out.stdout.strip())
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None


def sample_utilisation(gpus: int, stop: threading.Event, samples: list[list[float]]) -> None:
    while not stop.wait(0.5):
        for i in range(gpus):
            u = utilisation(i)
            if u is not None:
                samples[i].append(u)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--seconds", type=float, default=600.0, help="seconds of audio per tagger")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no GPU on this machine")
        return
    gpus = devices()
    print(f"{len(gpus)} GPU(s): " + ", ".join(torch.cuda.get_device_name(d) for d in gpus))
    ref = manifest()
    music = np.concatenate(list(clips(ref).values()))
    track = np.tile(music, int(np.ceil(args.seconds * 16000 / len(music))))[:int(args.seconds * 16000)]
    print("| tagger | batch | GPUs | audio s/s | mean utilisation % per GPU |")
    print("|---|---:|---:|---:|---|")
    for key in (list(TAGGERS) if args.models == "all" else args.models.split(",")):
        info = ref["models"][key]
        tagger = MultiDeviceTagger([conformance_tagger(key, info, str(d), args.precision, None) for d in gpus])
        chunks = chunk(track, TAGGERS[key].input_length)
        tagger.predict_chunks(chunks[:tagger.batch_size * len(gpus)])  # warm-up: kernels, allocator
        for d in gpus:
            torch.cuda.synchronize(d)
        samples: list[list[float]] = [[] for _ in gpus]
        stop = threading.Event()
        sampler = threading.Thread(target=sample_utilisation, args=(len(gpus), stop, samples))
        sampler.start()
        start = time.perf_counter()
        tagger.predict_chunks(chunks)
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        busy = ", ".join(f"{statistics.mean(s):.0f}" if s else "n/a" for s in samples)
        print(f"| {key} | {tagger.batch_size} | {len(gpus)} | {len(track) / 16000 / seconds:.0f} | {busy} |",
              flush=True)


if __name__ == "__main__":
    main()
