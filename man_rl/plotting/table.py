"""The table every picture grid is drawn as: cells of panels or marks, in bands.

:func:`draw_table` lays out a table of cells (``None``: empty) on one ``Figure``; a cell
holds :class:`Item` s side by side: a frame drawn pixel for pixel (upscaled
nearest-neighbour, :data:`INTERPOLATION`) or a hatched grey mark with a text. Every text is
at least :data:`MIN_FONT` points. :mod:`man_rl.plotting.grids` builds the cells.

Example:
    >>> import numpy as np
    >>> cells = [[(Item(0, 1, np.zeros((4, 4, 3), np.uint8)),), (Item(0, 1, "never seen"),)]]
    >>> fig = draw_table(cells, frame_hw=(4, 4), slots=1, row_labels=["y=1"],
    ...     col_labels=["x=1", "x=2"], row_title="y", col_title="x")
    >>> sorted(ax.get_label() for ax in fig.axes)
    ['cell 0 0', 'cell 0 1']
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from man_rl.checks import check_int
from man_rl.errors import InvalidValueError

#: Smallest font size (points) of any text in a grid: labels, headers, marks.
MIN_FONT = 8.0
#: How screens are scaled to their cells: pixel blocks, no smoothing.
INTERPOLATION = "nearest"
_MARK_FACE = "#e4e4e4"
_MARK_EDGE = "#9a9a9a"


@dataclass(frozen=True)
class Item:
    """One thing in a cell: a frame, or the text of a mark, over ``span`` panel slots."""

    start: int
    span: int
    content: np.ndarray | str
    hatch: bool = True


@dataclass(frozen=True)
class Caption:
    """A cell's caption: a text and, optionally, a small grey picture above it."""

    text: str
    picture: np.ndarray | None = None


#: Height in inches of a caption's picture.
_CAPTION_PICTURE = 0.3


