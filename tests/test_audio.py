"""Decoding, downmixing, resampling and chunking real recordings in every shipped format."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from shrooms import audio
from shrooms.audio import SAMPLE_RATE, chunk, chunk_starts, decode, load_audio, resample
from shrooms.errors import AudioError

from .audio_files import (BAD_HEADER_ERRORS, CLIPS, COUNTRY, FORMATS, TRUNCATED_30S, bad_headers, bad_inputs,
                          real_excerpt)

SHARED_RECORDINGS = sorted(FORMATS.iterdir()) + [COUNTRY] + sorted(CLIPS.glob("*.flac"))


@pytest.mark.parametrize("path", sorted(FORMATS.iterdir()), ids=lambda p: p.name)
def test_every_shared_format_decodes_to_16k_mono(path) -> None:
    samples = load_audio(path)
    assert samples.ndim == 1 and samples.dtype == np.float32
    assert np.isfinite(samples).all() and np.abs(samples).max() > 0
    if path.suffix in (".wav", ".flac", ".ogg"):  # exact header durations; mp3 has encoder padding
        assert len(samples) == pytest.approx(sf.info(path).duration * SAMPLE_RATE, abs=2)


def test_gtzan_clip_resampled_once_to_16k() -> None:
    samples = load_audio(COUNTRY)
    assert len(samples) == pytest.approx(sf.info(COUNTRY).duration * SAMPLE_RATE, abs=2)


def test_six_channel_24bit_is_downmixed_to_the_channel_mean(tmp_path) -> None:
    files = bad_inputs(tmp_path)
    six, sr = sf.read(files["six_channel_48k_24bit"], dtype="float32")
    assert six.shape[1] == 6 and sr == 48000
    samples = load_audio(files["six_channel_48k_24bit"])
    assert len(samples) == pytest.approx(4 * SAMPLE_RATE, abs=2)
    # downmix = channel mean: channel gains 0.4..0.9 average to 0.65 of the source excerpt
    assert np.abs(samples).max() == pytest.approx(0.65 / 0.4 * np.abs(load_audio_channel0(six, sr)).max(), rel=0.05)


def load_audio_channel0(six: np.ndarray, sr: int) -> np.ndarray:
    from shrooms.audio import resample
    return resample(six[:, 0].copy(), sr)


def test_chunks_are_evenly_spaced_from_start_to_end() -> None:
    assert chunk_starts(100, 30) == [0, 35, 70]          # round(3.33) = 3 windows, small gaps
    assert chunk_starts(90, 30) == [0, 30, 60]           # exact tiling
    assert chunk_starts(110, 30) == [0, 27, 53, 80]      # round(3.67) = 4 windows, small overlaps
    assert chunk_starts(40, 30) == [5]                   # one window, centred
    assert chunk_starts(10, 30) == [0]
    x = np.arange(100, dtype=np.float32)
    chunks = chunk(x, 30)
    assert chunks.shape == (3, 30) and chunks[0, 0] == 0 and chunks[-1, -1] == 99
    short = chunk(x[:10], 30)
    assert short.shape == (1, 30) and short[0, 9] == 9 and not short[0, 10:].any()


@pytest.mark.parametrize("kind", ["text_as_mp3", "empty", "header_only", "missing"])
def test_undecodable_input_raises_one_line_error_naming_the_file(kind, tmp_path) -> None:
    path = bad_inputs(tmp_path)[kind]
    with pytest.raises(AudioError) as err:
        load_audio(path)
    message = str(err.value)
    assert path.name in message and "\n" not in message


def test_uploaded_bytes_decode_like_the_file() -> None:
    from_bytes = load_audio(COUNTRY.read_bytes(), name="upload.wav")
    np.testing.assert_array_equal(from_bytes, load_audio(COUNTRY))


@pytest.mark.parametrize("block", [1024, audio.BLOCK])
@pytest.mark.parametrize("path", SHARED_RECORDINGS, ids=lambda p: p.name)
def test_streaming_decode_equals_one_shot_decode(path, block, monkeypatch) -> None:
    """Blocks downmixed and resampled as they stream equal the whole file read, averaged and resampled at
    once; small blocks catch a seek between reads (it garbles carnatic_varnam_abhogi.mp3 by up to 0.1)."""
    whole, sr = sf.read(path, dtype="float32", always_2d=True)
    one_shot = resample(whole.mean(axis=1), sr)
    monkeypatch.setattr(audio, "BLOCK", block)
    streamed = load_audio(path)
    assert streamed.shape == one_shot.shape
    np.testing.assert_allclose(streamed, one_shot, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(BAD_HEADER_ERRORS))
def test_impossible_headers_are_one_line_errors_naming_the_file(kind, tmp_path) -> None:
    path = bad_headers(tmp_path)[kind]
    with pytest.raises(AudioError) as err:
        load_audio(path)
    assert str(err.value) == f"{path}: {BAD_HEADER_ERRORS[kind]}"


def test_a_header_promising_more_than_the_file_holds_decodes_what_is_there_with_a_warning(tmp_path) -> None:
    path = bad_headers(tmp_path)["claims_30s"]
    decoded = decode(path)
    assert decoded.warnings == (f"{path}: {TRUNCATED_30S}",)
    assert len(decoded.samples) == int(np.ceil(500 * SAMPLE_RATE / 22050))  # 1,000 bytes = 500 frames
    assert not decode(COUNTRY).warnings


def test_non_finite_samples_are_one_line_errors(tmp_path) -> None:
    x = real_excerpt(1.0)
    x[100] = np.nan
    sf.write(tmp_path / "nan.wav", x, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: contains non-finite samples$"):
        load_audio(tmp_path / "nan.wav")
