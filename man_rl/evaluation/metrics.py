"""How good a long-term memory is, judged against the real screens of a short-term memory.

:func:`evaluate` recalls ``n`` samples of every state the model and the memory share
(:func:`recall_all`), trains a :class:`~man_rl.evaluation.judge.Judge` on the memory's real
frames when none is given (never on the model), scores the samples with
:func:`~man_rl.evaluation.figures.judge_samples` (judge accuracy and its ceiling, fidelity,
diversity, precision / recall, copies, FID / KID in the judge's features) and adds:

- **recognition accuracy** (Type B): the share of real frames recognised as their own state
  (use a memory the model did not train on), and the share answered "unknown".
- **coverage**: states with data in the memory / states the model knows.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=3)
    >>> stm.add("dark", np.zeros((2, 2), np.uint8))
    >>> stm.add("light", np.full((2, 2), 250, np.uint8))
    >>> coverage(stm, ["dark", "light", "never seen", "nor this"])
    0.5
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, NamedTuple

import numpy as np
import torch

from man_rl.errors import EmptyMemoryError, InvalidValueError
from man_rl.evaluation.distances import NearestFrame
from man_rl.evaluation.figures import StateFigures, judge_samples
from man_rl.evaluation.judge import Judge, train_judge
from man_rl.ltm.common import check_positive_int, make_generator
from man_rl.stm.memory import ShortTermMemory

_CHUNK = 512


def recall_all(
    model: Any, keys: Iterable[Hashable], n: int, *, seed: int = 0
) -> dict[Hashable, np.ndarray]:
    """``n`` recalled frames of each key, drawn in a few large batches (``key -> frames``)."""
    keys = list(keys)
    n = check_positive_int("n", n)
    indices = torch.tensor([model.key_index.index_of(key) for key in keys], dtype=torch.long)
    labels = indices.repeat_interleave(n).to(model.device)
    generator = make_generator(model.device, seed)
    parts = []
    with torch.no_grad():
        for start in range(0, len(labels), _CHUNK):
            images = model.generate(labels[start : start + _CHUNK], generator)
            parts.append(images.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).cpu())
    if not parts:
        return {}
    pixels = torch.cat(parts).permute(0, 2, 3, 1).numpy()
    frames = pixels.reshape(len(keys), n, *model.frame_shape)
    return dict(zip(keys, frames, strict=False))


class Recognition(NamedTuple):
    """Recognition of real frames (see :func:`recognition_accuracy`).

    ``accuracy``: share of frames of states the model knows that are recognised as their
    state; ``unknown``: share of those answered ``None``; ``novel_unknown``: share of frames
    of states the model does not know answered ``None`` (``None`` when there are none);
    ``frames``: frames judged.
    """

    accuracy: float
    unknown: float
    novel_unknown: float | None
    frames: int


def recognition_accuracy(model: Any, memory: ShortTermMemory) -> Recognition:
    """How well a Type B model recognises the real frames of ``memory``.

    Use a memory the model did not train on (e.g. collected with another seed).
    """
    frames, labels = memory.all_frames()
    truth = [memory.keys[i] for i in labels.tolist()]
    answers = model.recognize(frames)
    known = np.array([key in model.key_index for key in truth])
    hits = np.array([answer == key for answer, key in zip(answers, truth, strict=False)])
    nones = np.array([answer is None for answer in answers])
    return Recognition(
        accuracy=float(hits[known].mean()) if known.any() else 0.0,
        unknown=float(nones[known].mean()) if known.any() else 0.0,
        novel_unknown=float(nones[~known].mean()) if (~known).any() else None,
        frames=len(truth),
    )


def coverage(memory: ShortTermMemory, known_keys: Iterable[Hashable]) -> float:
    """Share of ``known_keys`` for which ``memory`` holds at least one frame."""
    known = list(known_keys)
    if not known:
        raise InvalidValueError("coverage needs at least one known key")
    counts = memory.counts()
    return sum(counts.get(key, 0) > 0 for key in known) / len(known)


def shared_keys(model: Any, memory: ShortTermMemory) -> list[Hashable]:
    """The states the model knows and the memory holds frames of, in the memory's order."""
    counts = memory.counts()
    keys = [key for key in memory.keys if key in model.key_index and counts[key] > 0]
    if not keys:
        raise EmptyMemoryError(
            "the memory holds no frame of any state the model knows; evaluate on a memory "
            "of the same environment"
        )
    return keys


def _judge_for(memory: ShortTermMemory, judge: Judge | None, seed: int) -> Judge:
    if judge is None:
        return train_judge(memory, seed=seed)
    if not isinstance(judge, Judge):
        raise InvalidValueError(
            f"judge must be a Judge (from train_judge or Judge.load), got {type(judge).__name__}"
        )
    return judge


def recall_accuracy(
    model: Any,
    memory: ShortTermMemory,
    *,
    judge: Judge | None = None,
    n: int = 10,
    seed: int = 0,
) -> float:
    """Share of recalled screens (``n`` per state) the judge assigns to the state asked for.

    Pass a ``judge`` trained once on ``memory`` (:func:`train_judge`) when calling this
    repeatedly; without one, a judge is trained here (seeded with ``seed``).
    """
    keys = shared_keys(model, memory)
    judge = _judge_for(memory, judge, seed)
    asked = np.repeat([judge.index_of(key) for key in keys], n)
    recalled = recall_all(model, keys, n, seed=seed)
    predicted = judge.predict(np.concatenate([recalled[key] for key in keys]))
    return float(np.mean(predicted == asked))


