"""Which way of running bfloat16 is fastest on this CPU, per tagger (issue #19 item 3).

For every tagger (released weights for fcn, musicnn and crnn, the conformance fixtures' synthetic ones for
the other four: same arithmetic) on the real 30-s conformance clips, chunked as shrooms chunks them, it
measures seconds of audio per second, median of --repeats in one run (the variants taking turns), for:

- float32 as shrooms runs it (the reference of every ratio);
- bf16 by `torch.autocast` (what `--precision bf16` does), in the tagger's memory format, and with the
  other one (channels-last on ↔ off);
- bf16 by casting the network's weights to bfloat16 (front end kept in float32, its output cast);
- each of those at CPU batch sizes 1, 4, 8 and 16 chunks per forward pass (--batches);

and, per variant, the largest |tag difference| from float32, so a faster path that costs fidelity shows
it (shrooms' limits: tags ≤ 0.05). It prints the CPU model, instruction sets and the same run's 2048²
matmul peaks, and each variant's achieved GFLOP/s as a fraction of the bf16 peak.

    python benchmarks/bf16_paths.py [--models all] [--batches 1,4,8,16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.taggers import CLIPS, interleaved_seconds, machine, matmul_peak  # noqa: E402
from tests.conformance_models import clips, conformance_tagger, manifest  # noqa: E402

from shrooms.audio import chunk  # noqa: E402
from shrooms.taggers import TAGGERS, bf16_supported  # noqa: E402
from shrooms.taggers.frontends import HarmonicSTFT, MelSpectrogram  # noqa: E402
from shrooms.taggers.inference import predict_in_batches  # noqa: E402

FRONT_ENDS = (MelSpectrogram, HarmonicSTFT)


def cast_network(model: nn.Module) -> nn.Module:
    """A copy of `model` with bfloat16 weights, except its front end (mel or harmonic spectrogram) and its
    recurrent layers, kept in float32; every layer with weights gets its inputs in its weights' dtype."""
    net = copy.deepcopy(model).to(torch.bfloat16)
    for module in net.modules():
        if isinstance(module, FRONT_ENDS + (nn.RNNBase,)):
            module.float()
    for module in net.modules():
        own = next(module.parameters(recurse=False), None)
        if own is not None:
            module.register_forward_pre_hook(
                lambda _m, args, dtype=own.dtype: tuple(a.to(dtype) if torch.is_tensor(a) and a.is_floating_point()
                                                        else a for a in args))
    for front in (m for m in net.modules() if isinstance(m, FRONT_ENDS)):
        front.register_forward_pre_hook(lambda _m, args: tuple(a.float() for a in args))
    return net


def runner(network: nn.Module, autocast: bool):
    """A predict_batch for `network` on the CPU: bf16 by autocast, or as cast."""

    def run(batch: np.ndarray):
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            tags, embs = network(torch.from_numpy(batch))
        return tags.float().numpy(), embs.float().numpy()

    return run


def passes(key: str, run, chunks: np.ndarray, batch: int):
    """A function running `run` over `chunks` at `batch` chunks per pass, and (tags, FLOPs) of one go."""
    spec = TAGGERS[key]
    go = lambda: predict_in_batches(spec, chunks, batch, [run])  # noqa: E731
    counter = FlopCounterMode(display=False)
    with counter:
        tags, _ = go()
    return go, tags, counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--batches", default="1,4,8,16")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clips", type=int, default=2, help="real 30-s clips (at most 4)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cpu = machine()
    print(cpu, file=sys.stderr)
    if not bf16_supported(torch.device("cpu")):
        sys.exit(f"this CPU has no native bfloat16 (AVX-512 BF16 or AMX): nothing to measure ({cpu})")
    ref = manifest()
    recordings = clips(ref)
    tracks = [recordings[name] for name in CLIPS[:min(args.clips, 4)]]
    audio_seconds = sum(len(t) for t in tracks) / 16000
    keys = list(TAGGERS) if args.models == "all" else args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    peak16 = matmul_peak(torch.bfloat16, args.repeats)
    peak32 = matmul_peak(torch.float32, args.repeats)
    results = []
    for key in keys:
        spec = TAGGERS[key]
        chunks = np.concatenate([chunk(t, spec.input_length) for t in tracks])
        tagger = conformance_tagger(key, ref["models"][key])
        other = copy.deepcopy(tagger.model)
        if spec.channels_last:
            other = other.to(memory_format=torch.contiguous_format)
        else:
            other = other.to(memory_format=torch.channels_last)
        fp32 = runner(tagger.model, autocast=False)
        go32, base_tags, _ = passes(key, fp32, chunks, tagger.batch_size)
        own = "channels-last" if spec.channels_last else "contiguous"
        flip = "contiguous" if spec.channels_last else "channels-last"
        variants = {f"autocast, {own}": runner(tagger.model, True),
                    f"autocast, {flip}": runner(other, True),
                    f"cast weights, {own}": runner(cast_network(tagger.model), False)}
        runs, facts = {"float32": go32}, {}
        for name, run in variants.items():
            for batch in batches:
                go, tags, work = passes(key, run, chunks, batch)
                runs[(name, batch)] = go
                facts[(name, batch)] = (work, float(np.abs(tags - base_tags).max()))
        seconds = interleaved_seconds(runs, args.repeats)
        f32_speed = audio_seconds / seconds["float32"]
        for (name, batch), (work, diff) in facts.items():
            t = seconds[(name, batch)]
            results.append((key, tagger.batch_size, f32_speed, name, batch, audio_seconds / t, work / t / 1e9, diff))
        print(f"  {key} done", file=sys.stderr)
    load = os.getloadavg()
    print(cpu)
    print(f"{len(tracks)} real 30-s clips ({audio_seconds:.0f} s of audio), {torch.get_num_threads()} threads, "
          f"median of {args.repeats}; load average {load[0]:.1f} (a shared machine: compare within this run)")
    print(f"2048² matmul peak: float32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")
    print()
    print("| tagger | float32 audio s/s (own batch) | bf16 path | batch | audio s/s | / float32 | GFLOP/s "
          "| of bf16 peak | max tag diff |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for key, own_batch, f32, name, batch, speed, gflops, diff in results:
        print(f"| {key} | {f32:.1f} ({own_batch}) | {name} | {batch} | {speed:.1f} | {speed / f32:.2f}× "
              f"| {gflops:.0f} | {gflops / peak16:.2f} | {diff:.4f} |")
    print()
    print("Best bf16 path per tagger (within the fidelity limit, tags ≤ 0.05):")
    for key in keys:
        rows = [r for r in results if r[0] == key and r[7] <= 0.05]
        if rows:
            best = max(rows, key=lambda r: r[5])
            print(f"  {key}: {best[3]}, batch {best[4]}: {best[5]:.1f} audio s/s, {best[5] / best[2]:.2f}× float32, "
                  f"{best[6] / peak16:.2f} of the bf16 peak")


if __name__ == "__main__":
    main()
