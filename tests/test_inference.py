"""Batching and dealing: a track's rows never depend on the tracks computed beside it, nor on how many
devices share the work."""

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


def test_a_tracks_rows_never_depend_on_the_tracks_computed_beside_it(recordings: dict) -> None:
    """The local engine's group of tracks (precompute.run_group) on the CPU: a track computed alone and
    among other tracks gives the same bits (each track's chunks are batched on their own: the
    sample-level CNN's 8-chunk batches moved a chunk by 6e-8 with other batch-mates), and the same chunks
    give the same bits on every run."""
    from shrooms.collections import Track
    from shrooms.precompute import ClaimedTrack, run_group
    tagger = conformance_tagger("sample", manifest()["models"]["sample"])
    assert tagger.batch_size > 1 and tagger.device.type == "cpu"

    def claimed(name: str) -> ClaimedTrack:
        return ClaimedTrack(Track(name, None, None), "mine", recordings[name], keys=["sample"])

    others = [name for name in recordings if name != "vocadito_1"][:2]
    alone = run_group([claimed("vocadito_1")], tagger)["vocadito_1"]
    beside = run_group([claimed(others[0]), claimed("vocadito_1"), claimed(others[1])], tagger)["vocadito_1"]
    for a, b in zip((alone.tags, alone.embedding, alone.chunk_tags, alone.chunk_embeddings),
                    (beside.tags, beside.embedding, beside.chunk_tags, beside.chunk_embeddings)):
        np.testing.assert_array_equal(a, b)
    again = tagger.predict_chunks(chunk(recordings["vocadito_1"], tagger.spec.input_length))
    np.testing.assert_array_equal(again[1], alone.chunk_embeddings)


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
