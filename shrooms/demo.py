"""The built-in demo collection: 8 contrasting synthetic styles × 12 clips × 10 s, generated
deterministically (seeded per clip) so the app shows a real map before any dataset is present.
It is synthesised, not recorded, and says so wherever it is shown."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, sosfilt

SR = 16000
SECONDS = 10.0
CLIPS_PER_STYLE = 12
DEMO_VERSION = "1"  # bump when the synthesis changes: the cached demo is regenerated
N = int(SR * SECONDS)
T = np.arange(N) / SR


def hz(midi: float | np.ndarray) -> float | np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi) - 69.0) / 12.0)


def place(out: np.ndarray, sound: np.ndarray, at: float) -> None:
    """Add `sound` into `out` starting at `at` seconds (clipped at the end)."""
    i = int(at * SR)
    if i < len(out):
        out[i:i + len(sound)] += sound[: len(out) - i]


def env(n: int, attack: float, decay: float) -> np.ndarray:
    """Linear attack then exponential decay (time constants in seconds)."""
    t = np.arange(n) / SR
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


def kick(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.35 * SR)) / SR
    f = 45 + 110 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t * 9)


def noise_hit(rng: np.random.Generator, seconds: float, decay: float, band: tuple[float, float]) -> np.ndarray:
    sos = butter(2, band, btype="band", fs=SR, output="sos")
    return sosfilt(sos, rng.standard_normal(int(seconds * SR))) * env(int(seconds * SR), 0.001, decay)


def snare(rng: np.random.Generator) -> np.ndarray:
    tone = np.sin(2 * np.pi * 190 * np.arange(int(0.2 * SR)) / SR) * env(int(0.2 * SR), 0.001, 0.05)
    return 0.8 * noise_hit(rng, 0.2, 0.06, (1000, 7000)) + 0.4 * tone


def tone(freq: float, seconds: float, shape: str = "sine", attack: float = 0.01, decay: float = 1.0,
         vibrato: float = 0.0) -> np.ndarray:
    """One note: sine, saw or square oscillator with optional vibrato, under an envelope."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    phase = 2 * np.pi * np.cumsum(freq * (1 + vibrato * np.sin(2 * np.pi * 5.5 * t))) / SR
    if shape == "saw":
        wave = 2 * ((phase / (2 * np.pi)) % 1.0) - 1
    elif shape == "square":
        wave = np.sign(np.sin(phase))
    else:
        wave = np.sin(phase)
    return wave * env(n, attack, decay)


