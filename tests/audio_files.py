"""Builders of test audio from the shared real recordings (written to a temp dir, never to the repo)."""

from __future__ import annotations

import struct
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from .conftest import DATA

COUNTRY = DATA / "gtzan-sample" / "country" / "country.00000.wav"
FORMATS = DATA / "formats"


def real_excerpt(seconds: float, sr: int = 22050, offset: float = 0.0) -> np.ndarray:
    """`seconds` of the real GTZAN country clip at `sr`, mono float32."""
    x, native = sf.read(COUNTRY, dtype="float32")
    x = x[int(offset * native):int((offset + seconds) * native)]
    return librosa.resample(x, orig_sr=native, target_sr=sr) if sr != native else x


def bad_inputs(folder: Path) -> dict[str, Path]:
    """Each kind of awkward input the CLI and app must survive, made from real audio."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    made["text_as_mp3"] = folder / "notes.mp3"
    made["text_as_mp3"].write_text("this is not audio\n" * 50)
    made["empty"] = folder / "empty.wav"
    made["empty"].write_bytes(b"")
    full = folder / "full.wav"
    sf.write(full, real_excerpt(10.0), 22050, subtype="PCM_16")
    data = full.read_bytes()
    made["truncated"] = folder / "truncated.wav"
    made["truncated"].write_bytes(data[: len(data) // 3])
    made["header_only"] = folder / "header_only.wav"
    made["header_only"].write_bytes(data[:30])
    made["half_second"] = folder / "half_second.flac"
    sf.write(made["half_second"], real_excerpt(0.5), 22050)
    made["silence"] = folder / "silence.wav"
    sf.write(made["silence"], np.zeros(22050 * 3, np.float32), 22050)
    six = real_excerpt(4.0, sr=48000)
    made["six_channel_48k_24bit"] = folder / "six.wav"
    sf.write(made["six_channel_48k_24bit"], np.stack([six * (0.4 + 0.1 * i) for i in range(6)], 1),
             48000, subtype="PCM_24")
    made["missing"] = folder / "does_not_exist.wav"
    return made


def hand_made_wav(path: Path, pcm: bytes, sr: int = 22050, channels: int = 1, claim: int | None = None) -> Path:
    """A 16-bit PCM WAV written byte by byte, so its header can say what no encoder would: any sample
    rate (up to 2**32 - 1) or channel count, and a data length (`claim` bytes) other than what follows."""
    block_align = channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, sr, min(sr * block_align, 2**32 - 1), block_align, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + \
        struct.pack("<I", len(pcm) if claim is None else claim) + pcm
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def bad_headers(folder: Path) -> dict[str, Path]:
    """WAVs of real music whose headers lie: sample rate 0, sample rate 4 GHz, 30 s promised over
    1,000 bytes of data, and 0 channels."""
    folder.mkdir(parents=True, exist_ok=True)
    pcm = (real_excerpt(2.0) * 32767).astype("<i2").tobytes()
    return {"rate_zero": hand_made_wav(folder / "rate_zero.wav", pcm, sr=0),
            "rate_4ghz": hand_made_wav(folder / "rate_4ghz.wav", pcm, sr=4_000_000_000),
            "claims_30s": hand_made_wav(folder / "claims_30s.wav", pcm[:1000], claim=22050 * 2 * 30),
            "no_channels": hand_made_wav(folder / "no_channels.wav", pcm, channels=0)}


BAD_HEADER_ERRORS = {
    "rate_zero": "not a readable audio file (sample rate 0 Hz is outside 1,000-768,000 Hz)",
    "rate_4ghz": "not a readable audio file (sample rate 4,000,000,000 Hz is outside 1,000-768,000 Hz)",
    "no_channels": "not a readable audio file (Channel count is zero)"}
TRUNCATED_30S = "truncated: header says 30.0 s, holds 0.02 s"


def expected_stderr(bad: dict[str, Path], kinds: list[str]) -> list[str]:
    """The CLI's stderr lines for the `bad_headers` files `kinds`, given in that order."""
    return [f"shrooms: warning: {bad[k]}: {TRUNCATED_30S}" if k == "claims_30s"
            else f"shrooms: error: {bad[k]}: {BAD_HEADER_ERRORS[k]}" for k in kinds]


CLIPS = DATA.parent / "conformance" / "clips"


def write_excerpt(src: Path, dest: Path, seconds: float, offset: float = 0.0) -> Path:
    """A real excerpt of `src` written as WAV at `dest` (16-bit, the source's rate)."""
    info = sf.info(src)
    x, sr = sf.read(src, dtype="float32", start=int(offset * info.samplerate),
                    frames=int(seconds * info.samplerate))
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dest, x, sr, subtype="PCM_16")
    return dest


def make_gtzan(root: Path, layout: str = "genres") -> Path:
    """A small GTZAN-shaped folder of real recordings: 3 genres × 2 clips, in the original layout
    (`genres/<g>/<g>.000NN.wav`) or the common download's (`Data/genres_original/...`)."""
    base = root / ("genres" if layout == "genres" else "Data/genres_original")
    sources = {"country": [COUNTRY, CLIPS / "gtzan_country_00000.flac"],
               "jazz": [CLIPS / "jtd_trio.flac", CLIPS / "hainsworth_001.flac"],
               "pop": [CLIPS / "vocadito_1.flac", CLIPS / "ballroom_waltz.flac"]}
    for genre, srcs in sources.items():
        for i, src in enumerate(srcs):
            write_excerpt(src, base / genre / f"{genre}.{i:05d}.wav", 6.0, offset=i * 2.0)
    return base


def make_folder(root: Path, n: int, seconds: float = 8.0) -> Path:
    """A labelled music folder of `n` real excerpts (labels = source recording), for precompute runs."""
    clips = sorted(CLIPS.glob("*.flac"))
    for i in range(n):
        src = clips[i % len(clips)]
        offset = ((i // len(clips)) * 1.5) % max(sf.info(src).duration - 2.0, 1.0)
        write_excerpt(src, root / src.stem / f"{src.stem}_{i:03d}.wav", seconds, offset)
    return root
