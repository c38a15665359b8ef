"""Harmonic CNN (Won et al. 2020): learned harmonic filterbank, then a short-chunk residual CNN on 5 s."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBlock2d, Res2dPool, global_max
from .frontends import HarmonicSTFT, float32_region


class HarmonicCNN(nn.Module):
    """Embedding: the dense1 output (256), before batch norm and ReLU."""

    def __init__(self, n_class: int = 50, channels: int = 128, n_harmonic: int = 6):
        super().__init__()
        self.hstft = HarmonicSTFT(n_harmonic=n_harmonic)
        self.hstft_bn = nn.BatchNorm2d(n_harmonic)
        self.layer1 = ConvBlock2d(n_harmonic, channels, pooling=2)
        self.layer2 = Res2dPool(channels, channels, pooling=2)
        self.layer3 = Res2dPool(channels, channels, pooling=2)
        self.layer4 = Res2dPool(channels, channels, pooling=2)
        self.layer5 = ConvBlock2d(channels, channels * 2, pooling=2)
        self.layer6 = Res2dPool(channels * 2, channels * 2, pooling=(2, 3))
        self.layer7 = Res2dPool(channels * 2, channels * 2, pooling=(2, 3))
        self.dense1 = nn.Linear(channels * 2, channels * 2)
        self.bn = nn.BatchNorm1d(channels * 2)
        self.dense2 = nn.Linear(channels * 2, n_class)
        self.dropout = nn.Dropout(0.5)
        self.relu = nn.ReLU()

    def front_end_db(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, n_harmonic, bands, frames) in dB, before the learned normalisation."""
        return self.hstft(x)

    def front_end(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, n_harmonic, bands, frames), normalised: the CNN's input (float32)."""
        with float32_region(x):
            return self.hstft_bn(self.hstft(x.float()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.front_end(x)
        for i in range(1, 8):
            x = getattr(self, f"layer{i}")(x)
        emb = self.dense1(global_max(x))
        out = self.dropout(self.relu(self.bn(emb)))
        return torch.sigmoid(self.dense2(out)), emb
