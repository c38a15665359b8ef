"""Convolutional building blocks shared by the taggers (Won et al. 2020 layouts and parameter names).

Where the original applies ReLU then max pooling, these pool first: max pooling and ReLU commute exactly
(both are monotone), and ReLU then touches fewer values.

"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval


def pool_time(x: torch.Tensor, pooling: int) -> torch.Tensor:
    """Max pooling over the time axis of (batch, channels, time) with stride `pooling` (1: none)."""
    return x if pooling == 1 else F.max_pool1d(x, pooling)


class ConvBlock1d(nn.Module):
    """conv → batch norm → ReLU → max pool (pooled before the ReLU), on a waveform or feature sequence."""

    def __init__(self, c_in: int, c_out: int, shape: int = 3, stride: int = 1, pooling: int = 2):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, shape, stride=stride, padding=shape // 2)
        self.bn = nn.BatchNorm1d(c_out)
        self.relu = nn.ReLU()
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(pool_time(self.bn(self.conv(x)), self.pooling))


class ConvBlock2d(nn.Module):
    """conv → batch norm → ReLU → max pool (pooled before the ReLU), on a spectrogram."""

    def __init__(self, c_in: int, c_out: int, shape: int = 3, stride: int = 1, pooling=2):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, shape, stride=stride, padding=shape // 2)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.mp = nn.MaxPool2d(pooling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.mp(self.bn(self.conv(x))))


class Res2d(nn.Module):
    """Residual block with strided convolution and a projected shortcut where shapes change."""

    def __init__(self, c_in: int, c_out: int, shape: int = 3, stride=2):
        super().__init__()
        self.conv_1 = nn.Conv2d(c_in, c_out, shape, stride=stride, padding=shape // 2)
        self.bn_1 = nn.BatchNorm2d(c_out)
        self.conv_2 = nn.Conv2d(c_out, c_out, shape, padding=shape // 2)
        self.bn_2 = nn.BatchNorm2d(c_out)
        self.diff = stride != 1 or c_in != c_out
        if self.diff:
            self.conv_3 = nn.Conv2d(c_in, c_out, shape, stride=stride, padding=shape // 2)
            self.bn_3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn_2(self.conv_2(self.relu(self.bn_1(self.conv_1(x)))))
        if self.diff:
            x = self.bn_3(self.conv_3(x))
        return self.relu(x + out)


class Res2dPool(nn.Module):
    """Residual block with an identity shortcut, followed by max pooling (Harmonic CNN)."""

    def __init__(self, c_in: int, c_out: int, pooling=2):
        super().__init__()
        self.conv_1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn_1 = nn.BatchNorm2d(c_out)
        self.conv_2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.bn_2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.mp = nn.MaxPool2d(pooling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn_2(self.conv_2(self.relu(self.bn_1(self.conv_1(x)))))
        return self.relu(self.mp(x + out))


class ResSE1d(nn.Module):
    """Residual 1-D block with squeeze-and-excitation channel gating (sample-level CNN + SE)."""

    def __init__(self, c_in: int, c_out: int, shape: int = 3, stride: int = 1, pooling: int = 3):
        super().__init__()
        self.conv_1 = nn.Conv1d(c_in, c_out, shape, stride=stride, padding=shape // 2)
        self.bn_1 = nn.BatchNorm1d(c_out)
        self.conv_2 = nn.Conv1d(c_out, c_out, shape, padding=shape // 2)
        self.bn_2 = nn.BatchNorm1d(c_out)
        self.dense1 = nn.Linear(c_out, c_out)
        self.dense2 = nn.Linear(c_out, c_out)
        self.diff = stride != 1 or c_in != c_out
        if self.diff:
            self.conv_3 = nn.Conv1d(c_in, c_out, shape, stride=stride, padding=shape // 2)
            self.bn_3 = nn.BatchNorm1d(c_out)
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn_2(self.conv_2(self.relu(self.bn_1(self.conv_1(x)))))
        gate = self.sigmoid(self.dense2(self.relu(self.dense1(out.mean(dim=-1).flatten(1)))))
        out = out * gate.unsqueeze(-1)
        if self.diff:
            x = self.bn_3(self.conv_3(x))
        return self.relu(pool_time(x + out, self.pooling))


def global_max(x: torch.Tensor) -> torch.Tensor:
    """(batch, channels, 1, time) → (batch, channels): max over the remaining time axis."""
    return x.squeeze(2).amax(dim=-1)


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """Fold every batch norm that directly follows a convolution (`conv<s>` → `bn<s>` in a block, the
    naming all blocks here share) into that convolution, for inference: same function, one op fewer."""
    for block in model.modules():
        for name, conv in list(block.named_children()):
            bn = getattr(block, "bn" + name[4:], None) if name.startswith("conv") else None
            if isinstance(conv, (nn.Conv1d, nn.Conv2d)) and isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
                setattr(block, name, fuse_conv_bn_eval(conv, bn))
                setattr(block, "bn" + name[4:], nn.Identity())
    return model
