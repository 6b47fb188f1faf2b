"""The optimiser side of the fit loop.

Adam's options, the learning rate and its warm-up, and mixed precision, for
:func:`~man_rl.ltm.training.fit`.

Example:
    >>> [round(warmup_factor(step, DEFAULT_WARMUP_STEPS), 2) for step in (1, 50, 100, 500)]
    [0.01, 0.5, 1.0, 1.0]
    >>> check_mixed_precision("bf16")
    torch.bfloat16
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from man_rl.errors import InvalidTypeError, InvalidValueError

#: Default Adam learning rate.
DEFAULT_LR = 3e-3
#: Default length of the learning-rate warm-up: a model's first steps ramp the rate up to
#: ``lr`` linearly over this many steps (see :func:`warmup_factor`).
DEFAULT_WARMUP_STEPS = 100

#: ``mixed_precision`` values and the dtype each runs the network in.
MIXED_PRECISION = {"bf16": torch.bfloat16, "fp16": torch.float16}

#: Devices torch's fused Adam runs on.
FUSED_DEVICES = ("cpu", "cuda")


def adam_options(model: nn.Module) -> dict[str, bool]:
    """``{"fused": True}`` where every parameter is a float on the CPU or a CUDA GPU, else ``{}``.

    Torch's fused Adam is the same update in one kernel per parameter group; its default on
    the CPU loops over the parameters, which Type B's state-wide layers (``K`` rows or columns
    for ``K`` states) made the largest part of a step: at 5,200 states on 32x32x3 screens the
    optimiser took 38 ms of a ~215 ms step, fused 9 ms (``benchmarks/recall_bench.py``).
    """
    params = list(model.parameters())
    supported = all(p.device.type in FUSED_DEVICES and p.is_floating_point() for p in params)
    return {"fused": True} if params and supported else {}


def warmup_factor(step: int, warmup_steps: int) -> float:
    """The share of ``lr`` that a model's ``step``-th step (from 1) trains at: ``step / warmup``.

    Adam's first updates move every weight by about ``lr`` whatever its gradient says (the
    moment estimates are one gradient old), and on frames whose states differ in a few
    pixels that noise killed the encoder's ReLUs within ~30 steps at ``lr=3e-3``: on
    MiniGrid-Empty-16x16 (128x128x3, 782 states) its root vector became one constant for
    every screen and both types recalled at chance after 1,750 steps. Ramping the rate up
    over the first 100 steps kept them alive (the usual remedy: Adam's early adaptive
    rates have high variance, Liu et al. 2020, "On the Variance of the Adaptive Learning
    Rate and Beyond").

    >>> [warmup_factor(step, 4) for step in (1, 2, 4, 9)]
    [0.25, 0.5, 1.0, 1.0]
    >>> warmup_factor(1, 0)
    1.0
    """
    return 1.0 if warmup_steps <= 0 else min(1.0, step / warmup_steps)


def check_lr(lr: object) -> float:
    """``lr`` as a float, or an error saying why it is not a learning rate."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(f"lr must be a number, got {lr!r}")
    if not math.isfinite(lr) or lr <= 0:
        raise InvalidValueError(f"lr must be a finite number > 0, got {lr}")
    return float(lr)


def move_optimizer(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Move ``optimizer``'s state to ``device`` (fused off where fused Adam cannot run)."""
    for group in optimizer.param_groups:
        if group.get("fused") and device.type not in FUSED_DEVICES:
            group["fused"] = None
        # fused Adam keeps its step count on the parameters' device, the loop on the CPU
        step_device = device if group.get("fused") else torch.device("cpu")
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for name, value in state.items():
                if isinstance(value, torch.Tensor):
                    state[name] = value.to(step_device if name == "step" else device)


def check_mixed_precision(mixed_precision: object) -> torch.dtype | None:
    """The dtype of ``mixed_precision`` (``None``, ``"bf16"`` or ``"fp16"``)."""
    if mixed_precision is None:
        return None
    if mixed_precision not in MIXED_PRECISION:
        raise InvalidValueError(
            f"mixed_precision must be None, 'bf16' or 'fp16', got {mixed_precision!r}"
        )
    return MIXED_PRECISION[mixed_precision]


def scaler_for(
    previous: torch.amp.GradScaler | None, amp_dtype: torch.dtype | None, device: torch.device
) -> torch.amp.GradScaler | None:
    """A fresh fp16 loss scaler for this call, carrying over the last call's scale.

    Fresh, so that a call stopped between unscaling and updating (an error, Ctrl-C) leaves
    nothing half-done for the next one; the scale and its growth counter carry over.
    """
    if amp_dtype != torch.float16:
        return None
    scaler = torch.amp.GradScaler(device.type)
    if previous is not None:
        scaler.load_state_dict(previous.state_dict())
    return scaler


__all__ = [
    "DEFAULT_LR",
    "DEFAULT_WARMUP_STEPS",
    "FUSED_DEVICES",
    "MIXED_PRECISION",
    "adam_options",
    "check_lr",
    "check_mixed_precision",
    "move_optimizer",
    "scaler_for",
    "warmup_factor",
]
