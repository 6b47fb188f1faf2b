"""The page's summary: the memory's facts, the model's and judge's figures, a histogram.

:func:`summary_html` is the summary section of the report page: a table of the memory's facts
(states, frames, frame shape, capacity, file version), with a model a table of the strict
judge's aggregate figures, and an inline SVG histogram of the frames held per state
(:func:`histogram` bins them).

Example:
    >>> import numpy as np
    >>> histogram(np.array([1, 3, 3]))
    [(1, 1, 1), (2, 2, 0), (3, 3, 2)]
    >>> histogram_svg(histogram(np.array([1, 3, 3]))).count("<rect")
    3
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np

from man_rl.glossary import explain
from man_rl.stm.memory import ShortTermMemory

MAX_BARS = 30


def histogram(counts: np.ndarray, max_bars: int = MAX_BARS) -> list[tuple[int, int, int]]:
    """``(low, high, states)`` bars of frames held per state, at most ``max_bars`` of them.

    One bar per count where the counts span at most ``max_bars`` values, else equal ranges.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if not len(counts):
        return []
    low, high = int(counts.min()), int(counts.max())
    width = max(1, -(-(high - low + 1) // max_bars))
    bars = []
    for start in range(low, high + 1, width):
        end = min(high, start + width - 1)
        bars.append((start, end, int(((counts >= start) & (counts <= end)).sum())))
    return bars


def summary_facts(memory: ShortTermMemory, source: Any | None = None) -> dict[str, Any]:
    """The memory's facts for the page's summary (``source``: its file's ``FileInfo``)."""
    counts = np.array(list(memory.counts().values()), dtype=np.int64)
    facts: dict[str, Any] = {
        "states": memory.num_keys,
        "frames held": len(memory),
        "frames seen": int(sum(memory.seen().values())),
        "frame shape": " x ".join(map(str, memory.frame_shape or ())) or "-",
        "capacity": f"{memory.capacity} frames per state ({memory.eviction})",
    }
    if len(counts):
        facts["frames per state"] = (
            f"min {counts.min()}, median {np.median(counts):g}, max {counts.max()}"
        )
    if source is not None:
        facts["file"] = f"{source.title}, format {source.format_version}" + (
            f", written by man_rl {source.man_rl_version}" if source.man_rl_version else ""
        )
    return facts


def judge_facts(report: Any, model: Any, memory: ShortTermMemory | None = None) -> dict[str, Any]:
    """The model's and the judge's aggregate figures for the page's summary.

    With ``memory`` (the page's), also the model's coverage of it and, for a model that
    recognises states, its recognition of the memory's real frames: every figure
    ``man-rl evaluate`` prints.
    """
    training = getattr(model, "training_state", None)
    facts: dict[str, Any] = {
        "model": f"{type(model).__name__}, {len(model.keys)} states"
        + (f", trained {training.step} steps" if training is not None else ""),
        "states judged": len(report.states),
        "judge ceiling": report.ceiling,
        "judge accuracy": report.accuracy,
        "accuracy / ceiling": report.accuracy_ratio,
        "fidelity": report.fidelity,
        "mean-frame fidelity (blur baseline)": report.mean_frame_fidelity,
        "diversity": report.diversity,
        "precision": report.precision,
        "manifold recall": report.recall,
        "manifold coverage": report.coverage,
        "copies": report.copies,
        "FID / KID": (
            "-"
            if report.fid is None
            else f"{report.fid:.3g} / {report.kid:.3g}"
            if report.kid is not None
            else f"{report.fid:.3g}"
        ),
    }
    if memory is not None:
        from man_rl.evaluation.metrics import coverage, recognition_accuracy

        facts["coverage"] = coverage(memory, model.keys)
        if getattr(model, "recognizes", False):
            facts["recognition"] = recognition_accuracy(model, memory).accuracy
    return facts


def _tooltip(name: str) -> str:
    """A ``title`` attribute with the glossary's line for figure ``name`` (or nothing)."""
    text = explain(name)
    return "" if text is None else f' class="explained" title="{html.escape(text)}"'


def facts_table(facts: Mapping[str, Any], caption: str) -> str:
    """A two-column HTML table of ``name: value`` facts (escaped)."""
    rows = "".join(
        f"<tr><th{_tooltip(name)}>{html.escape(name)}</th>"
        f"<td>{html.escape(format_value(value))}</td></tr>"
        for name, value in facts.items()
    )
    return f'<table class="facts"><caption hidden>{caption}</caption>{rows}</table>'


def format_value(value: Any) -> str:
    """A figure as the page writes it: 3 decimals, a dash for ``None``."""
    if value is None:
        return "\u2013"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def histogram_svg(bars: list[tuple[int, int, int]], width: int = 360, height: int = 150) -> str:
    """An inline SVG bar chart of ``(low, high, states)`` bars (frames held per state)."""
    if not bars:
        return ""
    left, bottom, top = 34, 26, 8
    inner_w, inner_h = width - left - 6, height - bottom - top
    tallest = max(n for _, _, n in bars) or 1
    step = inner_w / len(bars)
    parts = []
    for i, (low, high, n) in enumerate(bars):
        h = inner_h * n / tallest
        x, y = left + i * step + 1, top + inner_h - h
        span = str(low) if low == high else f"{low}-{high}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}">'
            f"<title>{span} frames: {n} states</title></rect>"
        )
    axis_y = top + inner_h + 14
    if len(bars) <= 12:  # room for a label under every bar
        for i, (low, high, _) in enumerate(bars):
            span = str(low) if low == high else f"{low}-{high}"
            x = left + (i + 0.5) * step
            parts.append(f'<text x="{x:.1f}" y="{axis_y}" text-anchor="middle">{span}</text>')
    else:
        parts.append(f'<text x="{left}" y="{axis_y}">{bars[0][0]}</text>')
        end = f'<text x="{width - 6}" y="{axis_y}" text-anchor="end">{bars[-1][1]}</text>'
        parts.append(end)
    parts.append(
        f'<text x="{left + inner_w / 2:.0f}" y="{height - 2}" text-anchor="middle">'
        "frames held per state</text>"
    )
    parts.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{tallest}</text>')
    parts.append(f'<text x="{left - 4}" y="{top + inner_h}" text-anchor="end">0</text>')
    return (
        f'<svg class="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="histogram of frames held per state">'
        + "".join(parts)
        + "</svg>"
    )


def summary_html(memory: ShortTermMemory, model: Any, report: Any, source: Any) -> str:
    """The summary section's HTML: the facts tables and the histogram."""
    counts = np.array(list(memory.counts().values()), dtype=np.int64)
    parts = [facts_table(summary_facts(memory, source), "memory")]
    if report is not None:
        parts.append(facts_table(judge_facts(report, model, memory), "recall"))
    parts.append(
        "<figure>" + histogram_svg(histogram(counts)) + "<figcaption>frames held per state "
        "(hover a bar for its count)</figcaption></figure>"
    )
    return "\n".join(parts)


__all__ = [
    "facts_table",
    "format_value",
    "histogram",
    "histogram_svg",
    "judge_facts",
    "summary_facts",
    "summary_html",
]
