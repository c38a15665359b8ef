"""Self-attention CNN, CNNSA (Won et al. 2019): a residual CNN, then a 2-layer BERT encoder over time."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .blocks import Res2d
from .frontends import MelTagger

HIDDEN, HEADS, INTERMEDIATE, LAYERS = 256, 8, 1024, 2


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention with BERT's parameter names."""

    def __init__(self):
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, HEADS, HIDDEN // HEADS).permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS)
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3)
        return ctx.reshape(x.shape)


class DenseNorm(nn.Module):
    """Linear projection, residual add, layer norm (BERT's "output" sub-layers)."""

    def __init__(self, d_in: int):
        super().__init__()
        self.dense = nn.Linear(d_in, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.self = SelfAttention()
        self.output = DenseNorm(HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x), x)


class Intermediate(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(HIDDEN, INTERMEDIATE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(self.dense(x))


class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = Attention()
        self.intermediate = Intermediate()
        self.output = DenseNorm(INTERMEDIATE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        att = self.attention(x)
        return self.output(self.intermediate(att), att)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.ModuleList([EncoderLayer() for _ in range(LAYERS)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x)
        return x


class Pooler(nn.Module):
    """tanh(dense(first token)): the [CLS] summary of the sequence."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(x[:, 0]))


def cls_vector() -> torch.Tensor:
    """The fixed [CLS] token of the original: not learned, not in the checkpoint, drawn from seed 0 (the
    original's `numpy.random.seed(0); numpy.random.random((1, 256))`, from a private generator so NumPy's
    global random state is left untouched)."""
    vec = np.random.RandomState(0).random_sample((1, HIDDEN))
    return torch.tensor(vec, dtype=torch.float32)


class CNNSA(MelTagger):
    """Embedding: the BERT pooler output (256), before dropout and the dense layer."""

    def __init__(self, n_class: int = 50, channels: int = 128):
        super().__init__(n_mels=128)
        self.layer1 = Res2d(1, channels, stride=2)
        self.layer2 = Res2d(channels, channels, stride=2)
        self.layer3 = Res2d(channels, channels * 2, stride=2)
        for i in range(4, 8):
            setattr(self, f"layer{i}", Res2d(channels * 2, channels * 2, stride=(2, 1)))
        self.encoder = Encoder()
        self.pooler = Pooler()
        self.register_buffer("vec_cls", cls_vector(), persistent=False)
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(HIDDEN, n_class)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.front_end(x)
        for i in range(1, 8):
            x = getattr(self, f"layer{i}")(x)
        x = x.squeeze(2).permute(0, 2, 1)
        cls = self.vec_cls.expand(x.shape[0], 1, HIDDEN)
        emb = self.pooler(self.encoder(torch.cat([cls, x], dim=1)))
        return torch.sigmoid(self.dense(self.dropout(emb))), emb