def per_state_recall(
    model: Any,
    memory: ShortTermMemory,
    *,
    judge: Judge | None = None,
    n: int = 10,
    seed: int = 0,
) -> list[StateFigures]:
    """The judge's figures of each state (``n`` recalled samples per state), in memory order."""
    keys = shared_keys(model, memory)
    judge = _judge_for(memory, judge, seed)
    return judge_samples(judge, recall_all(model, keys, n, seed=seed), memory, seed=seed).states


def evaluate(
    model: Any,
    memory: ShortTermMemory,
    *,
    judge: Judge | None = None,
    n: int = 10,
    seed: int = 0,
    k: int = 3,
) -> dict[str, Any]:
    """Every figure in one JSON-able dict (what ``man-rl evaluate`` writes).

    Args:
        model: a long-term memory (``kind``, ``key_index``, ``keys``, ``generate``...).
        memory: the real frames (for an honest recognition score, one the model did not
            train on).
        judge: a judge trained on ``memory``; trained here (seeded with ``seed``) if ``None``.
        n: samples recalled per state.
        seed: seeds the samples (and the judge trained here).
        k: neighbours of the precision / recall manifolds.

    Keys: ``model`` (``"A"``/``"B"``), ``states`` (model's), ``states_evaluated``,
    ``samples_per_state``, ``coverage``, ``recall_accuracy`` (= ``accuracy``, the judge's),
    ``recognition`` (Type B only, else ``None``), then the figures of
    :meth:`~man_rl.evaluation.figures.JudgeReport.to_dict`: ``judge`` (its ceiling, split
    and training), ``accuracy``, ``accuracy_ratio``, ``fidelity``, ``mean_frame_fidelity``,
    ``diversity``, ``precision``, ``recall``, ``copies``, ``fid``, ``kid``, ``per_state``
    (keys encoded with :func:`man_rl.keys.encode_key`) and ``worst_states``.
    """
    keys = shared_keys(model, memory)
    judge = _judge_for(memory, judge, seed)
    report = judge_samples(judge, recall_all(model, keys, n, seed=seed), memory, k=k, seed=seed)
    recognition = None
    if model.kind == "B":
        recognition = recognition_accuracy(model, memory)._asdict()
    return {
        "model": model.kind,
        "states": len(model.key_index),
        "states_evaluated": len(keys),
        "samples_per_state": n,
        "coverage": coverage(memory, model.keys),
        "recall_accuracy": report.accuracy,
        "recognition": recognition,
        **report.to_dict(),
    }


def _figure(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary(report: dict[str, Any]) -> str:
    r"""The main figures of an :func:`evaluate` report in one line.

    Example:
        >>> report = {"model": "A", "recall_accuracy": 0.5, "judge": {"ceiling": 1.0},
        ...     "accuracy_ratio": 0.5, "fidelity": 2.0, "mean_frame_fidelity": 9.0,
        ...     "diversity": None, "precision": 1.0, "recall": 0.25, "copies": 0.0,
        ...     "manifold_coverage": 0.75,
        ...     "fid": 1.5, "states_evaluated": 4, "coverage": 1.0, "recognition": None}
        >>> print(summary(report).replace(", ", ",\n"))
        Type A: recall accuracy 0.500 (judge ceiling 1.000,
        ratio 0.500),
        fidelity 2.00 (mean frame 9.00),
        diversity n/a,
        precision 1.000,
        manifold recall 0.250 (manifold coverage 0.750),
        copies 0.000,
        FID 1.500 over 4 states,
        coverage 1.000
    """
    line = (
        f"Type {report['model']}: recall accuracy {report['recall_accuracy']:.3f} (judge "
        f"ceiling {_figure(report['judge']['ceiling'])}, ratio "
        f"{_figure(report['accuracy_ratio'])}), fidelity {_figure(report['fidelity'], 2)} "
        f"(mean frame {_figure(report['mean_frame_fidelity'], 2)}), diversity "
        f"{_figure(report['diversity'])}, precision {_figure(report['precision'])}, "
        f"manifold recall "
        f"{_figure(report['recall'])} (manifold coverage "
        f"{_figure(report['manifold_coverage'])}), copies {_figure(report['copies'])}, FID "
        f"{_figure(report['fid'])} over {report['states_evaluated']} states, coverage "
        f"{report['coverage']:.3f}"
    )
    if report.get("recognition") is not None:
        line += f", recognition {report['recognition']['accuracy']:.3f}"
    return line


def outlier_line(report: dict[str, Any], limit: int = 10) -> str | None:
    """One line naming the states whose fidelity stands out (``None`` when none does).

    Example:
        >>> line = outlier_line({"outliers": [{"key": [3, 3, 0], "accuracy": 1.0,
        ...     "fidelity": 9.8}], "outlier_factor": 3.0, "fidelity": 1.4})
        >>> line.split(": ")[1]
        '[3, 3, 0] fidelity 9.80 (judge accuracy 1.00)'
    """
    found = report.get("outliers") or []
    if not found:
        return None
    shown = ", ".join(
        f"{state['key']} fidelity {state['fidelity']:.2f} (judge accuracy {state['accuracy']:.2f})"
        for state in found[:limit]
    )
    more = f" and {len(found) - limit} more" if len(found) > limit else ""
    factor = report.get("outlier_factor", 3.0)
    return (
        f"states that look wrong (fidelity over {factor:g}x the median state's), worst first: "
        f"{shown}{more}"
    )


__all__ = [
    "NearestFrame",
    "Recognition",
    "coverage",
    "evaluate",
    "outlier_line",
    "per_state_recall",
    "recall_accuracy",
    "recall_all",
    "recognition_accuracy",
    "shared_keys",
    "summary",
]
