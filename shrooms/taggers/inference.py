"""Running a tagger on audio: batches of fixed-length chunks in, per-chunk tags and embeddings out,
pooled to the track (tags: mean of chunk sigmoids; embedding: mean of chunk embeddings)."""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..audio import chunk
from ..errors import WeightsUnavailable
from .blocks import fold_batch_norms
from .registry import TAGGERS, TaggerSpec, get_spec
from .weights import file_sha256, find_weights, load_model, missing_message

# Bump when the front ends or the way models run change numerically: cached results keyed on it are
# then recomputed. 2: batch norms folded into the convolutions they follow.
TAGGER_VERSION = "2"

# Samples per forward pass on a GPU. On the CPU one chunk per pass (batches of 2 to 8 measured at most
# 10% faster, some slower) and, like any fixed batch size, makes a chunk's result independent of which other chunks share its batch.
GPU_BATCH_SAMPLES = 8_000_000


# glibc hands every allocation over 32 MB to mmap and back on free, so each forward pass page-faults its
# large activations in anew (FCN's first layer alone: 44 MB per 29-s chunk). Raising both thresholds
# keeps freed memory for reuse: FCN and CRNN run about 1.5x faster on the CPU (benchmarks/precompute.py).
MALLOC_KEEP_BYTES = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed blocks of up to 1 GiB instead of unmapping them; False where
    the C library is not glibc."""
    if not sys.platform.startswith("linux"):
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


@dataclass
class TrackOutput:
    """One track through one tagger: pooled and per-chunk results."""

    tags: np.ndarray              # (50,) mean of chunk sigmoids
    embedding: np.ndarray         # (D,) mean of chunk embeddings
    chunk_tags: np.ndarray        # (n_chunks, 50)
    chunk_embeddings: np.ndarray  # (n_chunks, D)


class Tagger:
    """A loaded tagger on a device."""

    def __init__(self, spec: TaggerSpec, model: nn.Module, device: torch.device | None = None,
                 weights_sha256: str = "unknown"):
        self.spec = spec
        self.weights_sha256 = weights_sha256
        self.device = device or default_device()
        self.model = fold_batch_norms(model.eval()).to(self.device)
        if spec.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        on_gpu = self.device.type != "cpu"
        if not on_gpu:
            keep_freed_memory()
        self.batch_size = max(1, GPU_BATCH_SAMPLES // spec.input_length) if on_gpu else 1

    def predict_chunks(self, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, input_length) float32 → (tags (n, 50), embeddings (n, D)), in fixed-size batches (the last
        one zero-padded) so that results are the same whatever chunks are batched together."""
        n, size = len(chunks), self.batch_size
        padded = np.zeros((-(-n // size) * size, self.spec.input_length), np.float32)
        padded[:n] = chunks
        tags, embs = [], []
        with torch.inference_mode():
            for start in range(0, len(padded), size):
                t, e = self.model(torch.from_numpy(padded[start:start + size]).to(self.device))
                tags.append(t.float().cpu().numpy())
                embs.append(e.float().cpu().numpy())
        if not tags:
            return np.zeros((0, len(self.spec.tags)), np.float32), np.zeros((0, self.spec.embedding_dim), np.float32)
        return np.concatenate(tags)[:n], np.concatenate(embs)[:n]

    def tag(self, samples: np.ndarray) -> TrackOutput:
        """A whole 16-kHz mono track → pooled and per-chunk outputs."""
        chunk_tags, chunk_embs = self.predict_chunks(chunk(samples, self.spec.input_length))
        return pool(chunk_tags, chunk_embs)


def pool(chunk_tags: np.ndarray, chunk_embeddings: np.ndarray) -> TrackOutput:
    """Track-level results from chunk-level ones: the mean over chunks."""
    return TrackOutput(chunk_tags.mean(axis=0), chunk_embeddings.mean(axis=0), chunk_tags, chunk_embeddings)


def load_tagger(key: str, device: str | None = None) -> Tagger:
    """The tagger `key` with the weights found now (raises WeightsUnavailable); each weights file is
    loaded once per process."""
    spec = get_spec(key)
    path = find_weights(spec)
    if path is None:
        raise WeightsUnavailable(missing_message(spec))
    return cached_tagger(key, str(path), file_sha256(path), device)


@functools.lru_cache(maxsize=None)
def cached_tagger(key: str, path: str, sha256: str, device: str | None) -> Tagger:
    """One loaded tagger per weights file and content (a file replaced in place is loaded anew)."""
    spec = get_spec(key)
    model, digest = load_model(spec, Path(path))
    return Tagger(spec, model, torch.device(device) if device else None, digest)


def available_taggers(keys: list[str] | None = None) -> tuple[dict[str, Tagger], dict[str, str]]:
    """Load the taggers named (default: all): ({key: tagger}, {key: why it is unavailable})."""
    loaded, missing = {}, {}
    for key in keys or list(TAGGERS):
        try:
            loaded[key] = load_tagger(key)
        except WeightsUnavailable as exc:
            missing[key] = str(exc)
    return loaded, missing
