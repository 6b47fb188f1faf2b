"""Train until recall is good or the time is up: :func:`fit_until` and the rule it asks.

A :class:`StoppingRule` says which frames training may draw (it keeps the rest to check
recall on) and, when asked, whether the model is good enough (a :class:`Verdict`).
:func:`fit_until` trains in chunks between checks, sized so that checking takes at most
about a fifth of the time, and stops when the rule is met, when the time budget is spent or
after ``max_steps``; its :class:`Stopped` says which. The learning rate cools down over the
budget's last 30% (:func:`cooldown_factor`). The rule built on the strict judge is
:class:`man_rl.evaluation.RecallTarget`.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> from man_rl.ltm import TypeA
    >>> stm = ShortTermMemory(capacity=2)
    >>> stm.add("a", np.zeros((4, 4), np.uint8)); stm.add("b", np.ones((4, 4), np.uint8))
    >>> class AfterSteps:  # a rule: met once the model has taken 30 steps
    ...     def sampler(self, memory):
    ...         return None  # train on every frame
    ...     def check(self, model):
    ...         step = model.training_state.step
    ...         return Verdict(step >= 30, step, f"step {step}")
    ...     def on_stop(self, stopped):
    ...         self.stopped = stopped
    >>> stopped = fit_until(TypeA.for_memory(stm, seed=0), stm, AfterSteps(), every=20,
    ...                     seed=0, progress=False)
    >>> stopped.reason, stopped.steps
    ('met', 40)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from man_rl.errors import InvalidValueError
from man_rl.ltm.common import check_positive_int
from man_rl.ltm.optim import check_lr
from man_rl.ltm.training import DEFAULT_LR, fit, progress_bar
from man_rl.stm.memory import ShortTermMemory
from man_rl.stm.sampling import Sampler
from man_rl.threads import TorchThreads

#: Seconds :func:`fit_until` trains (checks included) when no budget is given.
DEFAULT_BUDGET = 600.0
#: Steps before the first check.
FIRST_CHECK = 200
#: Most of the time checking may take.
CHECK_SHARE = 0.2
#: The next check is planned to take this many times the last one (a check on 782 states
#: took longer as recall improved, and the run ended 13 s past a 600 s budget).
CHECK_MARGIN = 1.5
#: The last share of the budget, over which the learning rate is lowered linearly...
COOLDOWN = 0.3
#: ...to this share of its starting value at the budget's end.
FINAL_LR_SHARE = 0.1


def cooldown_factor(spent: float) -> float:
    """The learning rate's factor once ``spent`` (0-1) of the time budget is used.

    1 until the last :data:`COOLDOWN` of the budget, then linearly down to
    :data:`FINAL_LR_SHARE` at its end: a constant rate with a cool-down, which matches a
    schedule fixed in advance without knowing when training will stop (Hägele et al. 2024,
    "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations"). A model
    that is still short of the target near the end of its budget is usually short in
    fidelity, which the lower rate sharpens.

    Example:
        >>> [round(cooldown_factor(s), 2) for s in (0.0, 0.7, 0.85, 1.0, 1.5)]
        [1.0, 1.0, 0.55, 0.1, 0.1]
    """
    start = 1.0 - COOLDOWN
    if spent <= start:
        return 1.0
    return 1.0 - (1.0 - FINAL_LR_SHARE) * min(1.0, (spent - start) / COOLDOWN)


class Verdict(NamedTuple):
    """What a check found: ``met``, the ``figure`` the progress bar shows, one line of text."""

    met: bool
    figure: float
    summary: str


class StoppingRule(Protocol):
    """What :func:`fit_until` asks of a rule."""

    def sampler(self, memory: ShortTermMemory) -> Sampler | None:
        """The sampler training draws from (``None``: every frame, class-balanced)."""
        ...

    def check(self, model: Any) -> Verdict:
        """Whether ``model`` is good enough now."""
        ...

    def on_stop(self, stopped: Stopped) -> None:
        """Told what the run found when it ends (as Keras' ``EarlyStopping`` keeps its stop)."""
        ...


@dataclass(frozen=True)
class Stopped:
    """Why and where :func:`fit_until` stopped.

    ``reason``: ``"met"`` (the rule was met), ``"budget"`` (the time was spent) or
    ``"steps"`` (``max_steps`` taken); ``steps`` and ``seconds``: taken in this call (checks
    included in the seconds); ``verdict``: the last check's; ``checks``: ``(model step,
    verdict)`` of every check, in order.
    """

    reason: str
    steps: int
    seconds: float
    verdict: Verdict | None
    checks: list[tuple[int, Verdict]] = field(default_factory=list)

    def __str__(self) -> str:
        why = {
            "met": "target met",
            "budget": "time budget spent, target not met",
            "steps": "step limit reached, target not met",
        }[self.reason]
        if self.reason != "met" and self.verdict is not None and self.verdict.met:
            why = why.replace(", target not met", "")
        shown = f": {self.verdict.summary}" if self.verdict is not None else ""
        return f"{why} after {self.steps} steps ({self.seconds:.0f} s){shown}"


def _check_budget(budget: float | None) -> float:
    if budget is None:
        return DEFAULT_BUDGET
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise InvalidValueError(f"budget must be seconds (a number > 0), got {budget!r}")
    if not 0 < budget < math.inf:
        raise InvalidValueError(f"budget must be a finite number of seconds > 0, got {budget}")
    return float(budget)


def fit_until(
    model: Any,
    memory: ShortTermMemory,
    until: StoppingRule,
    *,
    budget: float | None = None,
    max_steps: int | None = None,
    every: int | None = None,
    progress: bool = True,
    seed: int | None = None,
    threads: int | None = None,
    **options: Any,
) -> Stopped:
    """Train ``model`` on ``memory`` until ``until`` is met, ``budget`` s pass or ``max_steps``.

    Args:
        model: a ``TypeA`` or ``TypeB`` (any model :func:`~man_rl.ltm.training.fit` takes).
        memory: the short-term memory; it must not change while this runs.
        until: the rule (:class:`~man_rl.evaluation.RecallTarget` judges recall on frames it
            keeps out of training).
        budget: seconds, checks included (default :data:`DEFAULT_BUDGET`). A chunk is cut so
            that its check still ends within the budget.
        max_steps: most steps to take (default: no limit but the budget).
        every: steps between checks (default: :data:`FIRST_CHECK` at first, then as many as
            keep checking under :data:`CHECK_SHARE` of the time).
        progress: a progress bar showing the rule's figure.
        seed: as :func:`~man_rl.ltm.training.fit`'s (used by the first chunk).
        threads: as :func:`~man_rl.ltm.training.fit`'s, held for the whole run.
        options: the other keywords of :func:`~man_rl.ltm.training.fit` (``batch_size``,
            ``device``, ``grow``...). ``lr`` is the rate before the cool-down (default
            :data:`~man_rl.ltm.training.DEFAULT_LR`): over the budget's last
            :data:`COOLDOWN` it falls to :data:`FINAL_LR_SHARE` of it
            (:func:`cooldown_factor`), and the optimizer keeps the rate reached.
    """
    budget = _check_budget(budget)
    limit = math.inf if max_steps is None else check_positive_int("max_steps", max_steps)
    fixed = None if every is None else check_positive_int("every", every)
    for name in ("steps", "sampler", "progress"):
        if name in options:
            raise InvalidValueError(f"fit_until sets {name} itself; leave it out")
    given_lr = options.pop("lr", None)
    base_lr = check_lr(DEFAULT_LR if given_lr is None else given_lr)
    started = time.perf_counter()
    sampler = until.sampler(memory)
    bar = progress_bar(max_steps, progress, f"fit {type(model).__name__} until good")
    checks: list[tuple[int, Verdict]] = []
    taken, chunk, rate, check_seconds = 0, fixed or FIRST_CHECK, None, 0.0
    reason = "steps"
    try:
        with TorchThreads(threads):
            while taken < limit:
                left = budget - (time.perf_counter() - started)
                chunk = min(chunk, limit - taken)
                if rate is not None:  # leave time for this chunk's check (they grow a little)
                    chunk = min(chunk, int((left - CHECK_MARGIN * check_seconds) * rate))
                if chunk < 1 or left <= 0:
                    reason = "budget"
                    break
                chunk_started = time.perf_counter()
                first_seed = seed if taken == 0 else None
                done = _train(
                    model,
                    memory,
                    chunk,
                    sampler,
                    bar,
                    first_seed,
                    options,
                    (started, budget),
                    base_lr,
                )
                taken += done
                rate = done / max(time.perf_counter() - chunk_started, 1e-9)
                checked = time.perf_counter()
                verdict = until.check(model)
                check_seconds = time.perf_counter() - checked
                checks.append((model.training_state.step, verdict))
                if bar is not None:
                    bar.set_postfix_str(verdict.summary, refresh=True)
                if verdict.met:
                    reason = "met"
                    break
                if fixed is None:  # checks take at most CHECK_SHARE of the time
                    wanted = check_seconds * (1 - CHECK_SHARE) / CHECK_SHARE * rate
                    chunk = max(chunk, math.ceil(wanted))
                if time.perf_counter() - started >= budget:
                    reason = "budget"
                    break
    finally:
        if bar is not None:
            bar.close()
    verdict = checks[-1][1] if checks else None
    stopped = Stopped(reason, taken, time.perf_counter() - started, verdict, checks)
    until.on_stop(stopped)
    return stopped


def _train(
    model: Any,
    memory: ShortTermMemory,
    steps: int,
    sampler: Sampler | None,
    bar: Any,
    seed: int | None,
    options: dict[str, Any],
    window: tuple[float, float],
    base_lr: float,
) -> int:
    """``steps`` steps in pieces of about a second (the bar moves); fewer if the time is up.

    ``window`` is the run's ``(start, budget)``: each piece's rate is ``base_lr`` times
    :func:`cooldown_factor` of the budget spent.
    """
    started, budget = window
    deadline = started + budget
    done, piece = 0, 10
    while done < steps:
        n = min(piece, steps - done)
        began = time.perf_counter()
        lr = base_lr * cooldown_factor((began - started) / budget)
        fit(model, memory, n, sampler=sampler, progress=False, seed=seed, lr=lr, **options)
        seed = None
        done += n
        if bar is not None:
            bar.update(n)
        spent = time.perf_counter() - began
        if time.perf_counter() >= deadline:
            break
        piece = max(1, min(500, int(n / max(spent, 1e-9))))  # about one second's worth
    return done


__all__ = [
    "CHECK_SHARE",
    "COOLDOWN",
    "DEFAULT_BUDGET",
    "FINAL_LR_SHARE",
    "FIRST_CHECK",
    "Stopped",
    "StoppingRule",
    "Verdict",
    "cooldown_factor",
    "fit_until",
]
