"""Training a long-term memory beside an agent: :class:`MemoryTrainer`, for any RL library.

The agent's env fills a short-term memory (a :class:`~man_rl.env.MemoryWrapper`, or a
vector env's :class:`~man_rl.env.VectorMemoryWrapper`); every ``N`` env steps the loop
calls :meth:`MemoryTrainer.update`, which trains the long-term memory a few steps on it
(the model grows as the memory meets new states, :mod:`man_rl.ltm.growth`) and returns a
:class:`MemoryUpdate`: the loss terms and counts as scalars for any logger, and, every
``judge_every`` calls, the strict judge's figures (:mod:`man_rl.evaluation`; training a
judge costs seconds) and a picture of the recall grid. Stable-Baselines3 users get the same
through :class:`man_rl.integrations.sb3.MemoryCallback`.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> memory = ShortTermMemory(capacity=8)
    >>> trainer = MemoryTrainer(memory, "A", steps=2, judge_every=None, seed=0)
    >>> trainer.update(env_steps=0) is None  # nothing to learn yet
    True
    >>> memory.add("dark", np.zeros((6, 6), np.uint8))
    >>> trainer.update(env_steps=100).scalars["memory/states_known"]
    1.0
    >>> memory.add("light", np.full((6, 6), 250, np.uint8))
    >>> update = trainer.update(env_steps=200)
    >>> update.scalars["memory/states_known"], update.scalars["memory/states_added"]
    (2.0, 1.0)
"""

from __future__ import annotations

import time
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.layout import Layout
from man_rl.ltm.base import LongTermMemory
from man_rl.ltm.common import check_positive_int, check_seed
from man_rl.ltm.training import TERMS
from man_rl.stm.memory import ShortTermMemory

#: The fewest states each model type can be built on.
_MIN_KEYS = {"A": 1, "B": 2}


@dataclass(frozen=True)
class MemoryUpdate:
    """What one :meth:`MemoryTrainer.update` did.

    Attributes:
        call: how many updates trained the model so far, this one included.
        env_steps: the agent's env steps when it ran (as given).
        scalars: ``"<prefix>/<name>" -> float``: ``states_known`` (the model's),
            ``states_in_memory``, ``states_added`` (by this update), ``frames``,
            ``train_steps`` (the model's total), ``fit_seconds``, and the mean over this
            update's steps of ``loss`` and each loss term; on judge calls also
            ``judge_accuracy`` (recalled screens the judge gives to the state asked for),
            ``judge_accuracy_added`` (the same over the states added since the model was
            built, where there are any), ``judge_ceiling``, ``judge_accuracy_ratio``,
            ``judge_fidelity``, ``judge_diversity``, ``judge_precision``, ``judge_recall``
            (where defined) and ``judge_seconds``.
        grid: the recall grid as a uint8 ``H x W x 3`` image (judge calls), else ``None``.
        report: the judge's :class:`~man_rl.evaluation.JudgeReport` (judge calls).
    """

    call: int
    env_steps: int
    scalars: dict[str, float]
    grid: np.ndarray | None = None
    report: Any = None


