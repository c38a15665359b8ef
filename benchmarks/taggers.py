"""Every tagger against the hardware's limit: throughput and achieved arithmetic on real music.

Per tagger (the three with released weights use them, the other four the synthetic state_dicts of
../shared/conformance, same arithmetic): real 30-s clips (../shared/conformance/clips), chunked as
shrooms chunks them and run through `Tagger.predict_chunks` together, as precompute runs a group of
tracks. Prints, as a markdown table, the median over --repeats of seconds of audio per second, achieved
GFLOP/s (FLOPs of one pass counted by torch.utils.flop_counter, times passes, over time; the variants of one
tagger timed in turns, so a change in load falls on all alike) and that as a
fraction of the same run's 2048² matmul peak (float32, and bfloat16 for the bf16 column), next to the
original implementation's throughput measured in the same run ("original": the network as the study's code
runs it — batch norms not folded, the checkpoint's subnormal values kept, contiguous memory, all a track's
chunks in one batch under `torch.no_grad`) and our ratio to it. (Issue #12's reference, a colleague's run
of the study's own code on the AMD EPYC, is kept in ORIGINAL_AMD for comparison.)

It first prints the CPU model and the instruction sets that matter (AVX-512, its BF16, AMX), and per
tagger the subnormal float32 values in its checkpoint and in the network as it ran before issue #19
(batch norms folded, not flushed). Where there are any, the float32 throughput is also measured with
those subnormals put back ("with subnormals"): what they cost on this CPU (Intel cores: a microcode
assist each; AMD ones: next to nothing).

    python benchmarks/taggers.py [--models all] [--precision float32,bf16] [--repeats 3] [--clips 4] [--batch N]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conformance_models import clips, conformance_tagger, manifest  # noqa: E402

from tests.conformance_models import synthetic_state_dict  # noqa: E402

from shrooms.audio import chunk  # noqa: E402
from shrooms.taggers import TAGGERS, Tagger, bf16_supported, find_weights  # noqa: E402
from shrooms.taggers.blocks import fold_batch_norms  # noqa: E402
from shrooms.taggers.inference import cpu_flags  # noqa: E402
from shrooms.taggers.subnormal import count_subnormal  # noqa: E402
from shrooms.taggers.weights import build_model, read_state_dict  # noqa: E402

# Seconds of audio per second of the original implementation (the study's code: all a track's chunks in
# one batch), measured side by side with shrooms on this machine, 4 real 30-s clips, 2 threads, quiet
# (issue #12's reference table; shrooms then: fcn 945, musicnn 160, crnn 537, sample 128, se 47.3,
# attention 102, hcnn 99).
ORIGINAL_AMD = {"fcn": 450, "musicnn": 126, "crnn": 299, "sample": 147, "se": 47.5, "attention": 94, "hcnn": 78}
# The flags of /proc/cpuinfo that decide how fast the taggers can run.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")
CLIPS = ("gtzan_country_00000", "ballroom_waltz", "hainsworth_001", "vocadito_1", "simac_rallou", "jtd_trio")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


def machine() -> str:
    """One line: the CPU model, its logical CPUs, which of ISA_FLAGS it has, and PyTorch's CPU capability."""
    return (f"CPU: {cpu_model()}; {os.cpu_count()} logical CPUs; instruction sets: "
            f"{', '.join(f for f in ISA_FLAGS if f in cpu_flags()) or 'none of ' + ', '.join(ISA_FLAGS)}; "
            f"PyTorch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")


def original_network(key: str, info: dict) -> tuple[int, torch.nn.Module]:
    """(subnormal values in the checkpoint, the network as the study's code runs it: batch norms as layers,
    subnormals kept, contiguous memory, eval mode)."""
    spec = TAGGERS[key]
    state = (read_state_dict(find_weights(spec)) if info["real_weights"]
             else synthetic_state_dict(info["synthetic_state_dict"]))
    return count_subnormal(state.values()), build_model(spec, state, key).eval()


def original_run(network: torch.nn.Module, tracks: list[np.ndarray], input_length: int):
    """A function running `network` as the original implementation runs it: each track's chunks in one
    batch, under torch.no_grad."""
    batches = [torch.from_numpy(chunk(t, input_length)) for t in tracks]

    def go() -> None:
        with torch.no_grad():
            for batch in batches:
                network(batch)

    return go


def with_subnormals(key: str, network: torch.nn.Module, batch: int | None) -> Tagger:
    """A fresh float32 tagger `key` running `network`'s weights, subnormals included."""
    tagger = Tagger(TAGGERS[key], copy.deepcopy(network), "cpu", batch_size=batch)
    tagger.model.load_state_dict(network.state_dict())  # Tagger flushed them: put them back
    return tagger


def median_seconds(run, repeats: int) -> float:
    """Median wall time of `run()` over `repeats` calls, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, repeats: int, n: int = 2048) -> float:
    """GFLOP/s of an n×n matrix product in `dtype`, median over `repeats`."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    with torch.inference_mode():
        seconds = median_seconds(lambda: [torch.mm(a, b) for _ in range(4)], repeats) / 4
    return 2 * n ** 3 / seconds / 1e9


