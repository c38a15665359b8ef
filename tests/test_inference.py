"""Batching and dealing: a chunk's result never depends on its batch-mates, on how many chunks are run
together or on how many devices share the work."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shrooms.audio import chunk
from shrooms.taggers import MultiDeviceTagger, TAGGERS, Tagger, devices, load_tagger
from shrooms.taggers.weights import find_weights, load_model

from .conformance_models import clips, conformance_tagger, manifest


@pytest.fixture(scope="module")
def recordings() -> dict[str, np.ndarray]:
    return clips(manifest())


def test_chunk_is_bit_identical_whatever_its_batch_mates(recordings: dict) -> None:
    """Sample-level CNN runs 8 chunks per CPU pass: the same chunk alone, among other music, or in a
    padded last batch gives exactly the same bits."""
    tagger = conformance_tagger("sample", manifest()["models"]["sample"])
    assert tagger.batch_size > 1
    target = chunk(recordings["vocadito_1"], tagger.spec.input_length)[3:4]
    others = chunk(recordings["ballroom_waltz"], tagger.spec.input_length)
    alone_tags, alone_embs = tagger.predict_chunks(target)
    mixed = np.concatenate([others[:5], target, others[5:]])  # target is row 5 of 9: batch 0, last place
    tags, embs = tagger.predict_chunks(mixed)
    np.testing.assert_array_equal(tags[5], alone_tags[0])
    np.testing.assert_array_equal(embs[5], alone_embs[0])
    shifted = np.concatenate([others[:8], target])  # row 8: first of a padded batch
    tags, embs = tagger.predict_chunks(shifted)
    np.testing.assert_array_equal(embs[8], alone_embs[0])
    assert not np.array_equal(embs[0], embs[8])  # and the chunks really differ


def replica(device: str = "cpu", batch_size: int = 2) -> Tagger:
    spec = TAGGERS["musicnn"]
    model, digest = load_model(spec, find_weights(spec))
    return Tagger(spec, model, device, digest, batch_size=batch_size)


def test_multi_device_tagger_deals_batches_round_robin(recordings: dict) -> None:
    """Three replicas (CPU "devices") get batches 0,3,6 / 1,4 / 2,5 of 2 chunks and the reassembled
    results equal one tagger's, bit for bit, in the chunks' order."""
    replicas = [replica() for _ in range(3)]
    seen: list[list[int]] = [[] for _ in replicas]
    for k, r in enumerate(replicas):
        run = r.predict_batch
        r.predict_batch = lambda batch, run=run, k=k: (seen[k].append(int(batch[0, 1000] * 1e6)), run(batch))[1]
    length = TAGGERS["musicnn"].input_length
    chunks = np.concatenate([chunk(recordings[name], length) for name in ("gtzan_country_00000", "simac_rallou")])[:13]
    assert len(chunks) == 13
    chunks[:, 1000] = np.arange(len(chunks)) * 2e-6 + 2.5e-7  # mark each chunk: batch b starts with 4b
    multi = MultiDeviceTagger(replicas)
    tags, embs = multi.predict_chunks(chunks)
    assert seen == [[0, 12, 24], [4, 16], [8, 20]]
    one_tags, one_embs = replica().predict_chunks(chunks)
    np.testing.assert_array_equal(tags, one_tags)
    np.testing.assert_array_equal(embs, one_embs)
    assert tags.shape == (13, 50) and multi.devices == [torch.device("cpu")] * 3


def test_one_device_here_and_load_tagger_uses_it() -> None:
    """Without a GPU, devices() is the CPU alone and load_tagger gives a plain Tagger on it."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert devices() == [torch.device("cpu")]
    tagger = load_tagger("musicnn")
    assert isinstance(tagger, Tagger) and tagger.device == torch.device("cpu")
    assert tagger.precision == "float32"
