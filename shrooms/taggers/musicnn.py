"""Musicnn (Pons et al. 2018), MTG-Jamendo variant: back end 64 channels, dense 200, 3-s input."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBlock1d
from .frontends import MelTagger


class VerticalConv(nn.Module):
    """Timbral filters: tall kernels over frequency, max-pooled over the frequency axis (before the ReLU,
    which commutes with the max)."""

    def __init__(self, c_in: int, c_out: int, shape: tuple[int, int]):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, shape, padding=(0, shape[1] // 2))
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)).amax(dim=2))


class HorizontalConv(nn.Module):
    """Temporal filters: long 1-D kernels over the frequency-averaged spectrogram."""

    def __init__(self, c_in: int, c_out: int, length: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, length, padding=length // 2)
        self.bn = nn.BatchNorm1d(c_out)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x.mean(dim=2))))


class Musicnn(MelTagger):
    """Embedding: the dense1 output (200), before batch norm and ReLU."""

    def __init__(self, n_class: int = 50, backend: int = 64, dense: int = 200, n_mels: int = 96):
        super().__init__(n_mels=n_mels)
        self.layers = nn.ModuleList([
            VerticalConv(1, 204, (int(0.7 * n_mels), 7)),
            VerticalConv(1, 204, (int(0.4 * n_mels), 7)),
            HorizontalConv(1, 51, 129),
            HorizontalConv(1, 51, 65),
            HorizontalConv(1, 51, 33),
        ])
        front_channels = 204 * 2 + 51 * 3
        self.layer1 = ConvBlock1d(front_channels, backend, 7, 1, 1)
        self.layer2 = ConvBlock1d(backend, backend, 7, 1, 1)
        self.layer3 = ConvBlock1d(backend, backend, 7, 1, 1)
        self.dense1 = nn.Linear((front_channels + backend * 3) * 2, dense)
        self.bn = nn.BatchNorm1d(dense)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.5)
        self.dense2 = nn.Linear(dense, n_class)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.front_end(x)
        out = torch.cat([layer(x) for layer in self.layers], dim=1)
        res1 = self.layer1(out)
        res2 = self.layer2(res1) + res1
        res3 = self.layer3(res2) + res2
        out = torch.cat([out, res1, res2, res3], dim=1)
        pooled = torch.cat([out.amax(dim=2), out.mean(dim=2)], dim=1)
        emb = self.dense1(pooled)
        out = self.dropout(self.relu(self.bn(emb)))
        return torch.sigmoid(self.dense2(out)), emb
