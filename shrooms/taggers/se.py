"""Sample-level CNN + squeeze-and-excitation (Kim et al. 2018): residual SE blocks on raw samples."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ResSE1d
from .sample import SampleLevelStack


class SampleCNNSE(SampleLevelStack):
    """Embedding: the dense1 output (512), before batch norm and ReLU."""

    def __init__(self, n_class: int = 50):
        super().__init__(ResSE1d)
        self.dropout = nn.Dropout(0.5)
        self.dense1 = nn.Linear(512, 512)
        self.bn = nn.BatchNorm1d(512)
        self.dense2 = nn.Linear(512, n_class)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.dense1(self.features(x))
        out = self.dropout(torch.relu(self.bn(emb)))
        return torch.sigmoid(self.dense2(out)), emb
