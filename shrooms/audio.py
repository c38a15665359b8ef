"""Audio in: decode any file soundfile (or librosa's fallback) reads, downmix to mono, resample once to
16 kHz, and cut into a tagger's fixed-length chunks.

Chunking rule: a track of N samples and a model input of L samples gives n = max(1, round(N / L)) windows,
evenly spaced so that the first starts at the track's start and the last ends at its end (a single window
is centred). Windows overlap a little when N/L rounds up and leave small gaps (less than L/2 in total)
when it rounds down; a 30-s GTZAN clip is one 29-s window for FCN and ten 3-s windows for Musicnn. A
track shorter than one window is zero-padded at the end.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import librosa
import numpy as np
import soundfile as sf

from .errors import AudioError

SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".au", ".snd", ".aiff", ".aif", ".opus")


def looks_like_mpeg(head: bytes) -> bool:
    """An ID3 tag or an MPEG audio frame sync in the first bytes: checked before libmpg123 sees a file,
    which otherwise prints its own notes to stderr about a text file named .mp3."""
    return head.startswith(b"ID3") or any(head[i] == 0xFF and head[i + 1] & 0xE0 == 0xE0
                                          for i in range(len(head) - 1))


def _decode(source: str | Path | BinaryIO) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 and the sample rate; soundfile first, librosa/audioread as fallback."""
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".mp3":
        with open(source, "rb") as f:
            if not looks_like_mpeg(f.read(4096)):
                raise AudioError("no MPEG audio stream")
    try:
        data, sr = sf.read(source, dtype="float32", always_2d=True)
        return data, sr
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as sf_exc:
        if not isinstance(source, (str, Path)):
            raise AudioError(str(sf_exc)) from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data, sr = librosa.load(source, sr=None, mono=False, dtype=np.float32)
        except Exception:  # audioread raises many unrelated types; soundfile's reason is the useful one
            raise AudioError(str(sf_exc)) from None
        return np.atleast_2d(data).T, int(sr)


def load_audio(source: str | Path | bytes | BinaryIO, name: str | None = None) -> np.ndarray:
    """Decode `source` (a path, bytes or a file object) to 16-kHz mono float32.

    Raises AudioError with a one-line message naming the file when it cannot be decoded or is empty.
    """
    label = name or (str(source) if isinstance(source, (str, Path)) else "uploaded audio")
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise AudioError(f"{label}: " + ("a folder, not an audio file" if Path(source).is_dir() else "no such file"))
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        data, sr = _decode(source)
    except AudioError as exc:
        reason = str(exc).split(":")[-1].strip().rstrip(".")
        if not reason or "does not exist" in reason:  # libsndfile's words for "no decoder took it"
            reason = "unrecognised format or corrupt data"
        raise AudioError(f"{label}: not a readable audio file ({reason})") from None
    if data.size == 0:
        raise AudioError(f"{label}: contains no audio samples")
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{label}: contains non-finite samples")
    return resample(mono, sr)


def resample(samples: np.ndarray, sr: int) -> np.ndarray:
    """Mono samples at `sr` → 16 kHz float32 (soxr high quality)."""
    if sr != SAMPLE_RATE:
        samples = librosa.resample(samples, orig_sr=sr, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    return np.ascontiguousarray(samples, dtype=np.float32)


def chunk_starts(n_samples: int, length: int) -> list[int]:
    """Start offsets of the chunks covering a track of `n_samples` (see the module docstring)."""
    if n_samples <= length:
        return [0]
    n = max(1, round(n_samples / length))
    if n == 1:
        return [(n_samples - length) // 2]
    return [int(round(s)) for s in np.linspace(0, n_samples - length, n)]


def chunk(samples: np.ndarray, length: int) -> np.ndarray:
    """(n_chunks, length) float32 windows covering the whole track, zero-padded when it is short."""
    if len(samples) < length:
        return np.pad(samples, (0, length - len(samples)))[None, :].astype(np.float32)
    return np.stack([samples[s:s + length] for s in chunk_starts(len(samples), length)]).astype(np.float32)


def duration(path: str | Path) -> float | None:
    """Seconds of audio from the header, or None when the header can't be read."""
    try:
        return float(sf.info(str(path)).duration)
    except Exception:  # a header soundfile cannot parse: the caller decodes to find out
        return None
