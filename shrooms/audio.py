"""Audio in: decode any file soundfile (or librosa's fallback) reads, downmix to mono, resample once to
16 kHz, and cut into a tagger's fixed-length chunks.

Decoding streams: the file is read in blocks of `BLOCK` frames (see `read_blocks`), each block is downmixed to mono and fed
to a streaming soxr resampler (the same soxr_hq filter as a one-shot `librosa.resample`, equal to it within
1e-6), so a long file never holds its full-rate multichannel copy in memory, only the 16-kHz result. Every
failure while reading or resampling one file becomes that file's one-line AudioError; a file whose header
promises more audio than it holds is decoded from what is there and reported in `Decoded.warnings`.

Chunking rule: a track of N samples and a model input of L samples gives n = max(1, round(N / L)) windows,
evenly spaced so that the first starts at the track's start and the last ends at its end (a single window
is centred). Windows overlap a little when N/L rounds up and leave small gaps (less than L/2 in total)
when it rounds down; a 30-s GTZAN clip is one 29-s window for FCN and ten 3-s windows for Musicnn. A
track shorter than one window is zero-padded at the end.
"""

from __future__ import annotations

import errno
import io
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

import librosa
import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".au", ".snd", ".aiff", ".aif", ".opus")
MIN_RATE, MAX_RATE = 1_000, 768_000  # Hz: sample rates outside are a corrupt header, not audio
BLOCK = 1 << 16                      # frames decoded at a time
HEADER_BYTES = 1 << 16               # bytes read to find what a WAV/AIFF/AU header promises
TRUNCATION_SLACK = 0.05              # s: shortfalls below this (and below 1 %) are encoder rounding


def text_path(path: str | bytes | os.PathLike) -> str:
    """A file name or path as text that every encoder takes (SQLite, JSON, Arrow, a UTF-8 terminal).

    The rule for file names that are not valid UTF-8: each byte of the name that is not part of a valid
    UTF-8 sequence is written as ``\\xNN`` (Python's "backslashreplace"); every valid name is unchanged.
    Python itself hands such names around as str with lone surrogates (``os.fsdecode``), which those
    encoders refuse. `fs_path` turns the text back into the real path.
    """
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


_ESCAPED_BYTE = re.compile(rb"\\x([89a-f][0-9a-f])")


def fs_path(text: str | os.PathLike) -> Path:
    """The real path that `text_path` wrote as `text`: the path itself when it exists as written, else
    with every ``\\xNN`` (NN from 80 to ff) turned back into the byte it stands for."""
    path = Path(text)
    if isinstance(text, os.PathLike) or "\\x" not in str(text) or os.path.lexists(path):
        return path
    return Path(os.fsdecode(_ESCAPED_BYTE.sub(lambda m: bytes([int(m[1], 16)]), str(text).encode("utf-8",
                                                                                                    "surrogateescape"))))


