"""The built-in demo collection, generated deterministically (seeded per clip) so the app shows a real map
before any dataset is present. It is synthesised, not recorded, and says so wherever it is shown.

It is built to teach: its 8 styles are 4 pairs, and the two styles of a pair share everything but one
property, so how well a tagger separates each pair shows what it can hear:

- ``piano`` / ``guitar``: the same arpeggios at the same tempi, struck-string vs plucked-string timbre;
- ``hiphop`` / ``drum_and_bass``: the same drum kit, bass and 16-step pattern, at 84-94 vs 168-180 BPM;
- ``jazz_swing`` / ``jazz_straight``: the same walking bass, ride and comping, swung vs straight eighths;
- ``pad_changes`` / ``pad_drone``: the same pad sound, a new chord struck every 3-4 s vs one chord swelling
  over the whole clip: a change a 3-s window (Musicnn) barely sees and a 29-s window (FCN, CRNN) spans.

Each clip is 29 s, exactly FCN's and CRNN's input, so nothing is zero-padded: one seeded phrase of a few
bars (tempo, key, pattern and walking line drawn from the clip's seed) looped over 29 s, as loop-based
music is, which keeps generating the demo to a few seconds.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import scipy  # scipy.signal loads on first use (synthesising the demo), not on import

SR = 16000
SECONDS = 29.0  # FCN's and CRNN's input length: no zero-padding
CLIPS_PER_STYLE = 6
DEMO_VERSION = "2"  # bump when the synthesis changes: the cached demo is regenerated
N = int(SR * SECONDS)


def hz(midi: float | np.ndarray) -> float | np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi) - 69.0) / 12.0)


def place(out: np.ndarray, sound: np.ndarray, at: float) -> None:
    """Add `sound` into `out` starting at `at` seconds (clipped at the end)."""
    i = int(at * SR)
    if i < len(out):
        out[i:i + len(sound)] += sound[: len(out) - i]


@functools.lru_cache(maxsize=256)
def env(n: int, attack: float, decay: float) -> np.ndarray:
    """Linear attack then exponential decay (time constants in seconds) → (n,), read-only (cached)."""
    t = np.arange(n) / SR
    out = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def cycles(n: int, vibrato: float) -> np.ndarray:
    """Cycles elapsed per Hz of pitch at each of n samples, under a 5.5-Hz vibrato of relative depth
    `vibrato` → (n,), read-only (cached: every note of one length and vibrato shares it)."""
    t = np.arange(n) / SR
    out = np.cumsum(1 + vibrato * np.sin(2 * np.pi * 5.5 * t)) / SR
    out.flags.writeable = False
    return out


def kick(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.35 * SR)) / SR
    f = 45 + 110 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t * 9)


def noise_hit(rng: np.random.Generator, seconds: float, decay: float, band: tuple[float, float]) -> np.ndarray:
    sos = scipy.signal.butter(2, band, btype="band", fs=SR, output="sos")
    return scipy.signal.sosfilt(sos, rng.standard_normal(int(seconds * SR))) * env(int(seconds * SR), 0.001, decay)


def snare(rng: np.random.Generator) -> np.ndarray:
    tone = np.sin(2 * np.pi * 190 * np.arange(int(0.2 * SR)) / SR) * env(int(0.2 * SR), 0.001, 0.05)
    return 0.8 * noise_hit(rng, 0.2, 0.06, (1000, 7000)) + 0.4 * tone


def tone(freq: float, seconds: float, shape: str = "sine", attack: float = 0.01, decay: float = 1.0,
         vibrato: float = 0.0) -> np.ndarray:
    """One note: sine, saw or square oscillator with optional vibrato, under an envelope."""
    n = int(seconds * SR)
    phase = freq * cycles(n, vibrato)  # in cycles
    if shape == "saw":
        wave = 2 * (phase % 1.0) - 1
    elif shape == "square":
        wave = np.sign(np.sin(2 * np.pi * phase))
    else:
        wave = np.sin(2 * np.pi * phase)
    return wave * env(n, attack, decay)


@functools.lru_cache(maxsize=64)
def piano_note(freq: float, seconds: float) -> np.ndarray:
    """Additive, slightly inharmonic partials with faster decay higher up: a struck-string sound (cached:
    an arpeggio strikes each pitch again and again; callers must not modify the result)."""
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
    return scipy.signal.lfilter([1.0], a, excitation)


def lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    return scipy.signal.sosfilt(scipy.signal.butter(4, cutoff, fs=SR, output="sos"), x)


TAIL = 3.0  # seconds a phrase may ring on past its loop point


def blank(loop: float) -> np.ndarray:
    """Silence for one phrase: `loop` seconds plus the tail that overlaps the next repeat."""
    return np.zeros(int((loop + TAIL) * SR))


def loop_over(phrase: np.ndarray, loop: float, seconds: float = SECONDS) -> np.ndarray:
    """`phrase` overlap-added every `loop` seconds over `seconds` → (seconds × SR,) samples."""
    out = np.zeros(int(seconds * SR))
    for at in np.arange(0, seconds, loop):
        place(out, phrase, at)
    return out


# piano / guitar: one arpeggio pattern, two timbres
CHORDS = [[0, 4, 7, 12], [-3, 0, 4, 9], [5, 9, 12, 17], [7, 11, 14, 19]]  # I vi IV V


def arpeggios(rng: np.random.Generator, root: int, note: Callable[[float], np.ndarray]) -> tuple[np.ndarray, float]:
    bpm = rng.uniform(76, 100)
    step = 60 / bpm / 2  # eighth notes
    order = [0, 1, 2, 3, 2, 1, 2, 3] if rng.random() < 0.5 else [0, 2, 1, 3, 0, 2, 1, 3]
    loop = len(CHORDS) * 8 * step
    out = blank(loop)
    for c, chord in enumerate(CHORDS):
        place(out, 0.6 * note(hz(root - 12 + chord[0])), c * 8 * step)
        for j, k in enumerate(order):
            place(out, 0.4 * note(hz(root + chord[k])), (c * 8 + j) * step)
    return out, loop


def piano(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return arpeggios(rng, root, lambda f: piano_note(f, 1.6))


def guitar(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return arpeggios(rng, root, lambda f: 1.6 * pluck(rng, f, 1.6))


# hiphop / drum_and_bass: one kit and 16-step pattern, two tempi
PATTERNS = ["k.s..ks.k.s..k.s", "k.s.ks..k.s...s."]


def breakbeat(rng: np.random.Generator, root: int, bpm: float) -> tuple[np.ndarray, float]:
    step = 60 / bpm / 4  # sixteenth notes
    pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]
    loop = 32 * step  # two bars
    out = blank(loop)
    for i in range(32):
        hit = pattern[i % 16]
        if hit == "k":
            place(out, 0.9 * kick(rng), i * step)
        elif hit == "s":
            place(out, 0.8 * snare(rng), i * step)
        place(out, (0.1 if i % 2 else 0.05) * noise_hit(rng, 0.04, 0.01, (6000, 7900)), i * step)
    for bar, interval in enumerate((0, -2)):
        place(out, 0.5 * tone(hz(root - 24 + interval), 16 * step, "sine", 0.02, 3.0), bar * 16 * step)
    return out, loop


def hiphop(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return breakbeat(rng, root, rng.uniform(84, 94))


def drum_and_bass(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return breakbeat(rng, root, rng.uniform(168, 180))


# jazz_swing / jazz_straight: one band, two feels
def jazz(rng: np.random.Generator, root: int, swing: bool) -> tuple[np.ndarray, float]:
    bpm = rng.uniform(120, 150)
    beat = 60 / bpm
    offbeat = beat * (2 / 3 if swing else 1 / 2)
    loop = 8 * beat  # two bars
    out = blank(loop)
    walk = root - 24
    for i in range(8):
        b = i * beat
        walk = int(np.clip(walk + rng.choice([-2, -1, 1, 2, 3]), root - 29, root - 17))
        place(out, 0.5 * lowpass(tone(hz(walk), beat, "saw", 0.01, 0.25), 600), b)
        place(out, 0.12 * noise_hit(rng, 0.4, 0.25, (3000, 7900)), b)  # ride
        place(out, 0.08 * noise_hit(rng, 0.2, 0.1, (3000, 7900)), b + offbeat)
        if i % 4 in (1, 3):
            for iv in (4, 10, 14):  # rootless 7th/9th voicing
                place(out, 0.07 * tone(hz(root + iv), beat * 0.6, "square", 0.01, 0.15), b + offbeat)
    return out, loop


def jazz_swing(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return jazz(rng, root, swing=True)


def jazz_straight(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return jazz(rng, root, swing=False)


# pad_changes / pad_drone: one pad sound, a chord change every few seconds or none
PAD_CHORDS = [[0, 4, 7, 11], [-3, 0, 4, 7], [5, 9, 12, 16], [2, 5, 9, 12]]


def pads(rng: np.random.Generator, root: int, changes: bool) -> tuple[np.ndarray, float]:
    """Changes: a new chord struck every 3-4 s. Drone: the first chord, struck once, swelling over the clip."""
    hold = rng.uniform(3.0, 4.0)
    loop = len(PAD_CHORDS) * hold if changes else SECONDS
    out = blank(loop)
    for k in range(len(PAD_CHORDS) if changes else 1):
        for note in PAD_CHORDS[k]:
            for detune in (-0.004, 0.0, 0.004):
                sound = tone(hz(root + note) * (1 + detune), hold + 1.5, "saw", 0.4, 2.5, 0.005) if changes else \
                    tone(hz(root + note) * (1 + detune), SECONDS, "saw", 8.0, 40.0, 0.005)
                place(out, 0.06 * sound, k * hold)
    return lowpass(out, 2000), loop


def pad_changes(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return pads(rng, root, changes=True)


def pad_drone(rng: np.random.Generator, root: int) -> tuple[np.ndarray, float]:
    return pads(rng, root, changes=False)


Style = Callable[[np.random.Generator, int], tuple[np.ndarray, float]]  # (rng, root MIDI note) → (phrase, loop s)
STYLES: dict[str, Style] = {
    "piano": piano, "guitar": guitar, "hiphop": hiphop, "drum_and_bass": drum_and_bass,
    "jazz_swing": jazz_swing, "jazz_straight": jazz_straight, "pad_changes": pad_changes, "pad_drone": pad_drone,
}
DESCRIPTION = (f"generated by shrooms, not recorded: {len(STYLES)} synthetic styles in 4 pairs that differ in one "
               f"property each × {CLIPS_PER_STYLE} clips × {SECONDS:.0f} s")


def render(style: str, index: int) -> np.ndarray:
    """Clip `index` of `style` → (SECONDS × SR,) float32 at SR Hz: seeded by both, in a key chosen by the
    seed, one phrase looped, peak-normalised to 0.8."""
    if style not in STYLES:
        raise ValueError(f"unknown demo style {style!r}: one of {', '.join(STYLES)}")
    seed = list(STYLES).index(style) * 1000 + index
    rng = np.random.default_rng(seed)
    phrase, loop = STYLES[style](rng, int(rng.integers(55, 67)))
    audio = loop_over(phrase, loop)
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
