"""A state key for any pixel env: the frame shrunk to a few grey cells (Go-Explore's cells).

Go-Explore (Ecoffet et al. 2021, "First return, then explore") names the state of a pixel
game by its screen made tiny: shrunk to 11 x 8 pixels by area averaging, made grey, and
quantised to 8 levels, so that screens that look alike share a key and screens that differ
in where things are get different ones. :class:`CellKey` does that to the frame the wrapper
stores; :class:`CellAdapter` makes cells the fallback key of every pixel env no other adapter
understands, with the cell size and grey levels chosen per game
(:class:`~man_rl.envs.downscale.DynamicCellKey`: fixed 11 x 8 cells cannot see a pole or a
paddle).

**Key format.** A string of ``height`` rows, top to bottom, joined by ``"/"``; each row has
``width`` characters, one per cell left to right, the cell's grey level ``0 .. levels - 1``
as a base-36 digit (``0-9``, then ``a-z``). For the default 11 x 8 cells with 8 levels::

    00000000000/00000000000/00001110000/00017710000/.../00000000000

Two frames get the same key exactly when their cells agree (the format is one-to-one for a
given ``CellKey``); :meth:`CellKey.cells_of` turns a key back into its cells.

Example:
    >>> import numpy as np
    >>> frame = np.zeros((16, 22, 3), np.uint8)
    >>> frame[:, 11:] = 255                        # right half white
    >>> key = CellKey(width=2, height=2, levels=8)(None, frame, {})
    >>> key, CellKey.cells_of(key).tolist()
    ('07/07', [[0, 7], [0, 7]])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.key_names import CELL_DIGITS, cell_grid

SETTINGS_KIND = "cells"
# ITU-R BT.601 luma, as OpenCV's and Pillow's RGB -> grey
_LUMA = np.array([0.299, 0.587, 0.114])


@lru_cache(maxsize=64)
def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights: output cell ``i`` is the mean of input span ``i``."""
    scale = n_in / n_out
    edges = np.arange(n_out + 1) * scale
    pixels = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    weights = np.clip(overlap, 0.0, None) / scale
    weights.setflags(write=False)
    return weights


def grey(frame: np.ndarray) -> np.ndarray:
    """A uint8 frame (``H x W``, ``H x W x 1``, ``H x W x 3`` RGB or RGBA) as float grey."""
    if frame.ndim == 2:
        return frame.astype(np.float64)
    if frame.shape[2] == 1:
        return frame[:, :, 0].astype(np.float64)
    return frame[:, :, :3] @ _LUMA


@dataclass(frozen=True)
class CellKey:
    """Key a frame by its downscaled grey cells (a picklable key function, ``from_frame``).

    ``from_frame = True`` tells :class:`~man_rl.env.wrapper.MemoryWrapper` to call it with
    the frame it stores (rendered or observed) in place of the observation, so the env is
    rendered once per step. Called directly, give it the frame as ``obs``.

    Args:
        width: cells across (default 11).
        height: cells down (default 8).
        levels: grey levels per cell, 2 .. 36 (default 8).

    Example:
        >>> import numpy as np
        >>> key = CellKey()
        >>> text = key(None, np.full((210, 160, 3), 200, np.uint8), {})
        >>> text[:11], len(text), key.cells_of(text).shape
        ('66666666666', 95, (8, 11))
    """

    width: int = 11
    height: int = 8
    levels: int = 8
    from_frame: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidValueError(f"CellKey {name} must be an int >= 1, got {value!r}")
        levels = self.levels
        if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= 36:
            raise InvalidValueError(f"CellKey levels must be an int in 2 .. 36, got {levels!r}")

    def cells(self, frame: Any) -> np.ndarray:
        """The ``height x width`` grid of grey levels of ``frame`` (ints ``0 .. levels-1``)."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
            raise InvalidTypeError(
                f"CellKey needs a uint8 image (H x W or H x W x C), got {frame.dtype} of "
                f"shape {frame.shape}; use it on envs with image frames"
            )
        if frame.ndim == 3 and frame.shape[2] not in (1, 3, 4):
            raise InvalidTypeError(
                f"CellKey needs 1, 3 or 4 channels, got a frame of shape {frame.shape}"
            )
        rows = _area_weights(frame.shape[0], self.height)
        cols = _area_weights(frame.shape[1], self.width)
        mean = rows @ grey(frame) @ cols.T  # area averaging, in 0 .. 255
        return np.minimum((mean * (self.levels / 256.0)).astype(np.int64), self.levels - 1)

    def __call__(self, env: Any, obs: Any, info: dict[str, Any] | None = None) -> str:
        """The key of frame ``obs`` (see the module docstring for the format)."""
        return "/".join("".join(CELL_DIGITS[v] for v in row) for row in self.cells(obs).tolist())

    def settings(self) -> dict[str, Any]:
        """The JSON a memory saves to key the same way again (:meth:`from_settings`).

        Example:
            >>> CellKey(width=4, height=3, levels=16).settings()
            {'kind': 'cells', 'width': 4, 'height': 3, 'levels': 16}
        """
        return {
            "kind": SETTINGS_KIND,
            "width": self.width,
            "height": self.height,
            "levels": self.levels,
        }

    @classmethod
    def from_settings(cls, settings: Any) -> CellKey:
        """The key :meth:`settings` describes; ``InvalidValueError`` for anything else."""
        if not isinstance(settings, dict) or settings.get("kind") != SETTINGS_KIND:
            raise InvalidValueError(f"{settings!r} are not cell-key settings (kind 'cells')")
        try:
            return cls(settings["width"], settings["height"], settings["levels"])
        except KeyError as err:
            raise InvalidValueError(f"cell-key settings {settings!r} lack {err}") from None

    @staticmethod
    def cells_of(key: str) -> np.ndarray:
        """The grid of grey levels a key names (the inverse of the key format).

        Example:
            >>> CellKey.cells_of("012/345").tolist()
            [[0, 1, 2], [3, 4, 5]]
        """
        return cell_grid(key)


__all__ = ["CellKey", "grey"]
