"""Subnormal weights (issue #19): the released Musicnn and CRNN checkpoints hold tens of thousands, which
cost Intel CPUs a microcode assist per use. No loaded tagger holds any, and setting them to zero changes
no output: tags and embeddings on the conformance clips are bit-identical to those of the unflushed
weights (the other five have none to flush). Subnormals put into synthetic weights are flushed too.
Activations do not go subnormal on silence, near-silence or full-scale music (so no thread needs
`torch.set_flush_denormal`)."""

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
    """The state_dict shrooms loads tagger `key` from: the released checkpoint, else the synthetic one."""
    if info["real_weights"]:
        return read_state_dict(find_weights(TAGGERS[key]))
    return synthetic_state_dict(info["synthetic_state_dict"])


def flushed_and_unflushed(key: str, state: dict[str, torch.Tensor], batch: np.ndarray
                          ) -> tuple[Tagger, int, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Tagger `key` loaded from `state` as shrooms loads it, the subnormals it would hold unflushed (batch
    norms folded, as taggers ran before issue #19), and its (tags, embeddings) on `batch` with its own
    weights, then with the unflushed ones put back in its layout."""
    spec = TAGGERS[key]
    unflushed = fold_batch_norms(build_model(spec, state, key))
    tagger = Tagger(spec, build_model(spec, state, key), "cpu")
    assert count_subnormal(tensors(tagger.model)) == 0
    flushed_out = tagger.predict_chunks(batch)
    tagger.model.load_state_dict(unflushed.state_dict())
    before = count_subnormal(tensors(tagger.model))
    assert before == count_subnormal(tensors(unflushed))
    return tagger, before, flushed_out, tagger.predict_chunks(batch)


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
    """As shrooms loads it, no tagger holds a subnormal parameter or buffer. The released Musicnn and CRNN
    would (77,306 and 54,738 once batch norms are folded): with those put back, tags and embeddings on the
    conformance clips are bit-identical. The released FCN and the fixtures' synthetic weights have none
    to flush: the tagger's weights are exactly the unflushed ones."""
    info, spec = reference["models"][key], TAGGERS[key]
    state = checkpoint_state(key, info)
    assert count_subnormal(tensors(conformance_tagger(key, info).model)) == 0
    if key not in ("musicnn", "crnn"):
        unflushed = fold_batch_norms(build_model(spec, state, key))
        tagger = Tagger(spec, build_model(spec, state, key), "cpu")
        assert count_subnormal(state.values()) == count_subnormal(tensors(unflushed)) == 0
        ours = tagger.model.state_dict()
        assert all(torch.equal(ours[name], value) for name, value in unflushed.state_dict().items())
        return
    assert count_subnormal(state.values()) > 10_000  # 98,417 and 93,846 in the released files
    tagger, before, (tags, embeddings), (old_tags, old_embeddings) = flushed_and_unflushed(
        key, state, reference_batch(info, recordings))
    assert before > 10_000
    assert np.array_equal(tags, old_tags) and np.array_equal(embeddings, old_embeddings)


@pytest.mark.parametrize("key", ["sample", "se", "hcnn"])
def test_subnormals_put_into_synthetic_weights_are_flushed_within_conformance(key: str, reference: dict,
                                                                              recordings: dict) -> None:
    """The flush on weights the fixtures do not provide: subnormals put into a synthetic state_dict are gone
    from the loaded tagger, and its outputs stay within the conformance tolerance of the unflushed ones.
    Bit-identity is not promised here: with a subnormal operand this CPU's float32 kernels can round a
    sum differently (SE's first convolution: 1 ulp at 212 of 20 million outputs on an AMD EPYC)."""
    info = reference["models"][key]
    state = with_subnormals(checkpoint_state(key, info))
    assert count_subnormal(state.values()) > 1000
    tagger, before, (tags, embeddings), (old_tags, old_embeddings) = flushed_and_unflushed(
        key, state, reference_batch(info, recordings))
    assert before > 1000
    np.testing.assert_allclose(tags, old_tags, rtol=reference["rtol"], atol=reference["atol"])
    np.testing.assert_allclose(embeddings, old_embeddings, rtol=reference["rtol"], atol=reference["atol"])


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
