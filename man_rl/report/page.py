"""Write the report page of a short-term memory (and, optionally, a long-term memory).

:func:`write_report` writes ``OUT/index.html`` and a folder of small PNGs beside it
(``OUT/report-files-<token>/``: one strip of real frames and one of recalled samples per
state, the recall grid); with ``embed=True`` the pictures are data URIs inside the page, one
file to share (but then the browser holds every picture at once).

The page needs no server and no network: open ``index.html`` from disk. Its HTML, CSS and
JavaScript are package data (``man_rl/report/static``). The states are a JSON list in the
page; the browser builds the cards of one page of states at a time (25-200), so opening and
searching cost what is shown, whatever the number of states.

A reader never sees half a report: the pictures go to a new folder first, then
``index.html`` replaces the old page atomically (:func:`man_rl.io.atomic.atomic_file`), and
only then are the folders of earlier reports removed. The pictures are not fsynced one by one
(a report is derived data; rerun it after a power cut).

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=4)
    >>> for key in [(1, 1, 0), (2, 1, 0), (1, 1, 1)]:
    ...     stm.add(key, np.full((6, 6, 3), 40 * sum(key), np.uint8))
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> result = write_report(out, stm)
    >>> result.page.name, result.states, result.judged, result.grid
    ('index.html', 3, 0, True)
    >>> sorted(p.suffix for p in result.assets.iterdir())
    ['.png', '.png', '.png', '.png']
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Collection, Hashable
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from man_rl.errors import EmptyMemoryError, InvalidValueError
from man_rl.io.atomic import write_bytes_atomically
from man_rl.key_names import cell_levels, cell_picture, display_key
from man_rl.layout import Layout
from man_rl.report import content
from man_rl.report.images import data_uri, evenly, png_bytes, strip, thumbnails
from man_rl.report.summary import summary_html
from man_rl.stm.memory import ShortTermMemory

PAGE_SIZES = (25, 50, 100, 200)
MAX_GRID_STATES = 400
KEY_PICTURE_SCALE = 4  # a cell key's picture: each cell 4 x 4 pixels
ASSETS_PREFIX = "report-files-"
_ASSETS_RE = re.compile(re.escape(ASSETS_PREFIX) + r"[0-9a-f]{8}")
FIGURE_LABELS = {
    "accuracy": "judge accuracy",
    "fidelity": "fidelity",
    "mean_frame_fidelity": "mean-frame fidelity",
    "diversity": "diversity",
    "copies": "copies",
    "held_out_frames": "held-out real frames",
    "samples": "samples judged",
}


class ReportResult(NamedTuple):
    """What :func:`write_report` wrote: the page, its pictures' folder, and what it shows.

    ``report`` is the :class:`~man_rl.evaluation.JudgeReport` (``None`` without a model),
    ``judge`` the judge used.
    """

    page: Path
    assets: Path | None
    states: int
    judged: int
    grid: bool
    report: Any
    judge: Any


def _static(name: str) -> str:
    return resources.files("man_rl.report").joinpath("static", name).read_text("utf-8")


def _check_int(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def grid_layout(keys: list[Hashable], layout: Layout | None) -> Layout | None:
    """``layout``, else the one the keys' shape gives (``(x, y, direction)``, ``(x, y)``).

    ``None`` for keys with no such shape: a plain grid of them says nothing a list does not.
    """
    from man_rl.plotting import infer_layout

    if layout is not None:
        return layout
    guessed = infer_layout(keys)
    return None if guessed.captions else guessed


def _grid_figure(
    memory: ShortTermMemory,
    model: Any,
    layout: Layout,
    reachable: Collection[Hashable] | None,
    seed: int,
) -> Any:
    from man_rl.plotting import recall_grid, recall_grid_figure
    from man_rl.plotting.recall import unseen_marks

    if model is not None:
        return recall_grid_figure(
            model, memory=memory, layout=layout, reachable=reachable, seed=seed,
            title="real | recalled",
        )  # fmt: skip
    newest = {key: memory.queue(key)[-1] for key in memory.keys if key in layout.cells}
    unseen = unseen_marks(layout, newest, reachable)
    return recall_grid(newest, layout, unseen=unseen, title="newest real screen of each state")


class _Pictures:
    """Writes PNGs into the assets folder (made on first use), or returns data URIs."""

    def __init__(self, out: Path, embed: bool) -> None:
        self.embed = embed
        self.folder = out / f"{ASSETS_PREFIX}{secrets.token_hex(4)}"
        self.count = 0

    def put(self, name: str, png: bytes) -> str:
        self.count += 1
        if self.embed:
            return data_uri(png)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(png)
        return f"{self.folder.name}/{name}"

    def put_figure(self, name: str, fig: Any) -> str:
        from man_rl.plotting import save_figure

        if not self.embed:
            save_figure(fig, self.folder / name, dpi=110)
            self.count += 1
            return f"{self.folder.name}/{name}"
        with tempfile.TemporaryDirectory() as folder:
            return self.put(name, save_figure(fig, Path(folder) / name, dpi=110).read_bytes())


class _KeyNames:
    """Each card's readable key: a name (``d``) and, for a cell key, its picture (``kp``)."""

    def __init__(self, memory: ShortTermMemory, layout: Layout | None, pictures: _Pictures):
        settings = memory.key_settings or {}
        levels = settings.get("levels") if settings.get("kind") == "cells" else None
        self.levels = levels if isinstance(levels, int) else cell_levels(memory.keys)
        self.layout, self.pictures = layout, pictures

    def of(self, i: int, key: Hashable) -> dict[str, Any]:
        name = display_key(key) if self.layout is None else self.layout.name(key)
        out: dict[str, Any] = {"d": name}
        picture = cell_picture(key, self.levels)
        if picture is not None:
            big = np.repeat(np.repeat(picture, KEY_PICTURE_SCALE, 0), KEY_PICTURE_SCALE, 1)
            out["kp"] = self.pictures.put(f"{i}k.png", png_bytes(big))
        return out


