"""Keys as people read them: a short display name, and a cell key as its tiny grey picture.

A state key can be long: a Go-Explore cell key of an Atari screen is a 95-character string of
grey levels (``"00000000000/00001110000/..."``, see :class:`man_rl.envs.CellKey`). Pages and
grids show :func:`display_key` instead (the key itself where it is short, else its start and
a digest that tells keys apart), and draw a cell key as the picture it encodes
(:func:`cell_picture`): each cell one grey pixel, level 0 black, the top level white.

Example:
    >>> display_key((3, 1, 0))
    '(3, 1, 0)'
    >>> display_key("0000/0110/0000")
    'cells 4x3 #47b54a'
    >>> cell_picture("07/70", levels=8).tolist()
    [[0, 255], [255, 0]]
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable

import numpy as np

from man_rl.errors import InvalidValueError

#: The digits of a cell key's grey levels, ``0 .. 35`` (base 36).
CELL_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_DECODE = {c: i for i, c in enumerate(CELL_DIGITS)}
#: Keys whose ``repr`` is at most this long are shown as they are.
SHORT_KEY = 28


def digest(key: Hashable) -> str:
    """Six hex digits that tell keys apart (stable across runs, unlike ``hash``)."""
    return hashlib.blake2b(repr(key).encode("utf-8"), digest_size=3).hexdigest()


def cell_grid(key: Hashable) -> np.ndarray:
    """The grid of grey levels a cell key names: rows of base-36 digits joined by ``"/"``.

    Raises :class:`InvalidValueError` for anything else.

    Example:
        >>> cell_grid("012/345").tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    rows = key.split("/") if isinstance(key, str) else []
    lengths = {len(row) for row in rows}
    if len(lengths) != 1 or 0 in lengths or not set(key) <= {"/", *_DECODE}:
        raise InvalidValueError(
            f"{key!r} is not a cell key: rows of base-36 digits of equal length, joined by '/'"
        )
    return np.array([[_DECODE[c] for c in row] for row in rows], dtype=np.int64)


def _cells(key: Hashable) -> np.ndarray | None:
    """The grid a cell key of at least 2 x 2 cells names, else ``None`` (a guess from text)."""
    if not isinstance(key, str) or "/" not in key:
        return None
    try:
        grid = cell_grid(key)
    except InvalidValueError:
        return None
    return grid if grid.shape[0] >= 2 and grid.shape[1] >= 2 else None


def is_cell_key(key: Hashable) -> bool:
    """Whether ``key`` reads as a cell key of at least 2 x 2 cells (a guess from its text)."""
    return _cells(key) is not None


def cell_levels(keys: Iterable[Hashable]) -> int:
    """Grey levels that span ``keys``' cells: the largest digit + 1 (at least 2)."""
    grids = (_cells(key) for key in keys)
    top = max((int(grid.max()) for grid in grids if grid is not None), default=1)
    return max(2, top + 1)


def cell_picture(key: Hashable, levels: int | None = None) -> np.ndarray | None:
    """The ``height x width`` uint8 grey picture a cell key encodes; ``None`` for other keys.

    ``levels``: the key function's grey levels (``memory.key_settings["levels"]``); default
    the key's own largest level + 1, so its brightest cell is white.
    """
    grid = _cells(key)
    if grid is None:
        return None
    top = (levels if levels is not None else max(2, int(grid.max()) + 1)) - 1
    return np.clip(np.round(grid * 255.0 / max(top, 1)), 0, 255).astype(np.uint8)


def display_key(key: Hashable, width: int = SHORT_KEY) -> str:
    """A short name for ``key``: its ``repr`` when short, else a shortened one with a digest.

    Example:
        >>> display_key("x" * 40)
        "'xxxxxxxxxxxxxxxxx… #6b7e74"
    """
    grid = _cells(key)
    if grid is not None:
        rows, cols = grid.shape
        return f"cells {cols}x{rows} #{digest(key)}"
    text = repr(key)
    if len(text) <= width:
        return text
    return f"{text[: max(4, width - 10)]}… #{digest(key)}"


__all__ = [
    "CELL_DIGITS",
    "SHORT_KEY",
    "cell_grid",
    "cell_levels",
    "cell_picture",
    "digest",
    "display_key",
    "is_cell_key",
]
