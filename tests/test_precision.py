"""bf16, opt-in: close to float32 on real music within the bounds the README documents (every chunk's
tags within 0.05, embeddings at cosine ≥ 0.99), unknown precisions and unsupported devices refused in
one line, and the CLI passes --precision through."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from shrooms.audio import chunk
from shrooms.errors import ShroomsError
from shrooms.taggers import TAGGERS, bf16_supported, load_tagger
from shrooms.taggers.inference import check_precision

from .conformance_models import clips, conformance_tagger, manifest
from .conftest import CONFORMANCE

TAG_BOUND, COSINE_BOUND = 0.05, 0.99
needs_bf16 = pytest.mark.skipif(not bf16_supported(torch.device("cpu")), reason="no native bfloat16 on this CPU")


@needs_bf16
@pytest.mark.parametrize("key", ["fcn", "musicnn", "sample", "hcnn"])
def test_bf16_stays_close_to_float32_on_real_music(key: str) -> None:
    """A chunk of two real recordings (plus silence) through float32 and bf16: tags within TAG_BOUND, embedding
    cosine ≥ COSINE_BOUND, the same top tag, and bf16 really differs (it is not float32 in disguise)."""
    ref = manifest()
    recordings = clips(ref)
    info = ref["models"][key]
    length = TAGGERS[key].input_length
    x = np.concatenate([chunk(recordings[n], length)[:1] for n in ("vocadito_1", "ballroom_waltz")]
                       + [np.zeros((1, length), np.float32)])
    f32 = conformance_tagger(key, info)
    b16 = conformance_tagger(key, info, precision="bf16")
    assert (f32.precision, b16.precision) == ("float32", "bf16")
    (t32, e32), (t16, e16) = f32.predict_chunks(x), b16.predict_chunks(x)
    assert np.abs(t32 - t16).max() < TAG_BOUND
    cos = (e32 * e16).sum(1) / (np.linalg.norm(e32, axis=1) * np.linalg.norm(e16, axis=1))
    assert cos.min() >= COSINE_BOUND
    assert (t32.argmax(1) == t16.argmax(1)).all()
    assert not np.array_equal(e32, e16)


def test_unknown_precision_is_one_line_error() -> None:
    with pytest.raises(ShroomsError, match="unknown precision 'float16': choose one of float32, bf16"):
        load_tagger("musicnn", "cpu", precision="float16")


def test_bf16_refused_on_a_cpu_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU without AVX-512 BF16 or AMX gets a clear error instead of a slow emulation."""
    monkeypatch.setattr("shrooms.taggers.inference.cpu_flags", lambda: frozenset({"avx2"}))
    with pytest.raises(ShroomsError, match="precision bf16 needs a GPU or CPU with native bfloat16"):
        check_precision("bf16", torch.device("cpu"))


@needs_bf16
def test_cli_tag_precision_passthrough(tmp_path) -> None:
    """`shrooms tag --precision bf16` tags with bf16 (close to, not equal to float32); a bad value is one
    argparse line, no traceback."""
    clip = CONFORMANCE / "clips" / "jtd_trio.flac"
    runs = {}
    for precision in ("float32", "bf16"):
        out = subprocess.run([sys.executable, "-m", "shrooms.cli", "tag", str(clip), "--models", "musicnn", "--json",
                              "--precision", precision], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        runs[precision] = np.array(list(json.loads(out.stdout)[str(clip)]["musicnn"]["tags"].values()))
    assert 0 < np.abs(runs["float32"] - runs["bf16"]).max() < TAG_BOUND
    bad = subprocess.run([sys.executable, "-m", "shrooms.cli", "tag", str(clip), "--precision", "fp8"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "invalid choice: 'fp8'" in bad.stderr and "Traceback" not in bad.stderr
