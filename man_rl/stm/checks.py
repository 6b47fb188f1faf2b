"""Checks of what a short-term memory is given, each error saying what was wrong and what to do.

Example:
    >>> check_capacity(3), check_shape([4, 5, 3])
    (3, (4, 5, 3))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError


def check_capacity(capacity: Any) -> int:
    """``capacity`` as an int >= 1, or a clear error."""
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
        raise InvalidTypeError(f"capacity must be an int, got {capacity!r}")
    if capacity < 1:
        raise InvalidValueError(f"capacity must be >= 1 (frames kept per state), got {capacity}")
    return int(capacity)


def check_shape(shape: Iterable[Any]) -> tuple[int, ...]:
    """``shape`` as ``(H, W)`` or ``(H, W, C)`` of positive ints, or a clear error."""
    shape = tuple(shape)
    if (
        len(shape) not in (2, 3)
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape)
        or min(shape) < 1
    ):
        raise InvalidValueError(f"frame_shape must be (H, W) or (H, W, C), got {shape}")
    return tuple(int(d) for d in shape)


def check_frame(frame: Any, frame_shape: tuple[int, ...] | None) -> None:
    """Refuse what is not a uint8 ``(H, W)`` / ``(H, W, C)`` frame of ``frame_shape`` (if set)."""
    if not isinstance(frame, np.ndarray):
        raise InvalidTypeError(f"frame must be a numpy uint8 array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InvalidTypeError(
            f"frame must have dtype uint8 (0-255 pixels), got {frame.dtype}; convert "
            "images in [0, 1] with (frame * 255).astype(np.uint8)"
        )
    if frame.ndim not in (2, 3):
        raise InvalidValueError(f"frame must be (H, W) or (H, W, C), got shape {frame.shape}")
    if frame_shape is not None and frame.shape != frame_shape:
        raise InvalidValueError(
            f"frame shape {frame.shape} differs from this memory's frame shape "
            f"{frame_shape}; all frames in one memory share a shape (resize them, or use one "
            "memory per shape)"
        )


__all__ = ["check_capacity", "check_frame", "check_shape"]
