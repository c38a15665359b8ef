"""Running a tagger on audio: batches of fixed-length chunks in, per-chunk tags and embeddings out,
pooled to the track (tags: mean of chunk sigmoids; embedding: mean of chunk embeddings)."""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..audio import chunk, chunk_starts, decode, samples_promised
from ..errors import AudioError, ShroomsError, WeightsUnavailable
from .blocks import fold_batch_norms
from .registry import TAGGERS, TaggerSpec, get_spec
from .subnormal import flush_subnormal
from .weights import file_sha256, find_weights, load_model, missing_message

# Bump when the front ends or the way models run change numerically: cached results keyed on it are
# then recomputed. 2: batch norms folded into the convolutions they follow. 3: 1-D convolutions run as
# channels-last 2-D ones; CPU batches of spec.cpu_batch chunks. 4: the sample-level CNNs back on plain 1-D convolutions.
# 5: Musicnn's CPU batch 10 chunks (batch-mates move a chunk's last bits).
TAGGER_VERSION = "5"

# Samples per forward pass on a GPU. On the CPU each tagger has its own measured batch (spec.cpu_batch).
# Fixed batch sizes (the last batch zero-padded) keep the shapes, and so the kernels, the same from run to run;
# a chunk's result can still depend on its batch-mates by a few ulp (6e-8 measured), so the engines batch
# each track's chunks on their own on the CPU (precompute.run_group).
GPU_BATCH_SAMPLES = 8_000_000

PRECISIONS = ("float32", "bf16")

# glibc hands every allocation over 32 MB to mmap and back on free, so each forward pass page-faults its
# large activations in anew (FCN's first layer alone: 44 MB per 29-s chunk). Raising both thresholds
# keeps freed memory for reuse: FCN and CRNN run about 1.5x faster on the CPU (benchmarks/precompute.py).
MALLOC_KEEP_BYTES = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed blocks of up to 1 GiB instead of unmapping them, once per process,
    when the first tagger is put on the CPU. It changes malloc for the whole process (a host application
    embedding shrooms may not want that): set SHROOMS_KEEP_FREED_MEMORY=0 to opt out, at the cost of the
    speed above. Returns whether it was applied (False where the C library is not glibc)."""
    if os.environ.get("SHROOMS_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, MALLOC_KEEP_BYTES) and libc.mallopt(m_trim_threshold, MALLOC_KEEP_BYTES))


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def devices() -> list[torch.device]:
    """Every GPU present (`cuda:0`, `cuda:1`, …), else the CPU alone."""
    if torch.cuda.is_available():
        return [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    return [torch.device("cpu")]


def decode_workers() -> int:
    """Decoding processes or threads that keep the devices fed: one per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), []))
    except OSError:
        return frozenset()


def bf16_supported(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 natively: a CUDA GPU that does, or a CPU with AVX-512 BF16
    or AMX and PyTorch built with oneDNN."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return (device.type == "cpu" and torch.backends.mkldnn.is_available()
            and bool(cpu_flags() & {"avx512_bf16", "amx_bf16"}))


def check_precision(precision: str, device: torch.device) -> str:
    """`precision` if it is known and `device` supports it, else a one-line ShroomsError."""
    if precision not in PRECISIONS:
        raise ShroomsError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "bf16" and not bf16_supported(device):
        raise ShroomsError(f"precision bf16 needs a GPU or CPU with native bfloat16 (AVX-512 BF16 or AMX); "
                           f"{device} has none: use --precision float32")
    return precision


@dataclass
class TrackOutput:
    """One track through one tagger: pooled and per-chunk results."""

    tags: np.ndarray              # (50,) mean of chunk sigmoids
    embedding: np.ndarray         # (D,) mean of chunk embeddings
    chunk_tags: np.ndarray        # (n_chunks, 50)
    chunk_embeddings: np.ndarray  # (n_chunks, D)