def draw_table(
    cells: list[list[tuple[Item, ...] | None]],
    *,
    frame_hw: tuple[int, int],
    slots: int,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    row_title: str,
    col_title: str,
    title: str | None = None,
    note: str | None = None,
    slot_names: Sequence[str] | None = None,
    cell_size: float | None = None,
    max_cols: int | None = None,
    cmap: str = "gray",
    captions: list[list[Caption | None]] | None = None,
) -> Figure:
    """Place one Axes per cell, in inches, and draw its items.

    ``captions``: a caption under every cell (its key's name, and a picture of the key such as
    a cell key's grey cells), for tables whose rows and columns mean nothing.
    """
    rows, cols = len(cells), len(cells[0])
    height, width = frame_hw
    if max_cols is None:
        max_cols = max(1, 20 // slots)
    check_int("max_cols", max_cols, minimum=1)
    bands = math.ceil(cols / max_cols)
    per_band = math.ceil(cols / bands)
    if cell_size is None:
        cell_size = min(1.0, max(0.45, 16 / (per_band * slots)))
    elif not cell_size > 0:
        raise InvalidValueError(f"cell_size must be > 0 inches, got {cell_size}")

    gap_px = max(1, round(width * 0.08))
    span_px = slots * width + (slots - 1) * gap_px
    panel_h = cell_size * height / width
    cell_w = cell_size * span_px / width
    font = 9.0 if cell_w >= 0.55 else MIN_FONT
    col_space = 0.16 if slots > 1 else 0.06
    row_space = 0.06
    label_h = font / 72 * 1.9
    caption_chars = max(6, int(cell_w * 72 / (0.6 * MIN_FONT)))
    caption_h = 0.0
    if captions is not None:
        found = [c for line in captions for c in line if c is not None]
        lines = max((len(_fill(c.text, caption_chars)) for c in found), default=1)
        pic_h = _CAPTION_PICTURE if any(c.picture is not None for c in found) else 0.0
        caption_h = pic_h + 0.04 + lines * MIN_FONT / 72 * 1.3
        row_space += caption_h
    label_w = max((len(s) for s in row_labels), default=1) * font / 72 * 0.62
    left = 0.15 + (0.3 if row_title else 0.0) + label_w + 0.08
    top = 0.15 + (0.45 if title else 0.0) + (0.25 if note else 0.0) + (0.2 if slot_names else 0)
    band_h = rows * panel_h + (rows - 1) * row_space + caption_h  # the last row's captions
    band_gap = label_h + 0.2
    bottom = label_h + (0.35 if col_title else 0.1)
    grid_w = per_band * cell_w + (per_band - 1) * col_space
    fig_w = max(left + grid_w + 0.2, 4.0)
    fig_h = top + bands * band_h + (bands - 1) * band_gap + bottom
    fig = Figure(figsize=(fig_w, fig_h))

    for row in range(rows):
        for col in range(cols):
            band, j = divmod(col, per_band)
            x0 = left + j * (cell_w + col_space)
            y0 = top + band * (band_h + band_gap) + row * (panel_h + row_space)
            ax = fig.add_axes(
                (x0 / fig_w, 1 - (y0 + panel_h) / fig_h, cell_w / fig_w, panel_h / fig_h),
                label=f"cell {row} {col}",
            )
            ax.set_xlim(0, span_px)
            ax.set_ylim(height, 0)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j == 0:
                ax.set_ylabel(
                    row_labels[row],
                    rotation=0,
                    ha="right",
                    va="center",
                    fontsize=font,
                    labelpad=4,
                )
            if row == rows - 1 and captions is None:
                ax.set_xlabel(col_labels[col], fontsize=font, labelpad=2)
            caption = captions[row][col] if captions is not None else None
            if caption is not None:
                _draw_caption(fig, caption, x0 + cell_w / 2, y0 + panel_h, caption_chars)
            if row == 0 and slot_names and cells[row][col] is not None:
                for k, name in enumerate((slot_names[0], slot_names[1])):
                    start = 0 if k == 0 else 1
                    span = 1 if k == 0 else slots - 1
                    ax.text(
                        (start * (width + gap_px) + span * (width + gap_px) / 2 - gap_px / 2),
                        -height * 0.04,
                        name,
                        ha="center",
                        va="bottom",
                        fontsize=MIN_FONT,
                        color="#555555",
                    )
            for item in cells[row][col] or ():
                _draw_item(ax, item, width, height, gap_px, cell_size, font, cmap)

    if title:
        fig.suptitle(title, y=1 - 0.12 / fig_h, va="top", fontsize=11)
    if note:
        fig.text(
            0.5,
            1 - (0.15 + (0.45 if title else 0.0)) / fig_h,
            note,
            ha="center",
            va="top",
            fontsize=8.5,
            color="#444444",
        )
    grid_mid = (top + (fig_h - top - bottom) / 2) / fig_h
    if row_title:
        fig.text(
            0.12 / fig_w, 1 - grid_mid, row_title, rotation=90, ha="left", va="center", fontsize=9.5
        )
    if col_title:
        fig.text(
            (left + grid_w / 2) / fig_w,
            0.08 / fig_h,
            col_title,
            ha="center",
            va="bottom",
            fontsize=9.5,
        )
    return fig


def _draw_caption(fig: Figure, caption: Caption, x_mid: float, y_top: float, chars: int) -> None:
    """``caption`` centred under a cell whose bottom edge is ``y_top`` inches from the top."""
    fig_w, fig_h = fig.get_size_inches()
    y = y_top + 0.03
    if caption.picture is not None:
        ph, pw = caption.picture.shape[:2]
        w = _CAPTION_PICTURE * pw / ph
        ax = fig.add_axes(
            ((x_mid - w / 2) / fig_w, 1 - (y + _CAPTION_PICTURE) / fig_h, w / fig_w,
             _CAPTION_PICTURE / fig_h),
            label="caption picture",
        )  # fmt: skip
        ax.imshow(caption.picture, cmap="gray", vmin=0, vmax=255, interpolation=INTERPOLATION)
        ax.set_xticks([])
        ax.set_yticks([])
        y += _CAPTION_PICTURE + 0.01
    fig.text(
        x_mid / fig_w,
        1 - y / fig_h,
        "\n".join(_fill(caption.text, chars)),
        ha="center",
        va="top",
        fontsize=MIN_FONT,
        color="#333333",
    )


def _draw_item(
    ax: object,
    item: Item,
    width: int,
    height: int,
    gap_px: int,
    cell_size: float,
    font: float,
    cmap: str,
) -> None:
    x0 = item.start * (width + gap_px)
    w = item.span * width + (item.span - 1) * gap_px
    if isinstance(item.content, np.ndarray):
        frame = item.content
        grey = frame.ndim == 2
        ax.imshow(  # type: ignore[attr-defined]
            frame,
            cmap=cmap if grey else None,
            vmin=0,
            vmax=255,
            extent=(x0, x0 + width, height, 0),
            interpolation=INTERPOLATION,
            aspect="auto",
        )
        return
    span_in = cell_size * w / width
    words = _wrap(item.content, max(4, int(0.9 * span_in * 72 / (0.6 * MIN_FONT))))
    size = MIN_FONT
    ax.add_patch(  # type: ignore[attr-defined]
        Rectangle(
            (x0, 0),
            w,
            height,
            facecolor=_MARK_FACE if item.hatch else "#f4f4f4",
            edgecolor=_MARK_EDGE,
            hatch="///" if item.hatch else None,
            linewidth=0.6,
        )
    )
    ax.text(  # type: ignore[attr-defined]
        x0 + w / 2,
        height / 2,
        "\n".join(words),
        ha="center",
        va="center",
        fontsize=size,
        color="#333333",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0},
    )


def _fill(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters (long words broken)."""
    return textwrap.wrap(text, width) or [""]


def _wrap(text: str, width: int) -> list[str]:
    """The words of ``text``, a word longer than ``width`` characters broken with hyphens.

    Example:
        >>> _wrap("never seen", 6), _wrap("unreachable", 6)
        (['never', 'seen'], ['unrea-', 'chable'])
    """
    lines = []
    for word in text.split():
        while len(word) > width:
            lines.append(word[: width - 1] + "-")
            word = word[width - 1 :]
        lines.append(word)
    return lines


__all__ = ["INTERPOLATION", "MIN_FONT", "Caption", "Item", "draw_table"]
