"""The real frames' side of :func:`~man_rl.evaluation.judge_samples`, computed once.

Half of what ``judge_samples`` computes depends only on the real frames: how far each state's
held-out frames are from its train frames (fidelity's yardstick), the mean frame's figure,
how much the real frames vary (diversity's yardstick), the judge's features of the distinct
real frames, and the index that finds copies. A judge fixes its memory (it checks a
fingerprint), so all of that holds for every judgement with that judge. A
:class:`RealReference` computes each state's part the first time it is asked for and keeps
it: pass one to ``judge_samples(..., reference=...)`` when judging a model again and again
(after each chunk of training, say) and only the samples' side is computed each time.

It keeps figures, features and pooled rows, never the frames themselves: the frames are read
back from the memory when a judgement needs them.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> from man_rl.evaluation import judge_samples, train_judge
    >>> rng = np.random.default_rng(0)
    >>> stm = ShortTermMemory(capacity=10)
    >>> for key, level in [("dark", 40), ("light", 200)]:
    ...     for _ in range(6):
    ...         stm.add(key, rng.integers(level - 30, level + 30, (8, 8), dtype=np.uint8))
    >>> judge = train_judge(stm, steps=30, seed=0)
    >>> reference = RealReference(judge, stm)
    >>> samples = {key: judge.real_frames(stm, key)[1] for key in stm.keys}
    >>> once = judge_samples(judge, samples, stm)
    >>> again = judge_samples(judge, samples, stm, reference=reference)
    >>> once.to_dict() == again.to_dict()
    True
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from man_rl.errors import InvalidValueError
from man_rl.evaluation.distances import (
    FLOOR,
    StoredFrames,
    distinct,
    mean_pairwise_rms,
    nearest_rms,
)
from man_rl.evaluation.judge import Judge
from man_rl.stm.memory import ShortTermMemory

PAIRWISE_FRAMES = 64  # frames per state in a pairwise mean (evenly spaced)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` with both raised to at least :data:`FLOOR`."""
    return max(numerator, FLOOR) / max(denominator, FLOOR)


def spaced(frames: np.ndarray, limit: int = PAIRWISE_FRAMES) -> np.ndarray:
    """At most ``limit`` of ``frames``, evenly spaced (all of them when there are fewer)."""
    if len(frames) <= limit:
        return frames
    return frames[np.linspace(0, len(frames) - 1, limit).round().astype(int)]


@dataclass(frozen=True)
class RealState:
    """One state's real-frame figures (see :mod:`.figures` for how each is used)."""

    gap: float | None  # mean distance of its held-out frames to their nearest train frame
    mean_frame_fidelity: float | None  # its mean frame's distance to the train frames / gap
    spread: float  # mean pairwise distance of its real frames (up to PAIRWISE_FRAMES)
    features: np.ndarray  # the judge's features of its distinct real frames
    counts: np.ndarray  # how many of its frames each distinct frame stands for
    frames: int
    held_out: int


class RealReference:
    """Real-frame figures of ``judge``'s states in ``memory``, each computed when first needed.

    Args:
        judge: trained on ``memory`` (checked).
        memory: the real frames; it must not change while the reference is used (each
            ``judge_samples`` call checks the memory against the judge again).

    Example:
        >>> import numpy as np
        >>> from man_rl import ShortTermMemory
        >>> from man_rl.evaluation import train_judge
        >>> stm = ShortTermMemory(capacity=4)
        >>> for level in (10, 20, 200, 210):
        ...     stm.add("dark" if level < 100 else "light", np.full((4, 4), level, np.uint8))
        >>> reference = RealReference(train_judge(stm, steps=5, seed=0), stm)
        >>> round(reference.state("dark").spread * 255)
        10
    """

    def __init__(self, judge: Judge, memory: ShortTermMemory) -> None:
        judge.check_memory(memory)
        self.judge = judge
        self.memory = memory
        self._states: dict[Hashable, RealState] = {}
        self._stored: StoredFrames | None = None

    def check(self, judge: Judge) -> None:
        """Raise :class:`InvalidValueError` unless this reference was built for ``judge``."""
        if judge is not self.judge:
            raise InvalidValueError(
                "this reference was built for another judge; build one for this judge with "
                "RealReference(judge, memory)"
            )

    def state(self, key: Hashable) -> RealState:
        """``key``'s real-frame figures (computed on the first call, then kept)."""
        found = self._states.get(key)
        if found is None:
            found = self._states[key] = self._compute(key)
        return found

    def stored(self) -> StoredFrames:
        """Every state's distinct frames, indexed for copy searches (built on the first call)."""
        if self._stored is None:
            self._stored = StoredFrames(self.memory)
            for key in self.judge.keys:
                self._stored.add(key, self.memory.queue(key))
        return self._stored

    def _compute(self, key: Hashable) -> RealState:
        frames = self.memory.queue(key)  # one read; its length was checked with the memory
        mask = self.judge.held_out_mask(key)
        train, held = frames[~mask], frames[mask]
        gap = mean_frame = None
        if len(held):
            gap = float(nearest_rms(held, train).mean())
            average = np.round(frames.astype(np.float64).mean(0)).astype(np.uint8)[None]
            mean_frame = ratio(float(nearest_rms(average, train)[0]), gap)
        keep, counts = distinct(frames)
        return RealState(
            gap=gap,
            mean_frame_fidelity=mean_frame,
            spread=mean_pairwise_rms(spaced(frames)),
            features=self.judge.features(frames[keep]),
            counts=counts,
            frames=len(frames),
            held_out=len(held),
        )


__all__ = ["PAIRWISE_FRAMES", "RealReference", "RealState", "ratio", "spaced"]