def not_a_file(path: str | Path) -> str | None:
    """Why `path` cannot be read as an audio file (one phrase: "no such file", "a symbolic link loop", "a FIFO
    (named pipe), not an audio file", …), or None for a regular file (or a link to one)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop, not an audio file"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"a broken symbolic link (to {text_path(os.readlink(path))})"
        if exc.errno == errno.ENOENT:
            return "no such file"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not an audio file"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not an audio file"
    if stat.S_ISSOCK(mode):
        return "a socket, not an audio file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not an audio file"
    return "not a regular file"


@dataclass(frozen=True)
class Decoded:
    """A decoded file: `samples` (n,) float32 mono at 16 kHz and `warnings`, one line each naming the
    file, about audio that decoded but not as its header promised (e.g. truncated)."""

    samples: np.ndarray
    warnings: tuple[str, ...] = ()
    n_samples: int = -1  # the track's length in 16-kHz samples (len(samples), or what a `sink` was given)


class _Unreadable(Exception):
    """Internal: why a file could not be decoded (the public AudioError adds the file's name)."""


class _NonFinite(_Unreadable):
    """Internal: the file decoded to NaN or infinite samples."""


def looks_like_mpeg(head: bytes) -> bool:
    """An ID3 tag or an MPEG audio frame sync in the first bytes: checked before libmpg123 sees a file,
    which otherwise prints its own notes to stderr about a text file named .mp3."""
    return head.startswith(b"ID3") or any(head[i] == 0xFF and head[i + 1] & 0xE0 == 0xE0
                                          for i in range(len(head) - 1))


def header_frames(head: bytes) -> int | None:
    """Frames that a WAV, AIFF or AU header promises, from the file's first bytes.

    libsndfile quietly shortens a data chunk longer than the file, so a truncated file is found by
    comparing this promise with the frames actually decoded. None for other formats, or when the header
    leaves the length open (0 or 0xFFFFFFFF, as streaming writers do).
    """
    unknown = (0, 0xFFFFFFFF)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        pos, block_align = 12, 0
        while pos + 8 <= len(head):
            cid, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
            if cid == b"fmt " and pos + 22 <= len(head):
                block_align = int.from_bytes(head[pos + 20:pos + 22], "little")
            if cid == b"data":
                return size // block_align if block_align and size not in unknown else None
            pos += 8 + size + (size & 1)
    elif head[:4] == b".snd" and len(head) >= 24:
        size, encoding, channels = (int.from_bytes(head[i:i + 4], "big") for i in (8, 12, 20))
        width = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}.get(encoding)
        return size // (width * channels) if width and channels and size not in unknown else None
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        pos = 12
        while pos + 8 <= len(head):
            cid, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "big")
            if cid == b"COMM" and pos + 14 <= len(head):
                return int.from_bytes(head[pos + 10:pos + 14], "big") or None
            pos += 8 + size + (size & 1)
    return None


def header_rate(head: bytes) -> int | None:
    """The sample rate (Hz) a WAV or AU header states, from the file's first bytes; None for others."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        pos = 12
        while pos + 8 <= len(head):
            cid, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
            if cid == b"fmt " and pos + 16 <= len(head):
                return int.from_bytes(head[pos + 12:pos + 16], "little")
            pos += 8 + size + (size & 1)
    elif head[:4] == b".snd" and len(head) >= 20:
        return int.from_bytes(head[16:20], "big")
    return None


def check_format(sr: float, channels: int) -> None:
    """Raise when a header's sample rate (Hz) or channel count cannot describe real audio."""
    if not MIN_RATE <= sr <= MAX_RATE:
        raise _Unreadable(f"sample rate {int(sr):,} Hz is outside {MIN_RATE:,}-{MAX_RATE:,} Hz")
    if channels < 1:
        raise _Unreadable(f"{channels} audio channels")