def flops(tagger, chunks: np.ndarray) -> int:
    """FLOPs of one `predict_chunks` over `chunks`."""
    counter = FlopCounterMode(display=False)
    with counter:
        tagger.predict_chunks(chunks)
    return counter.get_total_flops()


def interleaved_seconds(runs: dict, repeats: int) -> dict:
    """{name: median wall time} of every `runs[name]()`, after one warm-up call each, the runs taking turns
    (a b c a b c …) so that a change in the machine's load falls on all of them alike."""
    times: dict = {name: [] for name in runs}
    for run in runs.values():
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--precision", default="float32,bf16", help="float32, bf16 or both, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clips", type=int, default=4, help="real 30-s clips to run (at most 4)")
    parser.add_argument("--batch", type=int, default=None, help="chunks per forward pass (default: the tagger's own)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cpu = machine()
    print(cpu, file=sys.stderr)
    ref = manifest()
    recordings = clips(ref)
    tracks = [recordings[name] for name in CLIPS[:min(args.clips, 4)]]
    audio_seconds = sum(len(t) for t in tracks) / 16000
    keys = list(TAGGERS) if args.models == "all" else args.models.split(",")
    precisions = [p for p in args.precision.split(",") if p != "bf16" or bf16_supported(torch.device("cpu"))]
    peaks = {"float32": matmul_peak(torch.float32, args.repeats)}
    if "bf16" in precisions:
        peaks["bf16"] = matmul_peak(torch.bfloat16, args.repeats)
    rows = []
    for key in keys:
        info = ref["models"][key]
        chunks = np.concatenate([chunk(t, TAGGERS[key].input_length) for t in tracks])
        in_checkpoint, original = original_network(key, info)
        network = fold_batch_norms(copy.deepcopy(original))  # as taggers ran it before issue #19
        row = {"key": key, "chunks": len(chunks),
               "subnormals": (in_checkpoint, count_subnormal([*network.parameters(), *network.buffers()]))}
        runs, work = {"original": original_run(original, tracks, TAGGERS[key].input_length)}, {}
        for precision in precisions:
            tagger = conformance_tagger(key, info, "cpu", precision, args.batch)
            row["batch"] = tagger.batch_size
            runs[precision] = lambda t=tagger: t.predict_chunks(chunks)
            work[precision] = flops(tagger, chunks)
        if row["subnormals"][1] and "float32" in precisions:
            slow = with_subnormals(key, network, args.batch)
            runs["with subnormals"] = lambda t=slow: t.predict_chunks(chunks)
            work["with subnormals"] = work["float32"]
        seconds = interleaved_seconds(runs, args.repeats)
        row["original"] = audio_seconds / seconds["original"]
        for name in work:
            row[name] = (audio_seconds / seconds[name], work[name] / seconds[name] / 1e9)
        rows.append(row)
        print(f"  {key} done", file=sys.stderr)
    peaks_now = {"float32": matmul_peak(torch.float32, args.repeats)}
    peak32 = statistics.median([peaks["float32"], peaks_now["float32"]])
    load = os.getloadavg()
    print(cpu)
    print(f"{len(tracks)} real 30-s clips ({audio_seconds:.0f} s of audio), {torch.get_num_threads()} threads, "
          f"median of {args.repeats}, the variants taking turns; load average {load[0]:.1f} (a shared machine: compare within this run)")
    print(f"2048² matmul peak: float32 {peak32:.0f} GFLOP/s (before/after {peaks['float32']:.0f}/{peaks_now['float32']:.0f})"
          + (f", bf16 {peaks['bf16']:.0f} GFLOP/s" if "bf16" in peaks else ""))
    print()
    head = ("| tagger | chunks | batch | subnormals: checkpoint / folded | original audio s/s (AMD reference) "
            "| float32 audio s/s "
            "| float32 / original | GFLOP/s | of fp32 peak | with subnormals audio s/s | flushed / with |")
    line = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if "bf16" in precisions:
        head += " bf16 audio s/s | bf16 / float32 | bf16 GFLOP/s | of bf16 peak |"
        line += "---:|---:|---:|---:|"
    print(head)
    print(line)
    for row in rows:
        speed, gflops = row["float32"]
        cells = [row["key"], row["chunks"], row["batch"], "{:,} / {:,}".format(*row["subnormals"]),
                 f"{row['original']:.1f} ({ORIGINAL_AMD[row['key']]})", f"{speed:.1f}",
                 f"{speed / row['original']:.2f}×", f"{gflops:.0f}",
                 f"{gflops / peak32:.2f}"]
        slow = row.get("with subnormals")
        cells += [f"{slow[0]:.1f}", f"{speed / slow[0]:.2f}×"] if slow else ["–", "–"]
        if "bf16" in precisions:
            bspeed, bgflops = row["bf16"]
            cells += [f"{bspeed:.1f}", f"{bspeed / speed:.2f}×", f"{bgflops:.0f}", f"{bgflops / peaks['bf16']:.2f}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
