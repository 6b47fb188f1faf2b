"""What the report shows of each state, as plain data: its key, counters and figures.

:func:`judge_recall` recalls ``samples`` screens of every state a model and a memory share and
scores them with the strict judge (:func:`~man_rl.evaluation.judge_samples`), so each state
gets its figures; :func:`state_entries` puts the states in the page's order, the
states whose fidelity is over 3x the median state's first (they look wrong even where the
judge accepts them, :meth:`~man_rl.evaluation.JudgeReport.outliers`), then worst-recalled
(lowest judge accuracy, then highest fidelity, as
:meth:`~man_rl.evaluation.JudgeReport.worst`), then states the model does not know.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=3)
    >>> for key, n in [("a", 1), ("b", 3), ("c", 3)]:
    ...     for _ in range(n):
    ...         stm.add(key, np.zeros((2, 2), np.uint8))
    >>> [(e.text, e.frames) for e in state_entries(stm)]
    [("'a'", 1), ("'b'", 3), ("'c'", 3)]
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from man_rl.stm.memory import ShortTermMemory

FIGURES = ("accuracy", "fidelity", "mean_frame_fidelity", "diversity", "copies")


@dataclass(frozen=True)
class StateEntry:
    """One state of the page: its key, counters and (with a model) judge figures."""

    key: Hashable
    text: str
    order: int
    frames: int
    seen: int
    figures: dict[str, Any] | None = None


def key_text(key: Hashable) -> str:
    """How a key is written in the page and searched for: its ``repr``."""
    return repr(key)


def judge_recall(
    memory: ShortTermMemory,
    model: Any,
    judge: Any | None = None,
    *,
    samples: int = 8,
    seed: int = 0,
    judge_steps: int | None = None,
) -> tuple[Any, dict[Hashable, np.ndarray], Any]:
    """``(judge report, recalled frames, judge)`` of the states ``model`` and ``memory`` share.

    ``judge`` defaults to one trained here on ``memory`` (``train_judge(memory, seed=seed,
    steps=judge_steps)``); a given one must have been trained on this memory.
    """
    from man_rl.errors import InvalidValueError
    from man_rl.evaluation import judge_samples, recall_all, train_judge

    if judge is None:
        judge = train_judge(memory, seed=seed, steps=judge_steps)
    known = set(model.keys)
    keys = [key for key in memory.keys if key in known and key in judge]
    if not keys:
        raise InvalidValueError(
            f"the model knows none of the memory's {memory.num_keys} states (e.g. "
            f"{memory.keys[:3]!r}); report a model trained on this memory"
        )
    recalled = recall_all(model, keys, samples, seed=seed)
    return judge_samples(judge, recalled, memory, seed=seed), recalled, judge


def state_entries(memory: ShortTermMemory, report: Any | None = None) -> list[StateEntry]:
    """Every state of ``memory`` in the page's order (worst-recalled first with ``report``)."""
    counts, seen = memory.counts(), memory.seen()
    order = {key: i for i, key in enumerate(memory.keys)}
    figures: dict[Hashable, dict[str, Any]] = {}
    ranked: list[Hashable] = []
    if report is not None:
        flagged = report.outliers()  # look wrong though the judge may accept them: first
        rest = [s for s in report.worst(len(report.states)) if s not in flagged]
        for state in [*flagged, *rest]:
            figures[state.key] = {name: getattr(state, name) for name in FIGURES}
            figures[state.key]["held_out_frames"] = state.held_out_frames
            figures[state.key]["samples"] = state.samples
            ranked.append(state.key)
    ranked += [key for key in memory.keys if key not in figures]
    return [
        StateEntry(key, key_text(key), order[key], counts[key], seen[key], figures.get(key))
        for key in ranked
    ]


__all__ = [
    "FIGURES",
    "StateEntry",
    "judge_recall",
    "key_text",
    "state_entries",
]
