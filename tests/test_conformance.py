"""Faithfulness: every model, every reference clip, within rtol=atol=1e-4 of the original implementation
(`../shared/conformance/README.md`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from shrooms.taggers import TAGGERS, Tagger, load_tagger
from shrooms.taggers.weights import build_model

from .conftest import CONFORMANCE


def manifest() -> dict:
    path = CONFORMANCE / "manifest.json"
    if not path.is_file():
        pytest.fail(f"no conformance fixtures at {CONFORMANCE} (set SHROOMS_CONFORMANCE_DIR)")
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


def synthetic_state_dict(entries: list[dict]) -> dict[str, torch.Tensor]:
    state = {}
    for k, entry in enumerate(entries):
        if "from" in entry:
            with np.load(CONFORMANCE / entry["from"]) as npz:
                value = npz[entry["key"]]
        else:
            value = synthetic_value(k, entry["shape"], entry["offset"], entry["scale"])
        state[entry["key"]] = torch.from_numpy(np.asarray(value).reshape(entry["shape"]))
    return state


def reference_batch(info: dict, clips: dict) -> np.ndarray:
    """The model's input batch as the manifest lists it: clip slices, or silence."""
    length = info["input_length"]
    rows = []
    for c in info["chunks"]:
        if c["clip"] is None:
            rows.append(np.zeros(length, np.float32))
        else:
            samples, _ = sf.read(CONFORMANCE / clips[c["clip"]]["file"], dtype="float32")
            rows.append(samples[c["start"]:c["start"] + length])
    return np.stack(rows)


@pytest.fixture(scope="module")
def reference() -> dict:
    return manifest()


@pytest.mark.parametrize("key", list(TAGGERS))
def test_model_matches_original(key: str, reference: dict) -> None:
    info = reference["models"][key]
    spec = TAGGERS[key]
    assert (spec.input_length, spec.embedding_dim) == (info["input_length"], info["embedding_dim"])
    assert list(spec.tags) == reference["tags"]
    if info["real_weights"]:
        tagger = load_tagger(key, "cpu")
    else:
        model = build_model(spec, synthetic_state_dict(info["synthetic_state_dict"]), "synthetic")
        tagger = Tagger(spec, model, torch.device("cpu"))
    batch = reference_batch(info, reference["clips"])
    expected = np.load(CONFORMANCE / "expected" / f"{key}.npz")
    if "front_end_first_chunk" in expected:  # the raw-waveform models have no front end
        with torch.inference_mode():
            front = tagger.model.front_end_db(torch.from_numpy(batch[:1])).numpy()
        np.testing.assert_allclose(front, expected["front_end_first_chunk"], rtol=1e-4, atol=1e-3)
    tags, embeddings = tagger.predict_chunks(batch)
    rtol, atol = reference["rtol"], reference["atol"]
    np.testing.assert_allclose(tags, expected["tags"], rtol=rtol, atol=atol)
    np.testing.assert_allclose(embeddings, expected["embedding"], rtol=rtol, atol=atol)
    top3 = [spec.tags[i] for i in np.argsort(-tags[0])[:3]]
    assert top3 == info["top3_first_chunk"]


def test_fixtures_are_present(reference: dict) -> None:
    """The conformance run must not pass vacuously: all seven models and their clips are there."""
    assert set(reference["models"]) == set(TAGGERS)
    for key in TAGGERS:
        assert (CONFORMANCE / "expected" / f"{key}.npz").is_file()
        assert len(reference["models"][key]["chunks"]) >= 5