def piano_note(freq: float, seconds: float) -> np.ndarray:
    """Additive, slightly inharmonic partials with faster decay higher up: a struck-string sound."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    partials = [np.sin(2 * np.pi * freq * k * np.sqrt(1 + 0.0004 * k * k) * t) * np.exp(-t * (1.2 + 0.8 * k)) / k
                for k in range(1, 9)]
    return np.sum(partials, axis=0) * np.minimum(1, t / 0.003)


def pluck(rng: np.random.Generator, freq: float, seconds: float) -> np.ndarray:
    """Karplus-Strong plucked string: a noise burst through a damped delay-line loop."""
    delay = max(2, int(round(SR / freq)))
    excitation = np.zeros(int(seconds * SR))
    excitation[:delay] = rng.uniform(-1, 1, delay)
    a = np.zeros(delay + 2)
    a[0], a[delay], a[delay + 1] = 1.0, -0.497, -0.497
    return lfilter([1.0], a, excitation)


def lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    return sosfilt(butter(4, cutoff, fs=SR, output="sos"), x)


def beats(bpm: float, per_beat: int = 1) -> np.ndarray:
    return np.arange(0, SECONDS, 60.0 / bpm / per_beat)


def techno(rng: np.random.Generator, root: int) -> np.ndarray:
    out, bpm = np.zeros(N), rng.uniform(124, 134)
    for i, b in enumerate(beats(bpm, 2)):
        if i % 2 == 0:
            place(out, kick(rng), b)
        else:
            place(out, 0.5 * lowpass(tone(hz(root - 24), 60 / bpm / 2, "saw", 0.002, 0.12), 900), b)
        place(out, 0.25 * noise_hit(rng, 0.05, 0.015, (7000, 7900)), b)
    return out


def ambient(rng: np.random.Generator, root: int) -> np.ndarray:
    out = np.zeros(N)
    for k, start in enumerate(np.arange(0, SECONDS, 2.5)):
        chord = [root, root + rng.choice([3, 4]), root + 7, root + rng.choice([10, 11, 14])]
        for note in chord:
            for detune in (-0.003, 0.003):
                place(out, 0.15 * tone(hz(note + 12 * (k % 2)) * (1 + detune), 4.0, "sine", 1.2, 2.5), start)
    return out + 0.02 * lowpass(rng.standard_normal(N), 500)


def rock(rng: np.random.Generator, root: int) -> np.ndarray:
    out, bpm = np.zeros(N), rng.uniform(110, 140)
    riff = [root - 12, root - 12, root - 7, root - 10]
    for i, b in enumerate(beats(bpm, 2)):
        note = riff[(i // 4) % 4]
        chord = sum(tone(hz(note + iv), 60 / bpm / 2, "saw", 0.005, 0.4) for iv in (0, 7, 12))
        place(out, 0.35 * np.tanh(4 * lowpass(chord, 3000)), b)
        if i % 4 == 0:
            place(out, kick(rng), b)
        if i % 4 == 2:
            place(out, 0.9 * snare(rng), b)
        place(out, 0.12 * noise_hit(rng, 0.08, 0.03, (5000, 7900)), b)
    return out


def piano(rng: np.random.Generator, root: int) -> np.ndarray:
    out, bpm = np.zeros(N), rng.uniform(66, 90)
    progression = [[0, 4, 7], [-3, 0, 4], [5, 9, 12], [7, 11, 14]]
    for i, b in enumerate(beats(bpm, 2)):
        chord = progression[(i // 4) % 4]
        place(out, 0.35 * piano_note(hz(root + chord[i % 3] + 12), 1.5), b)
        if i % 4 == 0:
            place(out, 0.3 * piano_note(hz(root - 12 + chord[0]), 2.5), b)
    return out


def jazz(rng: np.random.Generator, root: int) -> np.ndarray:
    out, bpm = np.zeros(N), rng.uniform(130, 180)
    beat = 60 / bpm
    walk = root - 24
    for i, b in enumerate(beats(bpm)):
        walk += int(rng.choice([-2, -1, 1, 2, 3]))
        walk = int(np.clip(walk, root - 29, root - 17))
        place(out, 0.5 * lowpass(tone(hz(walk), beat, "saw", 0.01, 0.25), 600), b)
        place(out, 0.12 * noise_hit(rng, 0.4, 0.25, (3000, 7900)), b)           # ride
        place(out, 0.08 * noise_hit(rng, 0.2, 0.1, (3000, 7900)), b + beat * 2 / 3)  # swung ride
        if i % 4 in (1, 3):
            for iv in (4, 10, 14):  # rootless 7th/9th voicing
                place(out, 0.07 * tone(hz(root + iv), beat * 0.6, "square", 0.01, 0.15), b + beat * 2 / 3)
    return out


def drum_and_bass(rng: np.random.Generator, root: int) -> np.ndarray:
    out, bpm = np.zeros(N), rng.uniform(168, 176)
    pattern = "k.s..ks.k.s..k.s" if rng.random() < 0.5 else "k.s.ks..k.s...s."
    step = 60 / bpm / 4
    for i, at in enumerate(np.arange(0, SECONDS, step)):
        hit = pattern[i % 16]
        if hit == "k":
            place(out, 0.9 * kick(rng), at)
        elif hit == "s":
            place(out, 0.8 * snare(rng), at)
        place(out, 0.08 * noise_hit(rng, 0.04, 0.01, (6000, 7900)), at)
    for k, at in enumerate(np.arange(0, SECONDS, 16 * step)):
        place(out, 0.5 * tone(hz(root - 24 + [0, 3, -2, 5][k % 4]), 16 * step, "sine", 0.02, 3.0), at)
    return out


def strings(rng: np.random.Generator, root: int) -> np.ndarray:
    out = np.zeros(N)
    for k, start in enumerate(np.arange(0, SECONDS, 2.0)):
        chord = [[0, 4, 7, 12], [-3, 0, 4, 9], [-7, -3, 0, 5], [-5, -1, 2, 7]][k % 4]
        for note in chord:
            for detune in (-0.004, 0.0, 0.004):
                place(out, 0.06 * tone(hz(root + note) * (1 + detune), 2.4, "saw", 0.35, 3.0, 0.006), start)
    return lowpass(out, 2500)


def folk_guitar(rng: np.random.Generator, root: int) -> np.ndarray:
    out, bpm = np.zeros(N), rng.uniform(88, 110)
    chords = [[0, 7, 12, 16, 19], [-5, 2, 7, 11, 14], [-3, 4, 9, 12, 16], [5, 12, 17, 21, 24]]
    for i, b in enumerate(beats(bpm, 2)):
        chord = chords[(i // 4) % 4]
        for j, note in enumerate(chord if i % 2 == 0 else chord[::-1]):
            place(out, 0.25 * pluck(rng, hz(root - 12 + note), 1.2), b + 0.012 * j)
    return out


STYLES: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "ambient": ambient, "drum_and_bass": drum_and_bass, "folk_guitar": folk_guitar, "jazz": jazz,
    "piano": piano, "rock": rock, "strings": strings, "techno": techno,
}


def render(style: str, index: int) -> np.ndarray:
    """Clip `index` of `style`: seeded by both, in a key chosen by the seed, peak-normalised to 0.8."""
    seed = list(STYLES).index(style) * 1000 + index
    rng = np.random.default_rng(seed)
    audio = STYLES[style](rng, int(rng.integers(55, 67)))
    return (0.8 * audio / max(np.abs(audio).max(), 1e-9)).astype(np.float32)


def ensure_demo(root: Path) -> Path:
    """Generate the demo into `root` unless a complete copy of this version is there. Written to a
    temporary sibling folder and renamed into place, so a killed generation leaves nothing half-made."""
    marker = root / ".complete"
    if marker.is_file() and marker.read_text() == DEMO_VERSION:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=root.parent))
    try:
        for style in STYLES:
            (staging / style).mkdir()
            for i in range(CLIPS_PER_STYLE):
                sf.write(staging / style / f"{style}.{i:02d}.wav", render(style, i), SR, subtype="PCM_16")
        (staging / ".complete").write_text(DEMO_VERSION)
        if root.exists():
            shutil.rmtree(root)
        os.replace(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root
