"""When recall is good enough: :class:`RecallTarget`, the strict judge as a stopping rule.

:func:`man_rl.ltm.stopping.fit_until` (and ``fit(memory, until=...)``, ``man-rl train
--until``) asks it which frames training may draw and, every so often, whether the model is
good. It trains a :class:`~man_rl.evaluation.judge.Judge` on the memory first, keeps the
judge's held-out frames out of the model's training too, and is met when, on ``n`` recalled
samples per state:

- the judge's accuracy is at least ``share`` x its ceiling (its accuracy on held-out real
  frames);
- fidelity (distance to the nearest real frame over real frames' own gap) is at most
  ``fidelity``;
- where a state's real screens vary visibly (their mean pairwise RMS distance is at least
  :data:`VISIBLE_SPREAD`), diversity is within ``diversity``;
- for a model that recognises (Type B), its recognition of the held-out real frames is at
  least ``share`` x the judge's ceiling: recall must not be bought with recognition.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from man_rl.errors import InvalidValueError
from man_rl.evaluation.figures import JudgeReport, judge_samples
from man_rl.evaluation.judge import Judge, train_judge
from man_rl.evaluation.metrics import recall_all
from man_rl.evaluation.reference import RealReference
from man_rl.ltm.stopping import Verdict
from man_rl.stm.memory import ShortTermMemory
from man_rl.stm.sampling import Subset

#: Share of the judge's ceiling that recall (and Type B's recognition) must reach.
DEFAULT_SHARE = 0.95
#: Most fidelity allowed (1: samples as close to real frames as real frames are to each other).
DEFAULT_FIDELITY = 1.5
#: Diversity range where a state's real screens vary (near 0: one screen drawn every time).
DEFAULT_DIVERSITY = (0.6, 1.4)
#: Real screens vary visibly when they are this far apart on average (RMS, 4 grey levels):
#: a few grey levels of noise no one sees are not variety a model must draw.
VISIBLE_SPREAD = 4 / 255


class RecallTarget:
    """A stopping rule: recall judged by a judge trained on ``memory``, on frames held out.

    Args:
        memory: the short-term memory the model trains on (it must not change meanwhile).
        share: accuracy (and recognition) needed, as a share of the judge's ceiling.
        fidelity: most fidelity allowed.
        diversity: ``(low, high)`` diversity allowed where real screens vary (``None``: not
            checked).
        n: samples recalled per state at each check.
        seed: seeds the judge, its split and the recalled samples.
        judge: a judge already trained on ``memory`` (default: one is trained on the first
            use, its time counted in the budget).

    Example:
        >>> import numpy as np
        >>> from man_rl import ShortTermMemory
        >>> from man_rl.ltm import TypeB
        >>> stm = ShortTermMemory(capacity=6)
        >>> for i in range(6):  # two states, each one screen (give or take a grey level)
        ...     stm.add("dark", np.full((8, 8), 20 + i % 2, np.uint8))
        ...     stm.add("light", np.full((8, 8), 220 + i % 2, np.uint8))
        >>> model = TypeB.for_memory(stm, seed=0)
        >>> target = RecallTarget(stm)
        >>> history = model.fit(stm, until=target, budget=60, seed=0, progress=False)
        >>> target.stopped.reason, target.stopped.verdict.met
        ('met', True)
    """

    def __init__(
        self,
        memory: ShortTermMemory,
        *,
        share: float = DEFAULT_SHARE,
        fidelity: float = DEFAULT_FIDELITY,
        diversity: tuple[float, float] | None = DEFAULT_DIVERSITY,
        n: int = 10,
        seed: int = 0,
        judge: Judge | None = None,
    ) -> None:
        if not isinstance(memory, ShortTermMemory):
            raise InvalidValueError(f"RecallTarget needs a ShortTermMemory, got {memory!r}")
        if not 0 < share <= 1:
            raise InvalidValueError(f"share must be in (0, 1], got {share}")
        if not fidelity > 0:
            raise InvalidValueError(f"fidelity must be > 0, got {fidelity}")
        if diversity is not None and not 0 <= diversity[0] <= diversity[1]:
            raise InvalidValueError(
                f"diversity must be (low, high) with 0 <= low <= high, got {diversity}"
            )
        self.memory = memory
        self.share, self.fidelity, self.diversity = share, fidelity, diversity
        self.n, self.seed = n, seed
        self.judge = judge
        self.report: JudgeReport | None = None
        self.recognition: float | None = None
        #: What the last :func:`~man_rl.ltm.stopping.fit_until` with this rule found.
        self.stopped: Any = None
        self._reference: RealReference | None = None

    def _ready(self) -> tuple[Judge, RealReference]:
        if self.judge is None:
            self.judge = train_judge(self.memory, seed=self.seed)
        if self._reference is None:
            self._reference = RealReference(self.judge, self.memory)  # checks the memory
        return self.judge, self._reference

    def sampler(self, memory: ShortTermMemory) -> Subset | None:
        """Every frame but the judge's held-out ones (trains the judge the first time)."""
        if memory is not self.memory:
            raise InvalidValueError(
                "this RecallTarget was made for another memory; make one for the memory the "
                "model trains on: RecallTarget(memory)"
            )
        judge, _ = self._ready()
        masks = [  # a key without frames (the judge left it out) has nothing to draw
            ~judge.held_out_mask(key) if key in judge else np.zeros(0, bool) for key in memory.keys
        ]
        return Subset(masks)

    def check(self, model: Any) -> Verdict:
        """Judge ``n`` samples per state the model and the judge share."""
        judge, reference = self._ready()
        keys = [key for key in judge.keys if key in model.key_index]
        if not keys:
            raise InvalidValueError("the model knows none of the memory's states")
        samples = recall_all(model, keys, self.n, seed=self.seed)
        report = self.report = judge_samples(
            judge, samples, self.memory, seed=self.seed, reference=reference
        )
        ceiling = report.ceiling or 1.0
        needed = self.share * ceiling
        parts = [f"judge acc {report.accuracy:.3f} (>= {needed:.3f})"]
        met = report.accuracy >= needed
        if report.fidelity is not None:
            parts.append(f"fidelity {report.fidelity:.2f} (<= {self.fidelity:g})")
            met &= report.fidelity <= self.fidelity
        diversity = self._diversity(report, reference)
        if self.diversity is not None and diversity is not None:
            low, high = self.diversity
            parts.append(f"diversity {diversity:.2f} (in {low:g}-{high:g})")
            met &= low <= diversity <= high
        self.recognition = None
        if getattr(model, "recognizes", False):
            self.recognition = self._recognition(model, keys)
            if self.recognition is not None:
                parts.append(f"recognition {self.recognition:.3f} (>= {needed:.3f})")
                met &= self.recognition >= needed
        return Verdict(bool(met), report.accuracy / ceiling, ", ".join(parts))

    @staticmethod
    def _diversity(report: JudgeReport, reference: RealReference) -> float | None:
        """Mean diversity over the states whose real screens vary visibly."""
        values = [
            s.diversity
            for s in report.states
            if s.diversity is not None and reference.state(s.key).spread >= VISIBLE_SPREAD
        ]
        return float(np.mean(values)) if values else None

    def _recognition(self, model: Any, keys: list[Hashable]) -> float | None:
        """Share of the held-out real frames the model recognises as their own state."""
        assert self.judge is not None
        hits = total = 0
        for key in keys:
            _, held = self.judge.real_frames(self.memory, key)
            if len(held):
                answers = model.recognize(held)
                hits += sum(answer == key for answer in answers)
                total += len(held)
        return hits / total if total else None

    def on_stop(self, stopped: Any) -> None:
        """Keep what :func:`~man_rl.ltm.stopping.fit_until` found (:attr:`stopped`)."""
        self.stopped = stopped


__all__ = [
    "DEFAULT_DIVERSITY",
    "DEFAULT_FIDELITY",
    "DEFAULT_SHARE",
    "VISIBLE_SPREAD",
    "RecallTarget",
]
