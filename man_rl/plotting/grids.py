"""Picture grids: the recall grid (paper Figs 7-8), digit recall grids, real-vs-recalled pairs.

All three draw a table of cells; a cell holds one or more panels side by side (the real screen,
then recalled samples), or a hatched grey mark where there is no picture to show. Every cell is
one ``Axes`` whose label is ``"cell {row} {col}"`` (``ax.get_label()``), so code and tests can
find it; row labels are the y-labels of each band's first column, column labels the x-labels of
each band's last row. Wide tables wrap into bands stacked top to bottom.

Screens are drawn pixel for pixel: upscaled nearest-neighbour (``interpolation="nearest"``),
never smoothed, so a blurred recall looks blurred and a sharp one sharp. Every text is at
least :data:`MIN_FONT` points (8: legible at 100% zoom at 100 dpi and above).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from man_rl.checks import check_int
from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.key_names import cell_levels, cell_picture
from man_rl.layout import Layout
from man_rl.plotting._common import as_frames, check_mapping, harmonise, layout_key
from man_rl.plotting.table import (
    INTERPOLATION,
    MIN_FONT,
    Caption,
    Item,
    draw_table,
)

NEVER_SEEN = "never seen"
NOT_RECALLED = "not recalled"
NO_REAL = "no real screen"


def recall_grid(
    recalled: Mapping[Hashable, np.ndarray],
    layout: Layout,
    *,
    real: Mapping[Hashable, np.ndarray] | None = None,
    unseen: Iterable[Hashable] | Mapping[Hashable, str] = (),
    samples: int = 1,
    title: str | None = None,
    cell_size: float | None = None,
    max_cols: int | None = None,
) -> Figure:
    """The recall grid of the paper's Figures 7-8: one cell per state, placed by ``layout``.

    Columns are the layout's columns (position), rows its rows (direction); column and row
    labels and titles come from the layout. Each cell shows the recalled screen of its state;
    with ``real``, the real screen is on its left (``real | recalled``). A state in ``unseen``
    (the memory never saw it) is a hatched grey cell labelled "never seen" even when
    ``recalled`` has a frame for it (such a frame is a guess, not a memory); a layout state with
    no recalled frame is marked "not recalled". Grid cells holding no state stay blank.

    Args:
        recalled: ``key -> frame`` (``(H, W)`` grey or ``(H, W, C)`` colour, ``uint8``), or
            ``key -> stack`` ``(n, H, W[, C])`` of recalled samples.
        layout: where each key sits (``man_rl.envs`` builds MiniGrid / discrete layouts).
        real: ``key -> real frame`` (or stack: its first frame is shown), drawn beside.
        unseen: keys the memory never saw, or ``key -> label`` (e.g. ``"unreachable"``).
        samples: recalled samples shown per cell, side by side (from stacks; default 1).
        title: figure title.
        cell_size: width of one screen in inches (default: from the grid's shape).
        max_cols: columns per band before the grid wraps (default: about 20 screens wide).

    Returns:
        The figure (matplotlib object API; save it with :func:`save_figure`).
    """
    if not isinstance(layout, Layout):
        raise InvalidTypeError(f"layout must be a man_rl Layout, got {type(layout).__name__}")
    if not layout.cells:
        raise InvalidValueError("the layout has no cells; build it from the keys to plot")
    check_mapping(recalled, "recalled")
    if not recalled:
        raise InvalidValueError(
            "recalled is empty: pass key -> recalled frame for at least one state"
        )
    check_int("samples", samples, minimum=1)
    marks = _unseen_labels(unseen, layout)
    stacks = {
        layout_key(layout, k, "recalled"): as_frames(v, f"recalled[{k!r}]")
        for k, v in recalled.items()
    }
    reals = {}
    if real is not None:
        check_mapping(real, "real")
        reals = {
            layout_key(layout, k, "real"): as_frames(v, f"real[{k!r}]")[:1] for k, v in real.items()
        }
    frames = harmonise([*stacks.values(), *reals.values()], "recalled and real")
    stacks = dict(zip(stacks, frames[: len(stacks)], strict=True))
    reals = dict(zip(reals, frames[len(stacks) :], strict=True))

    first = 1 if real is not None else 0
    rows, cols = layout.shape
    cells: list[list[tuple[Item, ...] | None]] = [[None] * cols for _ in range(rows)]
    for key, (row, col) in layout.cells.items():
        items: list[Item] = []
        if real is not None:
            frame = reals.get(key)
            items.append(Item(0, 1, frame[0]) if frame is not None else Item(0, 1, NO_REAL, False))
        stack = stacks.get(key)
        if key in marks:
            items.append(Item(first, samples, marks[key]))
        elif stack is None:
            items.append(Item(first, samples, NOT_RECALLED))
        else:
            items.extend(Item(first + i, 1, f) for i, f in enumerate(stack[:samples]))
        cells[row][col] = tuple(items)

    captions = _captions(layout) if layout.captions else None
    shown = "recalled" if samples == 1 else f"{samples} recalled samples"
    note = f"each cell: real (left) | {shown} (right)" if real is not None else None
    slot_names = ("real", "recalled") if real is not None else None
    return draw_table(
        cells,
        frame_hw=frames[0].shape[1:3],
        slots=first + samples,
        row_labels=("",) * rows if captions else layout.row_labels,
        col_labels=layout.col_labels,
        row_title="" if captions else layout.row_title,
        col_title="" if captions else layout.col_title,
        title=title,
        note=note,
        slot_names=slot_names,
        cell_size=cell_size,
        max_cols=max_cols,
        captions=captions,
    )


def _captions(layout: Layout) -> list[list[Caption | None]]:
    """Each cell's key name, with a cell key's grey picture (one scale for the whole grid)."""
    levels = cell_levels(layout.cells)
    rows, cols = layout.shape
    out: list[list[Caption | None]] = [[None] * cols for _ in range(rows)]
    for key, (row, col) in layout.cells.items():
        out[row][col] = Caption(layout.name(key), cell_picture(key, levels))
    return out


def digit_grid(
    frames: np.ndarray | Mapping[Hashable, np.ndarray],
    *,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    cell_size: float | None = None,
    cmap: str = "gray",
) -> Figure:
    """Recalled samples per class: one row per class (e.g. 10 digits), one column per sample.

    Args:
        frames: ``[classes, n, H, W]`` or ``[classes, n, H, W, C]``, or ``label -> stack``
            ``(n, H, W[, C])`` (stacks may differ in ``n``; short rows end blank).
        class_names: row labels (default: the mapping's keys, or ``0 .. classes-1``).
        title: figure title.
        cell_size: width of one sample in inches (default: from the grid's shape).
        cmap: colour map of grey frames (``"gray_r"`` draws ink dark on white, as
            scikit-learn's digits are usually shown).
    """
    if isinstance(frames, Mapping):
        if not frames:
            raise InvalidValueError("frames is empty: pass label -> stack for at least one class")
        names = [str(k) for k in frames]
        stacks = [as_frames(v, f"frames[{k!r}]", stack=True) for k, v in frames.items()]
    elif isinstance(frames, np.ndarray):
        if frames.ndim not in (4, 5):
            raise InvalidValueError(
                f"frames has shape {frames.shape}; expected [classes, n, H, W] or "
                "[classes, n, H, W, C] (or a mapping label -> stack)"
            )
        names = [str(i) for i in range(frames.shape[0])]
        stacks = [as_frames(f, f"frames[{i}]", stack=True) for i, f in enumerate(frames)]
        if not stacks:
            raise InvalidValueError("frames holds no class (its first axis is 0)")
    else:
        raise InvalidTypeError(
            f"frames must be a numpy array or a mapping, got {type(frames).__name__}"
        )
    names = _names(class_names, len(stacks), "class_names") or names
    stacks = harmonise(stacks, "digit")
    n = max(len(s) for s in stacks)
    cells = [[(Item(0, 1, s[j]),) if j < len(s) else None for j in range(n)] for s in stacks]
    return draw_table(
        cells,
        frame_hw=stacks[0].shape[1:3],
        slots=1,
        row_labels=tuple(names),
        col_labels=tuple(str(j + 1) for j in range(n)),
        row_title="class",
        col_title="sample",
        title=title,
        cell_size=min(0.7, 11 / n) if cell_size is None else cell_size,
        cmap=cmap,
    )


def side_by_side(
    real: np.ndarray,
    recalled: np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
    cell_size: float | None = None,
    max_cols: int = 12,
) -> Figure:
    """Real screens (top row) above their recalled counterparts (bottom row), pair by pair.

    Args:
        real: ``[N, H, W]`` or ``[N, H, W, C]`` real frames.
        recalled: the recalled frames, same shape as ``real``.
        labels: one label per pair (e.g. the state key; default ``0 .. N-1``).
        title: figure title.
        cell_size: width of one frame in inches (default: from the number of pairs).
        max_cols: pairs per band before wrapping.
    """
    real_s = as_frames(real, "real", stack=True)
    recalled_s = as_frames(recalled, "recalled", stack=True)
    if len(real_s) != len(recalled_s):
        raise InvalidValueError(
            f"real has {len(real_s)} frames but recalled has {len(recalled_s)}; pass one "
            "recalled frame per real frame"
        )
    real_s, recalled_s = harmonise([real_s, recalled_s], "real and recalled")
    names = _names(labels, len(real_s), "labels") or [str(i) for i in range(len(real_s))]
    cells = [[(Item(0, 1, f),) for f in real_s], [(Item(0, 1, f),) for f in recalled_s]]
    return draw_table(
        cells,
        frame_hw=real_s.shape[1:3],
        slots=1,
        row_labels=("real", "recalled"),
        col_labels=tuple(names),
        row_title="",
        col_title="",
        title=title,
        cell_size=cell_size,
        max_cols=max_cols,
    )


# ---------------------------------------------------------------------- helpers
def _names(names: Sequence[str] | None, count: int, what: str) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InvalidTypeError(f"{what} must be a list of strings, got {type(names).__name__}")
    if len(names) != count:
        raise InvalidValueError(f"{what} has {len(names)} entries for {count} rows/pairs")
    return [str(n) for n in names]


def _unseen_labels(
    unseen: Iterable[Hashable] | Mapping[Hashable, str], layout: Layout
) -> dict[Hashable, str]:
    if isinstance(unseen, str | bytes):
        raise InvalidTypeError("unseen must be an iterable of keys (a list), not a string")
    if isinstance(unseen, Mapping):
        return {layout_key(layout, k, "unseen"): str(v) for k, v in unseen.items()}
    return {layout_key(layout, k, "unseen"): NEVER_SEEN for k in unseen}


__all__ = [
    "INTERPOLATION",
    "MIN_FONT",
    "NEVER_SEEN",
    "NOT_RECALLED",
    "NO_REAL",
    "digit_grid",
    "recall_grid",
    "side_by_side",
]
