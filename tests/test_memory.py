"""Memory flat in track length: `shrooms tag --models fcn` on silent 44.1-kHz WAVs of 10 minutes and of
an hour, each in a fresh process whose peak RSS is measured. (Whole-track tagging held the decoded
track, its chunk copy and the padded batch copy: 1.31 GB at 1 h, 7.48 GB at 10 h.) The 10-hour figure
is from benchmarks/long_audio.py --silent, run by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

PEAK = r"""
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(proc.stderr)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(proc.stdout)
"""


def silent_wav(path: Path, minutes: int) -> Path:
    """`minutes` of silence as 44.1-kHz mono 16-bit WAV, written a minute at a time."""
    with sf.SoundFile(path, "w", 44100, 1, subtype="PCM_16") as f:
        for _ in range(minutes):
            f.write(np.zeros(44100 * 60, np.int16))
    return path


def tagged(path: Path) -> tuple[int, dict]:
    """(peak RSS in KiB, the JSON tags) of `shrooms tag --models fcn --json PATH` in a process of its own
    (ru_maxrss of the only child of a small wrapper)."""
    proc = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "shrooms.cli", "tag", "--models", "fcn",
                           "--json", str(path)], capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL)
    head, _, out = proc.stdout.partition("\n")
    code, kib = head.split()
    assert code == "0", proc.stderr
    return int(kib), json.loads(out)[str(path)]["fcn"]["tags"]


def test_tagging_an_hour_takes_the_memory_of_ten_minutes(tmp_path) -> None:
    short_peak, short_tags = tagged(silent_wav(tmp_path / "ten-minutes.wav", 10))
    long_peak, long_tags = tagged(silent_wav(tmp_path / "an-hour.wav", 60))
    assert long_peak <= 1.2 * short_peak, (short_peak, long_peak)
    # every window of silence is the same: the hour's mean tags are the ten minutes'
    assert list(long_tags) == list(short_tags)
    np.testing.assert_allclose(list(long_tags.values()), list(short_tags.values()), atol=2e-6)


def test_streamed_tags_equal_tagging_the_whole_track_bit_for_bit(tmp_path) -> None:
    """`tag_file` cuts the same windows as `chunk` and batches them the same way: a long stereo FLAC (41 s:
    FCN's window and Musicnn's 3-s windows overlapping), a track shorter than a window, and an MP3 (its
    length counted by a first decode) all give exactly `Tagger.tag(decode(file).samples)`."""
    from shrooms.audio import decode
    from shrooms.taggers import load_tagger
    from shrooms.taggers.inference import tag_file

    from .audio_files import COUNTRY
    x, sr = sf.read(COUNTRY, dtype="float32")
    files = {"stereo.flac": np.stack([x[:41 * sr], 0.5 * x[:41 * sr]], axis=1), "short.wav": x[:2 * sr],
             "clip.mp3": x[:20 * sr]}
    taggers = {key: load_tagger(key) for key in ("fcn", "musicnn")}
    for name, y in files.items():
        sf.write(tmp_path / name, y, sr)
        streamed, warnings = tag_file(tmp_path / name, taggers)
        assert warnings == ()
        for key, tagger in taggers.items():
            whole = tagger.tag(decode(tmp_path / name).samples)
            for field in ("tags", "embedding", "chunk_tags", "chunk_embeddings"):
                np.testing.assert_array_equal(getattr(streamed[key], field), getattr(whole, field), err_msg=name)
    assert streamed["musicnn"].chunk_tags.shape == (7, 50)
