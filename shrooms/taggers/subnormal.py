"""Subnormal (denormal) floating-point values: counting them and setting them to zero in a network.

Subnormals are the nonzero floats smaller in magnitude than the smallest normal one (float32: below
1.18e-38). Intel cores take a slow microcode assist for each one in a multiplication, so a checkpoint
holding many makes its convolutions tens of times slower there (issue #19: the released Musicnn and
CRNN checkpoints, once batch norms are folded into the convolutions, hold 77,306 and 54,738; Musicnn ran
65× slower than with them at zero). As weights they are far below anything that can change a float32
sum of products: flushing them leaves the taggers' outputs bit-identical on the conformance clips
(tests/test_subnormal.py).
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def subnormal_mask(tensor: torch.Tensor) -> torch.Tensor:
    """Where `tensor` holds a subnormal value.

    Parameters
    ----------
    tensor : torch.Tensor, any shape
        Floating-point values (other dtypes have none: the mask is all False).

    Returns
    -------
    torch.Tensor of bool, same shape
        True where the value is nonzero and smaller in magnitude than the dtype's smallest normal number.
    """
    if not tensor.is_floating_point():
        return torch.zeros_like(tensor, dtype=torch.bool)
    return (tensor != 0) & (tensor.abs() < torch.finfo(tensor.dtype).tiny)


def count_subnormal(tensors: Iterable[torch.Tensor]) -> int:
    """How many subnormal values `tensors` hold in all.

    Parameters
    ----------
    tensors : iterable of torch.Tensor
        E.g. `state_dict.values()`, or a module's `parameters()` and `buffers()`.

    Returns
    -------
    int
        The number of subnormal entries (non-floating tensors count none).
    """
    return sum(int(subnormal_mask(t).sum()) for t in tensors)


def flush_subnormal(model: nn.Module) -> nn.Module:
    """Set every subnormal value in `model`'s floating-point parameters and buffers to zero, in place.

    Run it on a network ready for inference (after batch norms are folded: folding can scale a small
    normal weight into the subnormal range).

    Parameters
    ----------
    model : torch.nn.Module
        Any network; its tensors keep their dtype, device and memory format.

    Returns
    -------
    torch.nn.Module
        `model` itself, now without subnormal parameters or buffers.
    """
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            mask = subnormal_mask(tensor)
            if mask.any():
                tensor.masked_fill_(mask, 0.0)
    return model
