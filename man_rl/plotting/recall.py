"""The recall grid of a model: recall every state it knows and draw it (paper Figs 7-8).

:func:`recall_grid_figure` is what ``man-rl recall``, ``man-rl demo`` and the notebooks draw.
It takes a layout (from an env adapter, ``man_rl.envs.layout_for``) or guesses one from the
keys (:func:`infer_layout`).

Example:
    >>> import numpy as np
    >>> layout = infer_layout([(1, 1, 0), (2, 1, 0), (1, 1, 1)])
    >>> layout.shape, layout.row_title, layout.col_labels
    ((2, 2), 'direction', ('(1, 1)', '(2, 1)'))
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from typing import Any

from matplotlib.figure import Figure

from man_rl.layout import Layout, flat_layout
from man_rl.plotting.grids import recall_grid
from man_rl.stm.memory import ShortTermMemory

#: Row labels of keys whose third part is a direction 0-3 (right, down, left, up).
DIRECTIONS = ("right (0)", "down (1)", "left (2)", "up (3)")


def infer_layout(keys: Sequence[Hashable]) -> Layout:
    """A layout guessed from the keys' shape.

    ``(x, y, direction)`` int triples -> position (columns, reading order) x direction
    (rows), as in the paper's figures; ``(x, y)`` int pairs -> a 2-D grid of positions;
    anything else -> a plain grid of up to 10 columns in key order.
    """

    def ints(key: Any, n: int) -> bool:
        return isinstance(key, tuple) and len(key) == n and all(isinstance(v, int) for v in key)

    if keys and all(ints(k, 3) for k in keys):
        directions = sorted({k[2] for k in keys})
        positions = sorted({(k[0], k[1]) for k in keys}, key=lambda p: (p[1], p[0]))
        return Layout(
            cells={k: (directions.index(k[2]), positions.index((k[0], k[1]))) for k in keys},
            row_labels=tuple(DIRECTIONS[d] if 0 <= d < 4 else str(d) for d in directions),
            col_labels=tuple(str(p) for p in positions),
            row_title="direction",
            col_title="position",
        )
    if keys and all(ints(k, 2) for k in keys):
        return Layout.from_keys(
            keys, row_of=lambda k: k[1], col_of=lambda k: k[0], row_title="y", col_title="x"
        )
    return flat_layout(keys, columns=min(10, max(1, len(keys))))


def recall_grid_figure(
    model: Any,
    *,
    memory: ShortTermMemory | None = None,
    layout: Layout | None = None,
    reachable: Collection[Hashable] | None = None,
    samples: int = 1,
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """Recall every state ``model`` knows and draw the grid (real screens beside, if given).

    Args:
        model: a trained long-term memory (``TypeA`` or ``TypeB``).
        memory: real screens to draw beside the recalled ones (the newest of each state).
        layout: where each key sits (default: :func:`infer_layout` of the model's keys).
            With an env's whole layout, states the model never saw are marked "never seen".
        reachable: the states an agent can reach, where known: layout cells outside it are
            marked "unreachable".
        samples: recalled samples per state, side by side.
        seed: seed of the samples.
        title: figure title.
    """
    known = model.keys
    layout = layout if layout is not None else infer_layout(known)
    recalled = {key: model.recall(key, samples, seed=seed) for key in known if key in layout.cells}
    real = None
    if memory is not None:
        real = {key: memory.queue(key)[-1] for key in memory.keys if key in layout.cells}
    unseen = unseen_marks(layout, recalled, reachable)
    return recall_grid(recalled, layout, real=real, unseen=unseen, samples=samples, title=title)


def unseen_marks(
    layout: Layout, shown: Collection[Hashable], reachable: Collection[Hashable] | None = None
) -> dict[Hashable, str]:
    """``key -> mark`` of the layout's cells with no picture: "unreachable" or "never seen"."""
    unseen = {}
    for key in layout.cells:
        if reachable is not None and key not in reachable:
            unseen[key] = "unreachable"
        elif key not in shown:
            unseen[key] = "never seen"
    return unseen


__all__ = ["DIRECTIONS", "infer_layout", "recall_grid_figure", "unseen_marks"]
