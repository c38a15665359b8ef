"""Faithfulness: every model, every reference clip, within rtol=atol=1e-4 of the original implementation
(`../shared/conformance/README.md`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shrooms.taggers import TAGGERS

from .conformance_models import clips, conformance_tagger, manifest, reference_batch
from .conftest import CONFORMANCE


@pytest.fixture(scope="module")
def reference() -> dict:
    try:
        return manifest()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def recordings(reference: dict) -> dict[str, np.ndarray]:
    return clips(reference)


@pytest.mark.parametrize("key", list(TAGGERS))
def test_model_matches_original(key: str, reference: dict, recordings: dict) -> None:
    info = reference["models"][key]
    spec = TAGGERS[key]
    assert (spec.input_length, spec.embedding_dim) == (info["input_length"], info["embedding_dim"])
    assert list(spec.tags) == reference["tags"]
    tagger = conformance_tagger(key, info)
    batch = reference_batch(info, recordings)
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