def _state_pictures(
    pictures: _Pictures,
    i: int,
    frames: np.ndarray,
    recalled: np.ndarray | None,
    real: int,
    thumb: int,
) -> dict[str, Any]:
    shown = evenly(frames, real)
    out: dict[str, Any] = {
        "r": pictures.put(f"{i}r.png", png_bytes(strip(thumbnails(shown, thumb)))),
        "rn": len(shown),
        "g": None,
    }
    if recalled is not None:
        out["g"] = pictures.put(f"{i}g.png", png_bytes(strip(thumbnails(recalled, thumb))))
        out["gn"] = len(recalled)
    return out


def _json_for_script(data: Any) -> str:
    # nothing in the JSON may close the <script> element it sits in
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def write_report(
    out: str | os.PathLike[str],
    memory: ShortTermMemory,
    *,
    model: Any | None = None,
    judge: Any | None = None,
    layout: Layout | None = None,
    reachable: Collection[Hashable] | None = None,
    samples: int = 8,
    real: int = 8,
    seed: int = 0,
    judge_steps: int | None = None,
    page_size: int = 50,
    thumb: int = 64,
    embed: bool = False,
    grid: bool = True,
    title: str | None = None,
    source: Any | None = None,
) -> ReportResult:
    """Write the report page of ``memory`` to the folder ``out`` (made if missing).

    Args:
        out: the folder; ``out/index.html`` is the page.
        memory: the short-term memory (its real frames).
        model: a long-term memory: each state it knows gets ``samples`` recalled screens and
            the strict judge's figures, and the states are listed worst-recalled first.
        judge: a judge trained on ``memory`` (default: one is trained, ``judge_steps``).
        layout: where each key sits in the recall grid (default: from the keys' shape, e.g.
            ``(x, y, direction)``; no grid for keys without one).
        reachable: the states an agent can reach, marked in the grid where known.
        samples: recalled screens per state (judged and shown).
        real: real screens shown per state (evenly spaced, oldest to newest).
        seed: seed of the samples and of a judge trained here.
        judge_steps: most training steps of a judge trained here (default: by state count).
        page_size: states per page when the page opens (25, 50, 100 or 200).
        thumb: longest side of a shown screen in pixels (bigger ones are shrunk).
        embed: pictures inside the page (one file) instead of beside it.
        grid: draw the recall grid where a layout exists and it has at most 400 states.
        title: the page's title (default: from ``source`` or "man_rl report").
        source: the memory file's :class:`~man_rl.fileinfo.FileInfo`, for the summary.
    """
    samples, real = _check_int("samples", samples, 1), _check_int("real", real, 1)
    thumb = _check_int("thumb", thumb, 4)
    if page_size not in PAGE_SIZES:
        raise InvalidValueError(f"page_size must be one of {PAGE_SIZES}, got {page_size!r}")
    if not memory.num_keys:
        raise EmptyMemoryError("the memory holds no frame; collect frames before reporting")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = recalled = None
    if model is not None:
        report, recalled, judge = content.judge_recall(
            memory, model, judge, samples=samples, seed=seed, judge_steps=judge_steps
        )
    entries = content.state_entries(memory, report)
    pictures = _Pictures(out, embed)
    names = _KeyNames(memory, layout, pictures)
    states = []
    for i, entry in enumerate(entries):
        frames = recalled.get(entry.key) if recalled is not None else None
        states.append(
            {
                "k": entry.text,
                "o": entry.order,
                "n": entry.frames,
                "s": entry.seen,
                "f": entry.figures,
                **names.of(i, entry.key),
                **_state_pictures(pictures, i, memory.queue(entry.key), frames, real, thumb),
            }
        )
    grid_html, drew_grid = _grid_section(pictures, memory, model, layout, reachable, seed, grid)
    name = Path(source.path).name if source is not None else None
    title = title or (f"man_rl report: {name}" if name else "man_rl report")
    page = _page(memory, model, report, source, title, states, grid_html, page_size)
    path = write_bytes_atomically(out / "index.html", page.encode("utf-8"))
    keep = None if embed or not pictures.count else pictures.folder
    _remove_old_assets(out, keep)
    return ReportResult(
        page=path,
        assets=keep,
        states=len(states),
        judged=0 if report is None else len(report.states),
        grid=drew_grid,
        report=report,
        judge=judge,
    )


