"""Shared helpers of the plotting modules: frame checks, stacks, key lookup, saving PNGs."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.io.atomic import atomic_file
from man_rl.layout import Layout

_CHANNELS = (1, 3, 4)


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: float = 150) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically; returns the path written.

    Written with :func:`man_rl.io.atomic.atomic_file`, so a reader never sees half a file.
    Missing folders are created.

    Args:
        fig: the figure (any function of :mod:`man_rl.plotting` returns one).
        path: where to write; must end in ``.png``.
        dpi: pixels per inch of the PNG.
    """
    if not isinstance(fig, Figure):
        raise InvalidTypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InvalidValueError(
            f"save_figure writes PNG files; give a path ending in .png, got {path}"
        )
    if not dpi > 0:
        raise InvalidValueError(f"dpi must be > 0, got {dpi}")
    with atomic_file(path) as handle:
        fig.savefig(handle, format="png", dpi=dpi, facecolor="white")
    return path


def as_frames(value: Any, what: str, *, stack: bool | None = None) -> np.ndarray:
    """Check one frame or a stack of frames; return a ``uint8`` stack ``(n, H, W[, C])``.

    ``stack=None`` guesses: 2-D is one grey frame, 3-D with a last axis of 1, 3 or 4 is one
    colour frame, other 3-D is a stack of grey frames, 4-D a stack of colour frames.
    ``stack=True`` reads 3-D as ``(n, H, W)`` and 4-D as ``(n, H, W, C)``. Pixels must be
    ``uint8``, integers in 0..255 or floats in [0, 1]. A single channel is dropped (grey).
    """
    if not isinstance(value, np.ndarray):
        raise InvalidTypeError(
            f"{what} must be a numpy array (a frame (H, W) / (H, W, C) or a stack of them), "
            f"got {type(value).__name__}"
        )
    array = value
    if stack is None:
        single = array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in _CHANNELS)
    else:
        single = not stack
    if single and array.ndim in (2, 3):
        array = array[None]
    if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[-1] not in _CHANNELS):
        raise InvalidValueError(
            f"{what} has shape {value.shape}; expected a frame (H, W) or (H, W, C) with C in "
            f"{_CHANNELS}, or a stack (n, H, W) / (n, H, W, C)"
        )
    if min(array.shape) < 1:
        raise InvalidValueError(f"{what} is empty (shape {value.shape})")
    array = _to_uint8(array, what)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


def _to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise InvalidTypeError(f"{what} has dtype {array.dtype}; pixels must be uint8 (0-255)")
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise InvalidValueError(
                f"{what} has integer pixels outside 0..255 (min {array.min()}, max "
                f"{array.max()}); clip or rescale them, then .astype(np.uint8)"
            )
        return array.astype(np.uint8)
    if not np.isfinite(array).all():
        raise InvalidValueError(f"{what} has NaN or infinite pixels")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise InvalidValueError(
            f"{what} has float pixels in [{low:g}, {high:g}]; floats must lie in [0, 1] "
            "(divide by the maximum value, e.g. digits / 16), or pass uint8 0-255"
        )
    return np.round(array * 255).astype(np.uint8)


def harmonise(stacks: list[np.ndarray], what: str) -> list[np.ndarray]:
    """Check every stack has one ``H x W``; make all colour (RGB) if any is colour."""
    shapes = {s.shape[1:3] for s in stacks}
    if len(shapes) > 1:
        raise InvalidValueError(
            f"all {what} frames must share one height x width, got {sorted(shapes)}; resize "
            "them to one size first"
        )
    if not any(s.ndim == 4 for s in stacks):
        return stacks
    out = []
    for s in stacks:
        if s.ndim == 3:
            s = np.repeat(s[..., None], 3, axis=-1)
        elif s.shape[-1] == 4 and any(t.ndim == 3 or t.shape[-1] == 3 for t in stacks):
            s = s[..., :3]
        out.append(s)
    return out


def layout_key(layout: Layout, key: Any, what: str) -> Hashable:
    """The layout's own key equal to ``key`` (numpy scalars allowed); error when absent."""
    try:
        if key in layout.cells:
            return key
    except TypeError:
        pass
    if isinstance(key, np.generic | np.ndarray):
        from man_rl.keys import normalize_key

        try:
            normal = normalize_key(key)
        except InvalidTypeError:
            normal = None
        if normal is not None and normal in layout.cells:
            return normal
    preview = ", ".join(repr(k) for k in layout.keys[:6])
    raise InvalidValueError(
        f"{what} key {key!r} is not in the layout (which has {len(layout.cells)} keys, e.g. "
        f"{preview}); build the layout from every key you plot, or leave this key out"
    )


def check_mapping(value: Any, what: str) -> Mapping:
    """Refuse anything but a mapping with a message naming the argument."""
    if not isinstance(value, Mapping):
        raise InvalidTypeError(f"{what} must be a mapping (dict), got {type(value).__name__}")
    return value


def state_colors(count: int) -> np.ndarray:
    """``count`` distinct RGBA colours: tab10 / tab20 when they suffice, else a spread of turbo."""
    from matplotlib import colormaps

    if count <= 10:
        return colormaps["tab10"](np.arange(count))
    if count <= 20:
        return colormaps["tab20"](np.arange(count))
    return colormaps["turbo"](np.linspace(0.05, 0.95, count))
