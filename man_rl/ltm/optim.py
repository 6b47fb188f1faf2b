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
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from man_rl.errors import InvalidTypeError, InvalidValueError, TrainingDivergedError

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


#: fp16 steps whose gradient overflowed in a row (each one halves the loss scale) before
#: training is reported as diverged.
MAX_SKIPPED_STEPS = 30


class Warmup:
    """The model's first ``steps`` steps ramp the learning rate up linearly to its base rate.

    A :class:`torch.optim.lr_scheduler.LambdaLR` over this call's steps, of
    :func:`warmup_factor` at the model's step (``first`` is the call's first one), so the ramp
    counts over all ``fit`` calls and a model trained past it is unaffected. The base rate is
    the groups' rate now (an ``lr`` given to this call counts); :meth:`restore` puts it back.

    Example:
        >>> layer = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.Adam(layer.parameters(), lr=0.4)
        >>> warmup = Warmup(optimizer, steps=4, first=2)
        >>> rates = []
        >>> for _ in range(3):
        ...     rates.append(optimizer.param_groups[0]["lr"])
        ...     optimizer.step()
        ...     warmup.after_step()
        >>> [round(rate, 6) for rate in rates]
        [0.2, 0.3, 0.4]
        >>> warmup.restore()
        >>> optimizer.param_groups[0]["lr"]
        0.4
    """

    def __init__(self, optimizer: torch.optim.Optimizer, steps: int, first: int) -> None:
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"]  # LambdaLR's base rate: this call's
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda i: warmup_factor(first + i, steps)
        )
        self.first, self.steps = first, steps
        self._stepped = False

    @property
    def base_lr(self) -> float:
        """The first group's base rate (for messages)."""
        return float(self.scheduler.base_lrs[0])

    def after_step(self) -> None:
        """Set the rates of the next step (nothing to do once the ramp is over)."""
        if self.first + self.scheduler.last_epoch >= self.steps:
            return  # the rates are the base rates from here on
        if self._stepped:
            self.scheduler.step()
            return
        self._stepped = True
        # only a scheduler's first step warns when the optimizer has not stepped yet, as an
        # fp16 step the scaler skipped leaves it; that is still a step of the model's
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            self.scheduler.step()

    def restore(self) -> None:
        """Put the base rates back (the optimizer's saved state stays as it was)."""
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs, strict=True):
            group["lr"] = base
            group.pop("initial_lr", None)


class Precision:
    """How a step runs: float32, or autocast in bf16 / fp16 (fp16 with a loss scaler).

    :meth:`backward` backpropagates and reads the terms and the gradient norm;
    :meth:`step` applies the step, or raises :class:`TrainingDivergedError` on a non-finite
    loss or gradient before any weight changes (in fp16 the scaler skips an overflowing
    step; more than :data:`MAX_SKIPPED_STEPS` in a row raise).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        dtype: torch.dtype | None,
        device: torch.device,
        previous: torch.amp.GradScaler | None = None,
    ) -> None:
        self.optimizer, self.dtype, self.device = optimizer, dtype, device
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.scaler = scaler_for(previous, dtype, device)
        self.skipped_in_a_row = 0
        self.names: tuple[str, ...] = ()

    def autocast(self) -> torch.autocast:
        """The context a forward pass runs in."""
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None)

    def backward(self, terms: Any) -> list[float]:
        """Backpropagate ``terms.loss``; the terms' values and the gradient norm, as floats."""
        if self.scaler is None:
            terms.loss.backward()
        else:
            self.scaler.scale(terms.loss).backward()
            self.scaler.unscale_(self.optimizer)
        self.names = terms._fields
        norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        return torch.stack([*(t.detach().float() for t in terms), norm]).tolist()

    def step(self, values: list[float], step: int, lr: float) -> None:
        """Apply step ``step`` (1-based), or raise where it diverged."""
        if self.scaler is None or not math.isfinite(values[0]):
            if not all(math.isfinite(v) for v in values):
                raise TrainingDivergedError(self._diverged(step, values, lr))
            self.optimizer.step()
            return
        # the scaler skips a step whose gradient overflowed and lowers its scale
        self.skipped_in_a_row = 0 if math.isfinite(values[-1]) else self.skipped_in_a_row + 1
        if self.skipped_in_a_row > MAX_SKIPPED_STEPS:
            raise TrainingDivergedError(
                f"training diverged at step {step}: the fp16 gradients overflowed "
                f"{self.skipped_in_a_row} steps in a row although the loss scale fell to "
                f"{self.scaler.get_scale():.3g}. Train in bf16 or float32 (mixed_precision="
                f"'bf16' or None), or lower the learning rate (lr={lr:g}). The weights were "
                "left as they were."
            )
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def _diverged(self, step: int, values: list[float], lr: float) -> str:
        *terms, grad_norm = values
        shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(self.names, terms, strict=True))
        what = "loss" if not math.isfinite(terms[0]) else "gradient"
        return (
            f"training diverged at step {step}: the {what} is not finite ({shown}, gradient "
            f"norm={grad_norm:.4g}). The learning rate is the likely cause (lr={lr:g}): lower "
            "it (e.g. by 10x); also check the frames are ordinary uint8 screens. The weights "
            "were left as they were before this step."
        )


__all__ = [
    "DEFAULT_LR",
    "DEFAULT_WARMUP_STEPS",
    "FUSED_DEVICES",
    "MAX_SKIPPED_STEPS",
    "MIXED_PRECISION",
    "Precision",
    "Warmup",
    "adam_options",
    "check_lr",
    "check_mixed_precision",
    "move_optimizer",
    "scaler_for",
    "warmup_factor",
]
