"""Spectrogram front ends in plain torch, numerically matching torchaudio's as the taggers were trained.

STFT: n_fft 512, hop 256, the periodic Hann window stored in the checkpoint, centre/reflect padding, power 2.
dB: 10·log10(max(x, 1e-10)), no top-dB clipping.
Front ends always compute in float32, also inside a bfloat16 autocast region (`float32_region`): the
dB of a bfloat16 power spectrum would be off by up to 0.03 dB before the network sees it.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
AMIN = 1e-10


def float32_region(x: torch.Tensor) -> torch.autocast:
    """A region where autocast is off on `x`'s device, so the front end computes in float32."""
    return torch.autocast(x.device.type, enabled=False)


def power_to_db(x: torch.Tensor) -> torch.Tensor:
    """10·log10 of a power spectrogram, floored at 1e-10 (torchaudio's AmplitudeToDB, no top-dB)."""
    return 10.0 * torch.log10(torch.clamp(x, min=AMIN))


class Spectrogram(nn.Module):
    """Power STFT magnitude, (batch, samples) → (batch, n_fft/2+1, frames)."""

    def __init__(self, n_fft: int = N_FFT, hop: int = HOP):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, self.n_fft, hop_length=self.hop, win_length=self.n_fft, window=self.window,
                          center=True, pad_mode="reflect", normalized=False, onesided=True,
                          return_complex=True)
        return spec.abs().pow(2.0)


class MelScale(nn.Module):
    """Applies the mel filterbank stored in the checkpoint (HTK scale, no normalisation)."""

    def __init__(self, n_mels: int):
        super().__init__()
        fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels, fmin=0.0, fmax=8000.0,
                                 htk=True, norm=None).T
        self.register_buffer("fb", torch.from_numpy(np.ascontiguousarray(fb, dtype=np.float32)))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return torch.matmul(spec.transpose(-1, -2), self.fb).transpose(-1, -2)


class MelSpectrogram(nn.Module):
    """Waveform → power mel spectrogram, with torchaudio's parameter names (`spectrogram`, `mel_scale`)."""

    def __init__(self, n_mels: int):
        super().__init__()
        self.spectrogram = Spectrogram()
        self.mel_scale = MelScale(n_mels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mel_scale(self.spectrogram(x))


class MelTagger(nn.Module):
    """Base of the mel taggers: waveform → dB mel spectrogram → learned batch norm (`spec`, `spec_bn`)."""

    def __init__(self, n_mels: int):
        super().__init__()
        self.spec = MelSpectrogram(n_mels)
        self.spec_bn = nn.BatchNorm2d(1)

    def front_end_db(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, n_mels, frames) in dB, before the learned normalisation."""
        return power_to_db(self.spec(x))

    def front_end(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, 1, n_mels, frames), normalised: the CNN's input (float32)."""
        with float32_region(x):
            return self.spec_bn(self.front_end_db(x.float()).unsqueeze(1))


def harmonic_centres(n_harmonic: int, semitone_scale: int) -> tuple[np.ndarray, int]:
    """Centre frequencies of the harmonic filterbank: `semitone_scale` bands a semitone from C1 up to
    the note below Nyquist / n_harmonic, stacked for harmonics 1..n_harmonic. Returns (Hz, bands)."""
    low = librosa.note_to_midi("C1")
    high = librosa.note_to_midi(librosa.hz_to_note(SAMPLE_RATE / (2 * n_harmonic)))
    level = int((high - low) * semitone_scale)
    midi = np.linspace(low, high, level + 1)[:-1]
    hz = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    return np.concatenate([hz * (i + 1) for i in range(n_harmonic)]), level


class HarmonicSTFT(nn.Module):
    """Data-driven harmonic filterbank (Won et al. 2020): triangular band-pass filters at harmonics of
    semitone-spaced f0s, whose bandwidth is rebuilt from the learned quality factor `bw_Q`."""

    def __init__(self, n_harmonic: int = 6, semitone_scale: int = 2, bw_q: float = 1.0):
        super().__init__()
        self.n_harmonic = n_harmonic
        centres, self.level = harmonic_centres(n_harmonic, semitone_scale)
        self.register_buffer("f0", torch.tensor(centres.astype(np.float32)), persistent=False)
        self.register_buffer("fft_bins", torch.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1),
                             persistent=False)
        self.bw_Q = nn.Parameter(torch.tensor([bw_q], dtype=torch.float32))
        self.spec = Spectrogram()

    def filterbank(self) -> torch.Tensor:
        """(n_bins, n_harmonic·level) triangular filters for the current `bw_Q`."""
        bw = ((0.1079 * self.f0 + 24.7) / self.bw_Q).unsqueeze(0)
        f0 = self.f0.unsqueeze(0)
        bins = self.fft_bins.unsqueeze(1)
        up = torch.matmul(bins, 2 / bw) + 1 - (2 * f0 / bw)
        down = torch.matmul(bins, -2 / bw) + 1 + (2 * f0 / bw)
        return torch.clamp(torch.minimum(down, up), min=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, n_harmonic, level, frames) in dB."""
        spec = self.spec(x)
        hspec = torch.matmul(spec.transpose(1, 2), self.filterbank()).transpose(1, 2)
        b, _, frames = hspec.shape
        return power_to_db(hspec.reshape(b, self.n_harmonic, self.level, frames))
