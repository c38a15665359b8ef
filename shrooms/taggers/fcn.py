"""FCN (Choi et al. 2016): five conv blocks over a 96-band mel spectrogram of 29.0 s (464,000 samples at 16 kHz)."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBlock2d
from .frontends import MelTagger


class FCN(MelTagger):
    """Embedding: the flattened 64-channel output of layer5, before dropout and the dense layer."""

    def __init__(self, n_class: int = 50):
        super().__init__(n_mels=96)
        self.layer1 = ConvBlock2d(1, 64, pooling=(2, 4))
        self.layer2 = ConvBlock2d(64, 128, pooling=(2, 4))
        self.layer3 = ConvBlock2d(128, 128, pooling=(2, 4))
        self.layer4 = ConvBlock2d(128, 128, pooling=(3, 5))
        self.layer5 = ConvBlock2d(128, 64, pooling=(4, 4))
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(64, n_class)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.front_end(x)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4, self.layer5):
            x = layer(x)
        emb = x.flatten(1)
        return torch.sigmoid(self.dense(self.dropout(emb))), emb
