"""CRNN (Choi et al. 2017): four conv blocks, then a 2-layer GRU summarises time."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBlock2d
from .frontends import MelTagger, float32_region


class CRNN(MelTagger):
    """Embedding: the GRU output at the last time step (32), before dropout and the dense layer."""

    def __init__(self, n_class: int = 50):
        super().__init__(n_mels=96)
        self.layer1 = ConvBlock2d(1, 64, pooling=(2, 2))
        self.layer2 = ConvBlock2d(64, 128, pooling=(3, 3))
        self.layer3 = ConvBlock2d(128, 128, pooling=(4, 4))
        self.layer4 = ConvBlock2d(128, 128, pooling=(4, 4))
        self.layer5 = nn.GRU(128, 32, 2, batch_first=True)
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(32, n_class)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.front_end(x)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
        with float32_region(x):  # the small GRU stays float32 under a bf16 autocast
            x, _ = self.layer5(x.squeeze(2).permute(0, 2, 1).float())
        emb = x[:, -1, :]
        return torch.sigmoid(self.dense(self.dropout(emb))), emb
