"""The judge's network: a small CNN sized from the frame shape, seeded, no global RNG.

Example:
    >>> plan = judge_plan((40, 40, 3))
    >>> plan["patch"], plan["channels"], plan["features"]
    (2, [16, 32], 128)
    >>> net = JudgeNet(plan, (40, 40, 3), classes=7)
    >>> features, logits = net(images(np.zeros((2, 40, 40, 3), np.uint8)))
    >>> tuple(features.shape), tuple(logits.shape)
    ((2, 128), (2, 7))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from man_rl.errors import InvalidValueError
from man_rl.ltm.common import make_generator
from man_rl.ltm.networks import init_weights


def judge_plan(frame_shape: tuple[int, ...]) -> dict[str, Any]:
    """The network's layout for frames of ``frame_shape`` (``(H, W)`` or ``(H, W, C)``).

    ``patch``: stride (and kernel) of the first convolution, the smallest power of two that
    brings the longer side to at most 20 pixels; ``channels``: output channels of each
    convolution, from 16 (patches up to 2 pixels), 24 (4) or 32 (8 and more), doubling (at
    most 128) at each stride-2 convolution until at most 10 x 10 are left (a map that fine
    keeps where things are, which tells many states apart); ``features``: width of the
    hidden layer (64 for frames up to 32 pixels a side, else 128).
    """
    if len(frame_shape) not in (2, 3) or min(frame_shape) < 1:
        raise InvalidValueError(
            f"a judge needs frames of shape (H, W) or (H, W, C), got {tuple(frame_shape)}"
        )
    h, w = frame_shape[:2]
    side = max(h, w)
    patch = 1
    while math.ceil(side / patch) > 20:
        patch *= 2
    channels = [16 if patch <= 2 else 24 if patch == 4 else 32]
    size = math.ceil(side / patch)
    while size > 10:
        size = math.ceil(size / 2)
        channels.append(min(2 * channels[-1], 128))
    return {
        "in_channels": 1 if len(frame_shape) == 2 else int(frame_shape[2]),
        "patch": patch,
        "channels": channels,
        "features": 64 if side <= 32 else 128,
    }


class JudgeNet(nn.Module):
    """The judge's network (see :func:`judge_plan`); ``forward`` gives ``(features, logits)``.

    The layers are built without weights (on the ``meta`` device) and initialised from
    ``generator`` (seed 0 when ``None``), so the global random generator is never drawn from.
    """

    def __init__(
        self,
        plan: dict[str, Any],
        frame_shape: tuple[int, ...],
        classes: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        meta = torch.device("meta")
        layers: list[nn.Module] = []
        c_in, patch = plan["in_channels"], plan["patch"]
        first = plan["channels"][0]
        if patch > 1:
            layers += [nn.Conv2d(c_in, first, patch, patch, device=meta)]
        else:
            layers += [nn.Conv2d(c_in, first, 3, 1, 1, device=meta)]
        layers += [nn.GroupNorm(8, first, device=meta), nn.ReLU()]
        for c_prev, c_next in zip(plan["channels"], plan["channels"][1:], strict=False):
            layers += [nn.Conv2d(c_prev, c_next, 3, 2, 1, device=meta)]
            layers += [nn.GroupNorm(8, c_next, device=meta), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        flat = self.convs(torch.zeros(1, c_in, *frame_shape[:2], device=meta)).numel()
        self.hidden = nn.Linear(flat, plan["features"], device=meta)
        # normalised before its ReLU, the hidden layer cannot die off (with a wide input
        # and many states, a plain one can fall silent early and never learn)
        self.norm = nn.LayerNorm(plan["features"], device=meta)
        self.out = nn.Linear(plan["features"], classes, device=meta)
        self.to_empty(device="cpu")
        init_weights(self, generator or make_generator(torch.device("cpu"), 0))
        for layer in self.modules():
            if isinstance(layer, (nn.GroupNorm, nn.LayerNorm)):
                nn.init.ones_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features, logits)`` of float images ``[B, C, H, W]`` in ``[0, 1]``."""
        features = F.relu(self.norm(self.hidden(self.convs(x).flatten(1))))
        return features, self.out(features)


def images(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 frames ``[N, H, W(, C)]`` as float images ``[N, C, H, W]`` in ``[0, 1]``."""
    x = torch.as_tensor(frames).float().div_(255.0)
    return x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)


__all__ = ["JudgeNet", "images", "judge_plan"]