class Tagger:
    """A loaded tagger on one device, computing in `precision` ("float32", or "bf16": autocast to
    bfloat16 around the convolutions and matrix products; the front ends stay float32)."""

    def __init__(self, spec: TaggerSpec, model: nn.Module, device: torch.device | str | None = None,
                 weights_sha256: str = "unknown", precision: str = "float32", batch_size: int | None = None):
        self.spec = spec
        self.weights_sha256 = weights_sha256
        self.device = torch.device(device) if device else default_device()
        self.precision = check_precision(precision, self.device)
        # Subnormal weights cost Intel CPUs a microcode assist per use (Musicnn 65x slower, issue #19) and change
        # no output: set to zero once folding, which can make more of them, is done.
        self.model = flush_subnormal(fold_batch_norms(model.eval())).to(self.device)
        if spec.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        on_gpu = self.device.type != "cpu"
        if not on_gpu:
            keep_freed_memory()
        self.batch_size = batch_size or (max(1, GPU_BATCH_SAMPLES // spec.input_length) if on_gpu else spec.cpu_batch)

    def predict_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass: (batch_size, input_length) float32 → (tags (B, 50), embeddings (B, D))."""
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16,
                                                    enabled=self.precision == "bf16"):
            tags, embs = self.model(torch.from_numpy(batch).to(self.device))
        return tags.float().cpu().numpy(), embs.float().cpu().numpy()

    def predict_chunks(self, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, input_length) float32 → (tags (n, 50), embeddings (n, D)), in fixed-size batches (the last
        one zero-padded): the same chunks give the same bits on every run, but a chunk among other
        batch-mates can differ by a few ulp (the sample-level CNNs: 6e-8), so callers batch one track at a
        time where rows must not depend on what is computed beside them."""
        return predict_in_batches(self.spec, chunks, self.batch_size, [self.predict_batch])

    def tag(self, samples: np.ndarray) -> TrackOutput:
        """A whole 16-kHz mono track → pooled and per-chunk outputs."""
        chunk_tags, chunk_embs = self.predict_chunks(chunk(samples, self.spec.input_length))
        return pool(chunk_tags, chunk_embs)


class MultiDeviceTagger:
    """Replicas of one tagger on several devices (e.g. every GPU), with Tagger's API: `predict_chunks`
    deals fixed-size batches round-robin to the replicas, each driven by its own thread, so a chunk's
    result does not depend on how many devices there are or which one computed it."""

    def __init__(self, replicas: list[Tagger]):
        if not replicas:
            raise ValueError("MultiDeviceTagger needs at least one replica")
        first = replicas[0]
        if any((r.spec, r.precision, r.batch_size) != (first.spec, first.precision, first.batch_size) for r in replicas):
            raise ValueError("replicas must share tagger, precision and batch size")
        self.replicas = replicas
        self.spec, self.weights_sha256 = first.spec, first.weights_sha256
        self.precision, self.batch_size = first.precision, first.batch_size
        self.device = first.device
        self.workers = ThreadPoolExecutor(max_workers=len(replicas), thread_name_prefix=f"shrooms-{self.spec.key}")

    @property
    def devices(self) -> list[torch.device]:
        return [r.device for r in self.replicas]

    def predict_chunks(self, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As Tagger.predict_chunks, on all replicas at once."""
        return predict_in_batches(self.spec, chunks, self.batch_size, [r.predict_batch for r in self.replicas],
                                  self.workers)

    def tag(self, samples: np.ndarray) -> TrackOutput:
        """A whole 16-kHz mono track → pooled and per-chunk outputs."""
        chunk_tags, chunk_embs = self.predict_chunks(chunk(samples, self.spec.input_length))
        return pool(chunk_tags, chunk_embs)


Runner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def predict_in_batches(spec: TaggerSpec, chunks: np.ndarray, size: int, runners: list[Runner],
                       workers: ThreadPoolExecutor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n, input_length) chunks, zero-padded to whole batches of `size`, batch i run by
    runners[i % len(runners)] (each runner's batches in order, in `workers` when there are several)
    → (tags (n, 50), embeddings (n, D)) in the chunks' order."""
    n = len(chunks)
    if n == 0:
        return np.zeros((0, len(spec.tags)), np.float32), np.zeros((0, spec.embedding_dim), np.float32)
    padded = np.zeros((-(-n // size) * size, spec.input_length), np.float32)
    padded[:n] = chunks
    batches = [padded[start:start + size] for start in range(0, len(padded), size)]

    def run(k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [runners[k](b) for b in batches[k::len(runners)]]

    if len(runners) == 1 or workers is None:
        per_runner = [run(k) for k in range(len(runners))]
    else:
        per_runner = list(workers.map(run, range(len(runners))))
    ordered = [per_runner[i % len(runners)][i // len(runners)] for i in range(len(batches))]
    return np.concatenate([t for t, _ in ordered])[:n], np.concatenate([e for _, e in ordered])[:n]


def pool(chunk_tags: np.ndarray, chunk_embeddings: np.ndarray) -> TrackOutput:
    """Track-level results from chunk-level ones: the mean over chunks."""
    return TrackOutput(chunk_tags.mean(axis=0), chunk_embeddings.mean(axis=0), chunk_tags, chunk_embeddings)


class ChunkStream:
    """One tagger's windows of a track that arrives in pieces (`decode(..., sink=)`): the windows `chunk`
    cuts from the whole track of `n_samples` samples, bit for bit, each cut as soon as its samples are
    in and run through the tagger in its fixed-size batches as they fill. Only the samples of windows not
    yet cut (about one window), one batch and the per-chunk outputs are kept: memory does not grow with
    the track's length, and the outputs equal `tagger.tag(whole track)`."""

    def __init__(self, tagger: Tagger | MultiDeviceTagger, n_samples: int):
        self.tagger, self.n, self.length = tagger, n_samples, tagger.spec.input_length
        self.starts = chunk_starts(n_samples, self.length)
        self.per_call = tagger.batch_size * len(getattr(tagger, "replicas", [tagger]))  # whole batches
        self.buffer = np.zeros(2 * self.length, np.float32)  # samples lo … hi of the track
        self.lo = self.hi = self.cut = 0
        self.windows: list[np.ndarray] = []
        self.tags: list[np.ndarray] = []
        self.embs: list[np.ndarray] = []

    def __call__(self, piece: np.ndarray) -> None:
        """Take the next samples of the track (samples past `n_samples`, a resampler's tail, are dropped)."""
        piece = piece[:max(0, self.n - self.hi)]
        if self.hi + len(piece) - self.lo > len(self.buffer):
            keep = self.starts[self.cut] if self.cut < len(self.starts) else self.hi  # first sample still needed
            keep = min(max(keep, self.lo), self.hi)
            self.buffer[:self.hi - keep] = self.buffer[keep - self.lo:self.hi - self.lo]
            self.lo = keep
            if self.hi + len(piece) - self.lo > len(self.buffer):
                self.buffer = np.concatenate([self.buffer[:self.hi - self.lo],
                                              np.zeros(self.hi + len(piece) - self.lo, np.float32)])
        self.buffer[self.hi - self.lo:self.hi - self.lo + len(piece)] = piece
        self.hi += len(piece)
        while self.cut < len(self.starts) and self.starts[self.cut] + self.length <= self.hi:
            start = self.starts[self.cut] - self.lo
            self._add(self.buffer[start:start + self.length].copy())

    def _add(self, window: np.ndarray) -> None:
        self.windows.append(window)
        self.cut += 1
        if len(self.windows) == self.per_call:
            self._run()

    def _run(self) -> None:
        if self.windows:
            tags, embs = self.tagger.predict_chunks(np.stack(self.windows))
            self.tags.append(tags)
            self.embs.append(embs)
            self.windows = []

    def finish(self) -> TrackOutput:
        """The pooled and per-chunk outputs, once all `n_samples` samples came in."""
        if self.hi != self.n:
            raise ValueError(f"ChunkStream got {self.hi} of {self.n} samples")
        if self.cut == 0 and self.n < self.length:  # a short track: one window, zero-padded at the end
            window = np.zeros(self.length, np.float32)
            window[:self.n] = self.buffer[:self.n]
            self._add(window)
        self._run()
        return pool(np.concatenate(self.tags), np.concatenate(self.embs))


def tag_file(source: str | Path, taggers: dict[str, Tagger | MultiDeviceTagger], name: str | None = None,
             ) -> tuple[dict[str, TrackOutput], tuple[str, ...]]:
    """Tag an audio file with every tagger in one streaming decode: ({key: output}, decoding warnings).

    The file is decoded block by block and each tagger's windows are cut and run as the samples arrive
    (`ChunkStream`), so peak memory does not depend on the track's length (a 10-hour file tags in the
    memory of a 10-minute one); outputs equal `tagger.tag(decode(source).samples)`. The windows depend
    on the track's length: it is taken from the header where that is exact, else (MPEG, or a header that
    promised other than the file holds) counted by a first decode. Raises AudioError as `decode` does.
    """
    n = samples_promised(source)
    for _ in range(3):
        streams = {key: ChunkStream(tagger, n) for key, tagger in taggers.items()} if n is not None else {}
        decoded = decode(source, name, sink=lambda piece: [s(piece) for s in streams.values()])
        if decoded.n_samples == n:
            return {key: s.finish() for key, s in streams.items()}, decoded.warnings
        n = decoded.n_samples  # now known: decode again, cutting the right windows
    raise AudioError(f"{name or source}: the file changed while it was read")


def default_precision() -> str:
    """The precision taggers load in unless told otherwise: $SHROOMS_PRECISION, else float32."""
    return os.environ.get("SHROOMS_PRECISION") or "float32"


def load_tagger(key: str, device: str | None = None, precision: str | None = None) -> Tagger | MultiDeviceTagger:
    """The tagger `key` with the weights found now (raises WeightsUnavailable), in `precision` (default:
    `default_precision()`), on `device`, or, when none is named, on every device `devices()` lists (one
    Tagger, or a MultiDeviceTagger over several GPUs). Each weights file is loaded once per process."""
    spec = get_spec(key)
    precision = precision or default_precision()
    path = find_weights(spec)
    if path is None:
        raise WeightsUnavailable(missing_message(spec))
    sha256 = file_sha256(path)
    if device is None and len(devices()) > 1:
        return MultiDeviceTagger([cached_tagger(key, str(path), sha256, str(d), precision) for d in devices()])
    return cached_tagger(key, str(path), sha256, device, precision)


@functools.lru_cache(maxsize=None)
def cached_tagger(key: str, path: str, sha256: str, device: str | None, precision: str) -> Tagger:
    """One loaded tagger per weights file and content (a file replaced in place is loaded anew), device
    and precision."""
    spec = get_spec(key)
    check_precision(precision, torch.device(device) if device else default_device())
    model, digest = load_model(spec, Path(path))
    return Tagger(spec, model, device, digest, precision)


def available_taggers(keys: list[str] | None = None, precision: str | None = None
                      ) -> tuple[dict[str, Tagger | MultiDeviceTagger], dict[str, str]]:
    """Load the taggers named (default: all): ({key: tagger}, {key: why it is unavailable}). A tagger
    without weights, or whose checkpoint does not load (corrupt, wrong sha256, does not fit), is
    unavailable on its own: the others are still loaded."""
    loaded, missing = {}, {}
    for key in keys or list(TAGGERS):
        try:
            loaded[key] = load_tagger(key, precision=precision)
        except ShroomsError as exc:  # WeightsUnavailable, or bad weights
            missing[key] = str(exc)
    return loaded, missing
