"""Layouts: where each state key sits in a picture grid (rows x columns, with labels).

The paper's Figures 7-8 put position along the columns and direction along the rows. Env
adapters in ``man_rl.envs`` build layouts for MiniGrid and discrete envs; users can build
their own for any key.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from man_rl.errors import InvalidValueError
from man_rl.key_names import display_key


@dataclass(frozen=True)
class Layout:
    """A grid of cells, each naming at most one state key.

    Args:
        cells: ``key -> (row, col)``.
        row_labels: one label per row (e.g. directions).
        col_labels: one label per column (e.g. positions).
        row_title: what the rows mean.
        col_title: what the columns mean.
        names: ``key -> display name`` for keys whose own text says little (e.g. a RAM
            key ``3`` is ``"paddle x 3/7"``); :meth:`name` falls back to
            :func:`~man_rl.key_names.display_key`.
        captions: label every cell with its key's name (and a cell key's picture) rather
            than the rows and columns: for plain grids whose rows and columns mean nothing.

    Example:
        >>> layout = Layout.from_keys([(1, 1, 0), (2, 1, 0), (1, 1, 1)],
        ...                           row_of=lambda k: k[2], col_of=lambda k: k[:2])
        >>> layout.shape, layout.cells[(1, 1, 1)], layout.col_labels
        ((2, 2), (1, 0), ('(1, 1)', '(2, 1)'))
    """

    cells: Mapping[Hashable, tuple[int, int]]
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    row_title: str = "row"
    col_title: str = "column"
    names: Mapping[Hashable, str] = field(default_factory=dict)
    captions: bool = False
    _taken: frozenset[tuple[int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        taken = set()
        for key, (row, col) in self.cells.items():
            if not (0 <= row < len(self.row_labels) and 0 <= col < len(self.col_labels)):
                raise InvalidValueError(
                    f"layout cell {(row, col)} of key {key!r} is outside the "
                    f"{len(self.row_labels)} x {len(self.col_labels)} grid"
                )
            if (row, col) in taken:
                raise InvalidValueError(f"two keys share layout cell {(row, col)}")
            taken.add((row, col))
        object.__setattr__(self, "_taken", frozenset(taken))

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return len(self.row_labels), len(self.col_labels)

    def name(self, key: Hashable) -> str:
        """How pages and grids name ``key``: its entry in ``names``, else its display name."""
        return self.names.get(key) or display_key(key)

    @property
    def keys(self) -> list[Hashable]:
        """Keys in row-major cell order."""
        return sorted(self.cells, key=lambda k: self.cells[k])

    @classmethod
    def from_keys(
        cls,
        keys: Iterable[Hashable],
        *,
        row_of: callable = lambda key: 0,  # type: ignore[valid-type]
        col_of: callable = lambda key: key,  # type: ignore[valid-type]
        row_title: str = "row",
        col_title: str = "column",
    ) -> Layout:
        """Build a layout by sorting each key's row value and column value."""
        keys = list(keys)
        rows = _sorted({row_of(k) for k in keys})
        cols = _sorted({col_of(k) for k in keys})
        row_index = {value: i for i, value in enumerate(rows)}
        col_index = {value: i for i, value in enumerate(cols)}
        cells = {k: (row_index[row_of(k)], col_index[col_of(k)]) for k in keys}
        return cls(
            cells=cells,
            row_labels=tuple(str(r) for r in rows),
            col_labels=tuple(str(c) for c in cols),
            row_title=row_title,
            col_title=col_title,
        )


def _sorted(values: set) -> list:
    try:
        return sorted(values)
    except TypeError:  # keys of mixed types: any stable order will do
        return sorted(values, key=repr)


def flat_layout(keys: Iterable[Hashable], columns: int = 8) -> Layout:
    """A plain grid of ``keys`` in the given order, ``columns`` per row, each cell captioned.

    Example:
        >>> flat_layout(["kitchen", "hall", "x" * 40], columns=2).name("x" * 40)
        "'xxxxxxxxxxxxxxxxx… #6b7e74"
    """
    keys = list(keys)
    if columns < 1:
        raise InvalidValueError(f"columns must be >= 1, got {columns}")
    rows = max(1, -(-len(keys) // columns))
    cols = min(columns, max(1, len(keys)))
    cells = {key: divmod(i, cols) for i, key in enumerate(keys)}
    return Layout(
        cells=cells,
        row_labels=tuple(str(r) for r in range(rows)),
        col_labels=tuple(str(c) for c in range(cols)),
        captions=True,
    )


__all__ = ["Layout", "flat_layout"]
