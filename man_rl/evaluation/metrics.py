"""How good a long-term memory is, judged against the real screens of a short-term memory.

- **recall accuracy**: recalled screens are classified by an *independent* classifier built
  from the real frames (nearest class mean, or nearest real frame), never by the model's own
  recogniser; the share classified as the state asked for.
- **per-state recall error**: mean squared pixel error (pixels in ``[0, 1]``) between each
  recalled screen and the nearest real screen of the same state.
- **recognition accuracy** (Type B): the share of real frames recognised as their own state
  (use a memory the model did not train on), and the share answered "unknown".
- **coverage**: states with data in the memory / states the model knows.
- **sample diversity**: the spread (mean per-pixel standard deviation) of recalled screens of a
  state next to the spread of its real screens; a ratio far below 1 is mode collapse.

:func:`evaluate` gathers them in one JSON-able dict (what ``man-rl evaluate`` writes).

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=3)
    >>> stm.add("dark", np.zeros((2, 2), np.uint8))
    >>> stm.add("light", np.full((2, 2), 250, np.uint8))
    >>> classifier = NearestMean(stm)
    >>> [classifier.keys[i] for i in classifier.predict(np.full((1, 2, 2), 200, np.uint8))]
    ['light']
    >>> spread(np.stack([np.zeros((2, 2)), np.full((2, 2), 255)]).astype(np.uint8))
    0.5
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from man_rl.errors import EmptyMemoryError, InvalidValueError
from man_rl.keys import encode_key
from man_rl.ltm.common import check_positive_int, make_generator
from man_rl.stm.memory import ShortTermMemory

Method = Literal["mean", "frame"]
_CHUNK = 512


def _flat(frames: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    return frames.reshape(len(frames), -1).astype(dtype) / dtype(255.0)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``||a_i - b_j||^2`` for flat float rows, in chunks of ``a``."""
    b_norms = (b * b).sum(axis=1)
    out = np.empty((len(a), len(b)), dtype=a.dtype)
    for start in range(0, len(a), _CHUNK):
        chunk = a[start : start + _CHUNK]
        out[start : start + _CHUNK] = (
            (chunk * chunk).sum(axis=1)[:, None] - 2.0 * chunk @ b.T + b_norms[None]
        )
    return np.maximum(out, 0.0)


class NearestMean:
    """Classifies a frame as the state whose mean real frame is nearest (Euclidean).

    Built from a memory's real frames only, so it judges a model independently.

    Args:
        memory: the real frames; :attr:`keys` are its keys, and ``predict`` returns indices
            into them.
    """

    def __init__(self, memory: ShortTermMemory) -> None:
        self.keys = memory.keys
        self.means = np.stack([_flat(memory.queue(key)).mean(axis=0) for key in self.keys])

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Index into :attr:`keys` of the nearest class mean of each frame."""
        return _squared_distances(_flat(frames), self.means).argmin(axis=1)


class NearestFrame:
    """Classifies a frame as the state of the nearest real frame (1-nearest neighbour).

    Args:
        memory: the real frames.
        max_per_key: real frames kept per state (the newest), which bounds the cost.
    """

    def __init__(self, memory: ShortTermMemory, max_per_key: int = 50) -> None:
        self.keys = memory.keys
        max_per_key = check_positive_int("max_per_key", max_per_key)
        frames = [memory.queue(key)[-max_per_key:] for key in self.keys]
        self.frames = np.concatenate([_flat(f) for f in frames])
        self.labels = np.concatenate([np.full(len(f), i) for i, f in enumerate(frames)])

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Index into :attr:`keys` of the state of each frame's nearest real frame."""
        return self.labels[_squared_distances(_flat(frames), self.frames).argmin(axis=1)]


def reference_classifier(
    memory: ShortTermMemory, method: Method = "mean"
) -> NearestMean | NearestFrame:
    """The independent classifier of ``method``: ``"mean"`` (class mean) or ``"frame"``."""
    if method == "mean":
        return NearestMean(memory)
    if method == "frame":
        return NearestFrame(memory)
    raise InvalidValueError(f"method must be 'mean' or 'frame', got {method!r}")


def spread(frames: np.ndarray) -> float:
    """Mean over pixels of the per-pixel standard deviation across ``frames`` (in ``[0, 1]``)."""
    if len(frames) < 2:
        return 0.0
    return float(_flat(frames, np.float64).std(axis=0).mean())


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