def _grid_section(
    pictures: _Pictures,
    memory: ShortTermMemory,
    model: Any,
    layout: Layout | None,
    reachable: Collection[Hashable] | None,
    seed: int,
    wanted: bool,
) -> tuple[str, bool]:
    if not wanted:
        return "", False
    layout = grid_layout(memory.keys, layout)
    if layout is None:
        return "", False
    if len(layout.cells) > MAX_GRID_STATES:
        note = (
            f"The recall grid is left out: its layout has {len(layout.cells)} states (more "
            f"than {MAX_GRID_STATES}); draw it with man-rl recall."
        )
        return (
            f'<section class="grid"><h2>Recall grid</h2><p class="sub">{note}</p></section>',
            False,
        )
    src = pictures.put_figure("grid.png", _grid_figure(memory, model, layout, reachable, seed))
    rows, cols = layout.shape
    caption = (
        f"{layout.col_title} along the columns ({cols}), {layout.row_title} down the rows "
        f"({rows})" + ("; real | recalled in each cell" if model is not None else "")
    )
    return (
        f'<section class="grid"><h2>Recall grid</h2><figure><img src="{html.escape(src)}" '
        f'alt="recall grid"><figcaption>{html.escape(caption)}</figcaption></figure></section>',
        True,
    )


def _page(
    memory: ShortTermMemory,
    model: Any,
    report: Any,
    source: Any,
    title: str,
    states: list[dict[str, Any]],
    grid_html: str,
    page_size: int,
) -> str:
    from man_rl.version import __version__

    summary = summary_html(memory, model, report, source)
    subtitle = f"{memory.num_keys} states, {len(memory)} frames" + (
        f"; recalled by a {type(model).__name__}, judged by a CNN trained on the real frames"
        if model is not None
        else ""
    )
    data = {
        "states": states,
        "has_figures": report is not None,
        "page_size": page_size,
        "figure_labels": FIGURE_LABELS,
    }
    return fill_template(
        _static("report.html"),
        {
            "CSS": _static("report.css"),
            "JS": _static("report.js"),
            "TITLE": html.escape(title),
            "SUBTITLE": html.escape(subtitle),
            "VERSION": html.escape(__version__),
            "EXAMPLE": html.escape(states[0]["d"]),
            "SUMMARY": summary,
            "GRID": grid_html,
            "DATA": _json_for_script(data),
        },
    )


_MARKER = re.compile(r"@([A-Z]+)@")


def fill_template(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``@NAME@`` replaced by ``values["NAME"]``, in one pass.

    What is put in is never read again, so a title or key that contains a marker stays as
    written. A marker without a value is a bug in the page: ``KeyError``.

    Example:
        >>> fill_template("<h1>@TITLE@</h1>@DATA@", {"TITLE": "@DATA@", "DATA": "{}"})
        '<h1>@DATA@</h1>{}'
    """
    return _MARKER.sub(lambda match: values[match.group(1)], template)


def _remove_old_assets(out: Path, keep: Path | None) -> None:
    for folder in out.iterdir():
        if folder.is_dir() and _ASSETS_RE.fullmatch(folder.name) and folder != keep:
            shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "FIGURE_LABELS",
    "PAGE_SIZES",
    "ReportResult",
    "fill_template",
    "grid_layout",
    "write_report",
]
