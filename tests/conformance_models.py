"""The seven taggers as the conformance fixtures define them: released weights for fcn, musicnn and crnn,
the fixtures' synthetic state_dicts for the other four (`../shared/conformance/README.md`). Shared by
tests/test_conformance.py, tests/test_precision.py and the benchmarks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from shrooms.taggers import TAGGERS, Tagger, find_weights, load_tagger
from shrooms.taggers.weights import build_model, load_model

from .conftest import CONFORMANCE, SHARED

# The released weights come with the fixtures (as tests/conftest.py sets for pytest; here for benchmarks).
os.environ.setdefault("SHROOMS_WEIGHTS_DIR", str(SHARED / "weights"))


def manifest(root: Path = CONFORMANCE) -> dict:
    """The fixtures' manifest.json; FileNotFoundError naming the folder when it is missing."""
    path = root / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no conformance fixtures at {root} (set SHROOMS_CONFORMANCE_DIR)")
    return json.loads(path.read_text())


def synthetic_value(k: int, shape: list[int], offset: float, scale: float) -> np.ndarray:
    """The README's splitmix-style generator: entry k of the state_dict, values offset + scale·u."""
    n = int(np.prod(shape))
    with np.errstate(over="ignore"):
        x = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(k)
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xFF51AFD7ED558CCD)
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xC4CEB9FE1A85EC53)
        x ^= x >> np.uint64(33)
    u = (x >> np.uint64(11)).astype(np.float64) / 2.0 ** 53 * 2 - 1
    return (offset + scale * u).astype(np.float32).reshape(shape)


def synthetic_state_dict(entries: list[dict], root: Path = CONFORMANCE) -> dict[str, torch.Tensor]:
    """The state_dict the manifest lists: generated entries and arrays read from the fixtures."""
    state = {}
    for k, entry in enumerate(entries):
        if "from" in entry:
            with np.load(root / entry["from"]) as npz:
                value = npz[entry["key"]]
        else:
            value = synthetic_value(k, entry["shape"], entry["offset"], entry["scale"])
        state[entry["key"]] = torch.from_numpy(np.asarray(value).reshape(entry["shape"]))
    return state


def conformance_tagger(key: str, info: dict, device: str = "cpu", precision: str = "float32",
                       batch_size: int | None = None) -> Tagger:
    """Tagger `key` on `device`: released weights where the manifest says so, else its synthetic ones;
    a fresh one when `batch_size` overrides the tagger's own."""
    spec = TAGGERS[key]
    if info["real_weights"] and batch_size is None:
        return load_tagger(key, device, precision=precision)
    if info["real_weights"]:
        model, digest = load_model(spec, find_weights(spec))
    else:
        model, digest = build_model(spec, synthetic_state_dict(info["synthetic_state_dict"]), "synthetic"), "synthetic"
    return Tagger(spec, model, torch.device(device), digest, precision, batch_size)


def clips(reference: dict, root: Path = CONFORMANCE) -> dict[str, np.ndarray]:
    """The six real 30-s, 16-kHz reference recordings by name, as float32 samples."""
    return {name: sf.read(root / clip["file"], dtype="float32")[0] for name, clip in reference["clips"].items()}


def reference_batch(info: dict, recordings: dict[str, np.ndarray]) -> np.ndarray:
    """The model's input batch as the manifest lists it: clip slices, or silence."""
    length = info["input_length"]
    return np.stack([np.zeros(length, np.float32) if c["clip"] is None
                     else recordings[c["clip"]][c["start"]:c["start"] + length] for c in info["chunks"]])