def stream_to_16k(blocks: Iterable[np.ndarray], sr: int, expected_frames: int = 0,
                  sink: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, int]:
    """Downmix and resample blocks of audio to 16-kHz mono as they arrive.

    Parameters
    ----------
    blocks : iterable of np.ndarray, each (frames, channels) float32 at `sr` Hz
    sr : int, the blocks' sample rate in Hz
    expected_frames : int, frames at `sr` the caller expects (sizes the output once; it grows if needed)
    sink : callable, optional, given each piece of 16-kHz samples (n,) float32 in order instead of keeping
        them (memory then stays flat in the track's length): the pieces joined and cut after
        ceil(frames * 16000 / sr) samples are `samples` (a piece is valid only during the call)

    Returns
    -------
    samples : np.ndarray (ceil(frames * 16000 / sr),) float32, equal within 1e-6 to
        `resample(blocks joined and averaged over channels, sr)`; (0,) when a `sink` took them
    frames : int, the number of input frames read
    """
    ratio = SAMPLE_RATE / sr
    stream = soxr.ResampleStream(sr, SAMPLE_RATE, 1, dtype="float32", quality="HQ") if sr != SAMPLE_RATE else None
    out = np.empty(0 if sink else int(math.ceil(min(max(expected_frames, 0), sr * 4 * 3600) * ratio)) + SAMPLE_RATE,
                   np.float32)
    filled = frames = 0

    def put(piece: np.ndarray) -> None:
        nonlocal out, filled
        if sink is None:
            out, filled = _append(out, filled, piece)
        elif len(piece):
            sink(piece)
            filled += len(piece)

    for block in blocks:
        mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
        if not np.isfinite(mono).all():
            raise _NonFinite("contains non-finite samples")
        frames += len(mono)
        put(stream.resample_chunk(mono, last=False) if stream else mono)
    if stream:
        put(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    size = int(math.ceil(frames * ratio))  # librosa.resample's length: zero-pad or trim the filter's tail
    if size > filled:
        put(np.zeros(size - filled, np.float32))
    if sink:
        return out, frames
    # a view, not a copy (a second hour of audio is what streaming avoids), unless a header over-promised
    return (out[:size] if size > 0.9 * len(out) else out[:size].copy()), frames


def _append(out: np.ndarray, filled: int, piece: np.ndarray) -> tuple[np.ndarray, int]:
    """Write `piece` after the first `filled` samples of `out`, growing it (doubling) when full."""
    if filled + len(piece) > len(out):
        out = np.concatenate([out[:filled], np.empty(max(len(out), len(piece)), np.float32)])
    out[filled:filled + len(piece)] = piece
    return out, filled + len(piece)


def read_blocks(f: sf.SoundFile, frames: int) -> Iterator[np.ndarray]:
    """Blocks of (<= frames, channels) float32 read straight through, each valid until the next is read.

    Not `SoundFile.blocks`: pysoundfile seeks to the position it has just reached after every read, and for
    MP3 each seek restarts libmpg123 without its bit reservoir, so block-wise reads of some files (the
    shared carnatic_varnam_abhogi.mp3) differ from a one-shot read by up to 0.1 around block boundaries.
    """
    buffer = np.empty((frames, f.channels), np.float32)
    pointer = sf._ffi.from_buffer("float[]", buffer)
    while (n := sf._snd.sf_readf_float(f._file, pointer, frames)) > 0:
        yield buffer[:n]
    if sf._snd.sf_error(f._file):
        raise _Unreadable(sf._ffi.string(sf._snd.sf_strerror(f._file)).decode("utf-8", "replace"))


def _read(source: str | Path | BinaryIO, sink: Callable[[np.ndarray], None] | None = None
          ) -> tuple[np.ndarray, int, int, int]:
    """16-kHz mono samples (or, given a `sink`, none: see `stream_to_16k`), frames read, frames promised,
    and the file's sample rate; soundfile first, librosa/audioread as a fallback for what libsndfile
    cannot open."""
    is_path = isinstance(source, (str, Path))
    if is_path:
        with open(source, "rb") as f:
            head = f.read(HEADER_BYTES)
    else:
        head = source.read(HEADER_BYTES)
        source.seek(0)
    if is_path and Path(source).suffix.lower() == ".mp3" and not looks_like_mpeg(head[:4096]):
        raise _Unreadable("no MPEG audio stream")
    try:
        f = sf.SoundFile(os.fsencode(source) if is_path else source)  # bytes: any file name, UTF-8 or not
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as sf_exc:
        reason = str(sf_exc).split(":")[-1].strip().rstrip(".")
        if not reason or "does not exist" in reason:  # libsndfile's words for "no decoder took it"
            reason = "unrecognised format or corrupt data"
        rate = header_rate(head)
        if rate is not None and not MIN_RATE <= rate <= MAX_RATE:  # what libsndfile calls "incomplete"
            check_format(rate, 1)
        if not is_path:
            raise _Unreadable(reason) from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data, sr = librosa.load(source, sr=None, mono=False, dtype=np.float32)
        except Exception:  # audioread raises many unrelated types; soundfile's reason is the useful one
            raise _Unreadable(reason) from None
        data = np.atleast_2d(data).T
        check_format(sr, data.shape[1])
        samples, frames = stream_to_16k([data], int(sr), len(data), sink)
        return samples, frames, max(len(data), header_frames(head) or 0), int(sr)
    with f:
        check_format(f.samplerate, f.channels)
        promised = max(f.frames, header_frames(head) or 0)
        samples, frames = stream_to_16k(read_blocks(f, BLOCK), f.samplerate, f.frames, sink)
        return samples, frames, promised, f.samplerate


def decode(source: str | Path | bytes | BinaryIO, name: str | None = None,
           sink: Callable[[np.ndarray], None] | None = None) -> Decoded:
    """Decode `source` (a path, bytes or a file object) to 16-kHz mono float32, with warnings; given a
    `sink`, the samples are handed to it piece by piece instead of kept (see `stream_to_16k`), and
    `Decoded.samples` is empty while `Decoded.n_samples` says how many there were.

    Raises AudioError with a one-line message naming the file when it cannot be decoded, whatever the
    cause (a missing file, a header with an impossible sample rate or no channels, corrupt data, no
    samples, non-finite samples). A file holding less audio than its header promises is decoded from
    what it holds, with a warning "truncated: header says 30.0 s, holds 0.02 s".
    """
    label = name or (text_path(source) if isinstance(source, (str, Path)) else "uploaded audio")
    if isinstance(source, (str, Path)):
        source = fs_path(source) if isinstance(source, str) else source
        why = not_a_file(source)
        if why:
            raise AudioError(f"{label}: {why}")
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        samples, frames, promised, sr = _read(source, sink)
    except _NonFinite as exc:
        raise AudioError(f"{label}: {exc}") from None
    except _Unreadable as exc:
        raise AudioError(f"{label}: not a readable audio file ({exc})") from None
    except Exception as exc:  # any other failure of one file is that file's error, never the batch's
        reason = " ".join(str(exc).split()) or "no details"
        raise AudioError(f"{label}: not a readable audio file ({type(exc).__name__}: {reason})") from None
    if frames == 0:
        raise AudioError(f"{label}: contains no audio samples")
    notes = []
    if promised - frames > max(0.01 * promised, TRUNCATION_SLACK * sr):
        notes.append(f"{label}: truncated: header says {promised / sr:.1f} s, holds {frames / sr:.2f} s")
    return Decoded(samples, tuple(notes), int(math.ceil(frames * SAMPLE_RATE / sr)))


def file_state(path: Path) -> tuple[int, int]:
    """(size in bytes, mtime in ns) of a file, or (-1, -1) when it cannot be stat'ed."""
    try:
        st = path.stat()
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def load_audio(source: str | Path | bytes | BinaryIO, name: str | None = None) -> np.ndarray:
    """Decode `source` (a path, bytes or a file object) to (n,) float32 mono at 16 kHz, dropping warnings.

    Raises AudioError with a one-line message naming the file when it cannot be decoded or is empty.
    """
    return decode(source, name).samples


def resample(samples: np.ndarray, sr: int) -> np.ndarray:
    """Mono samples at `sr` → 16 kHz float32 (soxr high quality, one shot)."""
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
    return np.stack([samples[s:s + length] for s in chunk_starts(len(samples), length)]).astype(np.float32, copy=False)


def duration(path: str | Path) -> float | None:
    """Seconds of audio from the header, or None when the header can't be read. A file named .mp3 must look
    like MPEG first (`looks_like_mpeg`), as when decoding: libmpg123 prints notes to stderr about others."""
    try:
        if Path(path).suffix.lower() == ".mp3":
            with open(path, "rb") as f:
                if not looks_like_mpeg(f.read(4096)):
                    return None
        return float(sf.info(os.fsencode(path)).duration)
    except Exception:  # a header soundfile cannot parse: the caller decodes to find out
        return None


def samples_promised(path: str | Path) -> int | None:
    """The 16-kHz samples `decode` gives for the file at `path` if it holds what its header says (exact
    for WAV, FLAC, AIFF, AU, Ogg), or None when the header cannot be read or only estimates it (MPEG), or
    `path` is no regular file (a FIFO would block the open: `decode` names what it is)."""
    try:
        if Path(path).suffix.lower() == ".mp3" or not_a_file(path):
            return None
        with sf.SoundFile(os.fsencode(path)) as f:
            if f.frames <= 0 or f.format == "MPEG":
                return None
            return int(math.ceil(f.frames * SAMPLE_RATE / f.samplerate))
    except Exception:  # a header soundfile cannot parse: `decode` finds out what the file holds
        return None
