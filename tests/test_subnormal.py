"""Subnormal weights (issue #19): the released Musicnn and CRNN checkpoints hold tens of thousands, which
cost Intel CPUs a microcode assist per use. A loaded tagger holds none, and setting them to zero changes
no output: tags and embeddings on the conformance clips are bit-identical to those of the unflushed
weights, for all seven taggers. Activations do not go subnormal either, on silence, near-silence or
full-scale music (so no thread needs `torch.set_flush_denormal`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shrooms.audio import chunk
from shrooms.taggers import TAGGERS, Tagger, find_weights
from shrooms.taggers.blocks import fold_batch_norms
from shrooms.taggers.subnormal import count_subnormal, flush_subnormal, subnormal_mask
from shrooms.taggers.weights import build_model, read_state_dict

from .conformance_models import clips, conformance_tagger, manifest, reference_batch, synthetic_state_dict

SMALLEST_NORMAL = float(torch.finfo(torch.float32).tiny)  # 1.18e-38


@pytest.fixture(scope="module")
def reference() -> dict:
    return manifest()


@pytest.fixture(scope="module")
def recordings(reference: dict) -> dict[str, np.ndarray]:
    return clips(reference)


def with_subnormals(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` with every 61st value of each convolution and dense weight (2-D and more) replaced by a
    subnormal of the same sign, as the released checkpoints have them: the synthetic state_dicts of the
    four unreleased taggers have none of their own."""
    out = {}
    for key, value in state.items():
        if value.is_floating_point() and value.dim() >= 2:
            value = value.clone()
            flat = value.view(-1)
            picked = torch.arange(0, flat.numel(), 61)
            magnitudes = SMALLEST_NORMAL * (picked % 97 + 1).to(torch.float32) / 100  # 1 % … 97 % of it
            flat[picked] = torch.where(flat[picked] < 0, -magnitudes, magnitudes)
        out[key] = value
    return out


def checkpoint_state(key: str, info: dict) -> dict[str, torch.Tensor]:
    """The state_dict tagger `key` is loaded from: the released checkpoint, else the synthetic one with
    subnormals put in."""
    if info["real_weights"]:
        return read_state_dict(find_weights(TAGGERS[key]))
    return with_subnormals(synthetic_state_dict(info["synthetic_state_dict"]))


def tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    return [*model.parameters(), *model.buffers()]


def test_subnormal_mask_and_flush_on_known_values() -> None:
    """Zero, the smallest normal float32 and everything above stay; the values between do not."""
    values = [0.0, 1e-45, -1e-40, SMALLEST_NORMAL * 0.999, SMALLEST_NORMAL, -SMALLEST_NORMAL, 1e-30, 1.0]
    t = torch.tensor(values, dtype=torch.float32)
    assert subnormal_mask(t).tolist() == [False, True, True, True, False, False, False, False]
    layer = torch.nn.Linear(4, 2)
    with torch.no_grad():
        layer.weight.copy_(t.view(2, 4))
    assert count_subnormal(tensors(layer)) == 3
    assert flush_subnormal(layer) is layer and count_subnormal(tensors(layer)) == 0
    expected = torch.tensor([0.0, 0.0, 0.0, 0.0, SMALLEST_NORMAL, -SMALLEST_NORMAL, 1e-30, 1.0])
    assert torch.equal(layer.weight.view(-1), expected)
    assert count_subnormal([torch.arange(5)]) == 0  # integer tensors have none


@pytest.mark.parametrize("key", list(TAGGERS))
def test_loaded_tagger_holds_no_subnormal_and_flushing_changes_no_output(key: str, reference: dict,
                                                                         recordings: dict) -> None:
    """The checkpoint (released, or synthetic with subnormals put in) loads into a tagger without a single
    subnormal parameter or buffer; putting the unflushed weights back gives bit-identical tags and
    embeddings on the conformance clips."""
    info, spec = reference["models"][key], TAGGERS[key]
    state = checkpoint_state(key, info)
    unflushed = fold_batch_norms(build_model(spec, state, key))  # what a tagger ran before issue #19
    before = count_subnormal(tensors(unflushed))
    if key != "fcn":  # the released FCN has none (Musicnn 98,417 and CRNN 93,846 in the checkpoints)
        assert count_subnormal(state.values()) > 0 and before > 0

    tagger = Tagger(spec, build_model(spec, state, key), "cpu")
    assert count_subnormal(tensors(tagger.model)) == 0
    assert count_subnormal(tensors(conformance_tagger(key, info).model)) == 0  # as shrooms loads it
    batch = reference_batch(info, recordings)
    tags, embeddings = tagger.predict_chunks(batch)

    tagger.model.load_state_dict(unflushed.state_dict())  # the unflushed weights, in the tagger's layout
    assert count_subnormal(tensors(tagger.model)) == before
    old_tags, old_embeddings = tagger.predict_chunks(batch)
    assert np.array_equal(tags, old_tags) and np.array_equal(embeddings, old_embeddings)


@pytest.mark.parametrize("key", list(TAGGERS))
def test_activations_stay_normal_on_silence_quiet_and_loud_input(key: str, reference: dict,
                                                                 recordings: dict) -> None:
    """No layer's output holds a subnormal for silence, one-LSB 16-bit noise, music 80 dB down, or music
    at and clipped beyond full scale: flushing denormal arithmetic per thread would buy nothing."""
    length = TAGGERS[key].input_length
    music = chunk(recordings["ballroom_waltz"], length)[0]
    noise = np.random.default_rng(0).integers(-1, 2, length).astype(np.float32) / 32768
    inputs = np.stack([np.zeros(length, np.float32), noise, music * 1e-4, music / np.abs(music).max(),
                       np.clip(music * 10 / np.abs(music).max(), -1, 1)]).astype(np.float32)
    tagger = conformance_tagger(key, reference["models"][key])
    found: dict[str, int] = {}

    def record(name: str):
        def hook(module, args, output) -> None:
            for t in (output if isinstance(output, (tuple, list)) else (output,)):
                if isinstance(t, torch.Tensor) and t.is_floating_point():
                    n = int(subnormal_mask(t).sum())
                    if n:
                        found[name] = found.get(name, 0) + n
        return hook

    handles = [m.register_forward_hook(record(name or "output")) for name, m in tagger.model.named_modules()]
    try:
        tags, _ = tagger.predict_chunks(inputs)
    finally:
        for handle in handles:
            handle.remove()
    assert len(found) == 0, f"subnormal activations: {found}"
    assert len(tags) == len(inputs)