class StateRecall(NamedTuple):
    """Recall quality of one state."""

    key: Hashable
    accuracy: float
    error: float
    recalled_spread: float
    real_spread: float


def per_state_recall(
    model: Any,
    memory: ShortTermMemory,
    *,
    n: int = 10,
    seed: int = 0,
    method: Method = "mean",
) -> list[StateRecall]:
    """Recall ``n`` screens of every state the model and the memory share, and score each.

    ``accuracy``: share classified as the asked state by :func:`reference_classifier`;
    ``error``: mean squared pixel error to the nearest real screen of the state;
    ``recalled_spread`` / ``real_spread``: :func:`spread` of recalled and real screens.
    """
    keys = _shared_keys(model, memory)
    classifier = reference_classifier(memory, method)
    position = {key: i for i, key in enumerate(classifier.keys)}
    recalled = recall_all(model, keys, n, seed=seed)
    results = []
    for key in keys:
        frames, real = recalled[key], memory.queue(key)
        predicted = classifier.predict(frames)
        nearest = _squared_distances(_flat(frames, np.float64), _flat(real, np.float64))
        nearest = nearest.min(axis=1)
        pixels = int(np.prod(model.frame_shape))
        results.append(
            StateRecall(
                key=key,
                accuracy=float(np.mean(predicted == position[key])),
                error=float(nearest.mean() / pixels),
                recalled_spread=spread(frames),
                real_spread=spread(real),
            )
        )
    return results


def recall_accuracy(
    model: Any,
    memory: ShortTermMemory,
    *,
    n: int = 10,
    seed: int = 0,
    method: Method = "mean",
) -> float:
    """Share of recalled screens (``n`` per state) classified as the state asked for."""
    states = per_state_recall(model, memory, n=n, seed=seed, method=method)
    return float(np.mean([state.accuracy for state in states]))


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


def _shared_keys(model: Any, memory: ShortTermMemory) -> list[Hashable]:
    keys = [key for key in memory.keys if key in model.key_index and memory.counts()[key] > 0]
    if not keys:
        raise EmptyMemoryError(
            "the memory holds no frame of any state the model knows; evaluate on a memory "
            "of the same environment"
        )
    return keys


def evaluate(
    model: Any,
    memory: ShortTermMemory,
    *,
    n: int = 10,
    seed: int = 0,
    method: Method = "mean",
) -> dict[str, Any]:
    """Every metric in one JSON-able dict (see the module docstring).

    Keys: ``model`` (``"A"``/``"B"``), ``states`` (model's), ``states_evaluated``,
    ``recall_accuracy``, ``recall_error``, ``coverage``, ``diversity`` (mean recalled and real
    spread and their ratio, ``None`` when the real screens do not vary), ``recognition``
    (Type B only, else ``None``) and ``per_state`` (one entry per state, keys encoded with
    :func:`man_rl.keys.encode_key`).
    """
    states = per_state_recall(model, memory, n=n, seed=seed, method=method)
    recalled = float(np.mean([s.recalled_spread for s in states]))
    real = float(np.mean([s.real_spread for s in states]))
    recognition = None
    if model.kind == "B":
        recognition = recognition_accuracy(model, memory)._asdict()
    return {
        "model": model.kind,
        "states": len(model.key_index),
        "states_evaluated": len(states),
        "samples_per_state": n,
        "classifier": method,
        "recall_accuracy": float(np.mean([s.accuracy for s in states])),
        "recall_error": float(np.mean([s.error for s in states])),
        "coverage": coverage(memory, model.keys),
        "diversity": {
            "recalled_spread": recalled,
            "real_spread": real,
            "ratio": recalled / real if real > 1e-3 else None,
        },
        "recognition": recognition,
        "per_state": [
            {
                "key": encode_key(s.key),
                "accuracy": s.accuracy,
                "error": s.error,
                "recalled_spread": s.recalled_spread,
                "real_spread": s.real_spread,
            }
            for s in states
        ],
    }


__all__ = [
    "NearestFrame",
    "NearestMean",
    "Recognition",
    "StateRecall",
    "coverage",
    "evaluate",
    "per_state_recall",
    "recall_accuracy",
    "recall_all",
    "recognition_accuracy",
    "reference_classifier",
    "spread",
]