def figure_pixels(fig: Any) -> np.ndarray:
    """A matplotlib figure drawn to a uint8 ``H x W x 3`` array (Agg, no file)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


@dataclass
class _Clock:
    calls: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class MemoryTrainer:
    """Train a long-term memory on the short-term memory an agent's env is filling.

    Call :meth:`update` every N env steps of the agent (the SB3 callback does). The model
    is built on the first call that finds enough states in the memory (``model="A"`` or
    ``"B"``; Type B needs two) or given built; each call grows it by the states the memory
    met since (``fit``'s growth) and trains ``steps`` steps.

    Args:
        memory: the short-term memory the env fills (``env.memory`` of a
            :class:`~man_rl.env.MemoryWrapper` or a vector env's wrapper).
        model: ``"A"``, ``"B"``, or a :class:`~man_rl.ltm.LongTermMemory` to train further.
        steps: training steps per update.
        judge_every: run the judge (and draw the recall grid) every this many updates, the
            first included; ``None`` never.
        judge_steps: the judge's training steps (default: ``train_judge``'s).
        samples: recalled screens per state the judge scores.
        layout: where each key sits in the recall grid (e.g. ``man_rl.envs.layout_for(env)``:
            states not met yet are then marked "never seen"); default: guessed from the keys.
        reachable: the states the agent can reach, where known (the grid marks the rest).
        grid_dpi: resolution of the recall grid image.
        prefix: the scalars' name prefix (``"memory"``: ``"memory/loss"``...).
        seed: seeds the model's weights (when built here), its batches and the judge.
        batch_size, lr, device, mixed_precision: passed to ``fit``.
        model_options: keywords for ``TypeA`` / ``TypeB.for_memory`` when built here.
    """

    def __init__(
        self,
        memory: ShortTermMemory,
        model: str | LongTermMemory = "B",
        *,
        steps: int = 20,
        judge_every: int | None = 10,
        judge_steps: int | None = None,
        samples: int = 5,
        layout: Layout | None = None,
        reachable: Collection[Hashable] | None = None,
        grid_dpi: float = 60,
        prefix: str = "memory",
        seed: int = 0,
        batch_size: int | None = None,
        lr: float | None = None,
        device: str | torch.device = "auto",
        mixed_precision: str | None = None,
        model_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(memory, ShortTermMemory):
            raise InvalidTypeError(
                f"memory must be the ShortTermMemory the env fills (env.memory), got "
                f"{type(memory).__name__}"
            )
        if isinstance(model, str):
            if model not in _MIN_KEYS:
                raise InvalidValueError(f"model must be 'A', 'B' or a model, got {model!r}")
        elif not isinstance(model, LongTermMemory):
            raise InvalidTypeError(
                f"model must be 'A', 'B' or a TypeA / TypeB, got {type(model).__name__}"
            )
        elif model_options:
            raise InvalidValueError("model_options build a model; this one is built already")
        if judge_every is not None:
            judge_every = check_positive_int("judge_every", judge_every)
        self.memory = memory
        self.model: LongTermMemory | None = None if isinstance(model, str) else model
        self._kind = model if isinstance(model, str) else model.kind
        self.steps = check_positive_int("steps", steps)
        self.judge_every = judge_every
        if judge_steps is not None:
            judge_steps = check_positive_int("judge_steps", judge_steps)
        self.judge_steps = judge_steps
        self.samples = check_positive_int("samples", samples)
        self.layout, self.reachable, self.grid_dpi = layout, reachable, grid_dpi
        self.prefix = prefix
        self.seed = check_seed(seed)
        self.fit_options = {
            "batch_size": batch_size,
            "lr": lr,
            "device": device,
            "mixed_precision": mixed_precision,
        }
        self.model_options = dict(model_options or {})
        self._clock = _Clock()

    @property
    def calls(self) -> int:
        """Updates that trained the model so far."""
        return self._clock.calls

    def _build(self) -> LongTermMemory | None:
        if self.model is None:
            if self.memory.num_keys < _MIN_KEYS[self._kind]:
                return None
            cls = LongTermMemory.types()[self._kind]
            self.model = cls.for_memory(self.memory, **{"seed": self.seed, **self.model_options})
        return self.model

    def update(self, env_steps: int = 0) -> MemoryUpdate | None:
        """Train ``steps`` steps on the memory as it is now; ``None`` while it is too small.

        ``env_steps`` (the agent's step count) is only recorded in the result.
        """
        model = self._build()
        if model is None:
            return None
        known_before = len(model.keys)
        first = model.training_state is None
        started = time.perf_counter()
        history = model.fit(
            self.memory,
            self.steps,
            seed=self.seed if first else None,
            progress=False,
            **self.fit_options,
        )
        fit_seconds = time.perf_counter() - started
        self._clock.calls += 1
        p = self.prefix
        scalars = {
            f"{p}/states_known": float(len(model.keys)),
            f"{p}/states_in_memory": float(self.memory.num_keys),
            f"{p}/states_added": float(len(model.keys) - known_before),
            f"{p}/frames": float(len(self.memory)),
            f"{p}/train_steps": float(model.training_state.step),
            f"{p}/fit_seconds": fit_seconds,
        }
        for name in TERMS:
            scalars[f"{p}/{name}"] = float(np.mean(history[name][-self.steps :]))
        grid = report = None
        if self.judge_every is not None and (self.calls - 1) % self.judge_every == 0:
            report, judged = self._judge(model)
            scalars.update(judged)
            grid = self._grid(model)
        return MemoryUpdate(self.calls, int(env_steps), scalars, grid, report)

    def _judge(self, model: LongTermMemory) -> tuple[Any, dict[str, float]]:
        from man_rl.evaluation import judge_samples, recall_all, train_judge
        from man_rl.evaluation.metrics import shared_keys

        started = time.perf_counter()
        judge = train_judge(self.memory, seed=self.seed, steps=self.judge_steps)
        keys = shared_keys(model, self.memory)
        report = judge_samples(
            judge, recall_all(model, keys, self.samples, seed=self.seed), self.memory
        )
        p = self.prefix
        figures = {
            "judge_accuracy": report.accuracy,
            "judge_ceiling": report.ceiling,
            "judge_accuracy_ratio": report.accuracy_ratio,
            "judge_fidelity": report.fidelity,
            "judge_diversity": report.diversity,
            "judge_precision": report.precision,
            "judge_recall": report.recall,
        }
        log = model.growth_log
        if log is not None:
            added = set(model.keys[log.initial_keys :])
            hits = [s.accuracy for s in report.states if s.key in added]
            if hits:
                figures["judge_accuracy_added"] = float(np.mean(hits))
        figures["judge_seconds"] = time.perf_counter() - started
        return report, {f"{p}/{k}": float(v) for k, v in figures.items() if v is not None}

    def _grid(self, model: LongTermMemory) -> np.ndarray:
        from man_rl.plotting import recall_grid_figure

        fig = recall_grid_figure(
            model,
            memory=self.memory,
            layout=self.layout,
            reachable=self.reachable,
            seed=self.seed,
            title=f"{len(model.keys)} states known, {model.training_state.step} training steps",
        )
        fig.set_dpi(self.grid_dpi)
        return figure_pixels(fig)


__all__ = ["MemoryTrainer", "MemoryUpdate", "figure_pixels"]
