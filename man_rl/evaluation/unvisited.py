"""The paper's Figures 7-8 as the paper ran them, and man_rl's answer beside them.

The paper collects screens with a greedy pretrained Q-learning agent, builds its memory
network over **every** state and recalls every state: "the state information of the
shortest path was well learned. On the other hand, screens in other states did not obtain
data and did not learn well." :func:`coverage_study` runs exactly that, and man_rl's answer
on the same env:

- **the paper's run**: a model over every reachable state (the env adapter's
  ``reachable_states``), trained on what the greedy agent (epsilon 0) collected; every state
  is recalled, the unvisited ones drawn as the model draws them;
- **man_rl's answer**: collect with epsilon-greedy exploration so every reachable state has
  screens, build the model from the states the memory saw, and mark the states it never
  saw "never seen" instead of drawing a guess.

One judge (:func:`~man_rl.evaluation.judge.train_judge`), trained on the explored memory's
real frames (which hold every reachable state), scores both; :func:`judge_by_visit` gives
its accuracy over the visited and over the unvisited states separately.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory, TypeA
    >>> from man_rl.evaluation import train_judge
    >>> stm = ShortTermMemory(capacity=4)
    >>> for key, level in [("dark", 20), ("light", 230), ("grey", 120)]:
    ...     for i in range(3):
    ...         stm.add(key, np.full((6, 6), level + i, np.uint8))
    >>> judge = train_judge(stm, steps=40, seed=0)
    >>> model = TypeA.for_memory(stm, seed=0)  # untrained: one blur for every state
    >>> report = judge_by_visit(model, ["dark"], judge, n=4)
    >>> report.visited, report.unvisited, len(report.recalled["grey"])
    (['dark'], ['light', 'grey'], 4)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from man_rl.collection import collect
from man_rl.collection.core import PolicyFactory
from man_rl.env.adapter import adapter_for
from man_rl.errors import EnvCompatibilityError, InvalidValueError
from man_rl.evaluation.judge import Judge, train_judge
from man_rl.evaluation.metrics import recall_all
from man_rl.ltm.base import LongTermMemory
from man_rl.stm.memory import ShortTermMemory


class VisitReport(NamedTuple):
    """What :func:`judge_by_visit` found.

    ``recalled``: ``key -> n`` recalled frames of every state the model knows among
    ``states``; ``visited`` / ``unvisited``: those states with / without training frames
    (in ``states`` order); ``not_recalled``: states the model does not know (man_rl's
    "never seen"); ``judged``: ``key -> share`` of its samples the judge gives to it (states
    the judge knows); ``accuracy_visited`` / ``accuracy_unvisited``: that share over all
    samples of the visited / the unvisited states the judge knows (``None`` if none).
    """

    recalled: dict[Hashable, np.ndarray]
    visited: list[Hashable]
    unvisited: list[Hashable]
    not_recalled: list[Hashable]
    judged: dict[Hashable, float]
    accuracy_visited: float | None
    accuracy_unvisited: float | None


def judge_by_visit(
    model: Any,
    visited: Collection[Hashable],
    judge: Judge,
    *,
    states: Sequence[Hashable] | None = None,
    n: int = 10,
    seed: int = 0,
) -> VisitReport:
    """Recall ``n`` screens of every state and judge them, visited and unvisited apart.

    Args:
        model: a long-term memory.
        visited: the states the model had training frames of.
        judge: a judge trained on real frames of (ideally) every state.
        states: the states to report on (default: the model's keys).
        n: samples recalled per state.
        seed: seeds the samples.
    """
    states = list(model.keys if states is None else states)
    visited = set(visited)
    known = [key for key in states if key in model.key_index]
    recalled = recall_all(model, known, n, seed=seed) if known else {}
    judged = {
        key: float(np.mean(judge.predict(frames) == judge.index_of(key)))
        for key, frames in recalled.items()
        if key in judge
    }

    def share(keys: list[Hashable]) -> float | None:
        scores = [judged[key] for key in keys if key in judged]
        return float(np.mean(scores)) if scores else None  # every state has n samples

    seen = [key for key in known if key in visited]
    unseen = [key for key in known if key not in visited]
    return VisitReport(
        recalled=recalled,
        visited=seen,
        unvisited=unseen,
        not_recalled=[key for key in states if key not in model.key_index],
        judged=judged,
        accuracy_visited=share(seen),
        accuracy_unvisited=share(unseen),
    )


@dataclass
class CoverageStudy:
    """Everything :func:`coverage_study` made, for pictures and tables.

    Attributes:
        states: every reachable state (the adapter's), sorted.
        greedy: the greedy agent's memory (the paper's data).
        explored: the epsilon-greedy memory (man_rl's data; also the judge's real frames).
        judge: the judge of ``explored``'s real frames.
        paper_model: the model over every reachable state, trained on ``greedy``.
        paper: its :class:`VisitReport` (visited = the states ``greedy`` holds).
        man_rl_model: the model of ``explored``'s states, trained on ``explored``.
        man_rl: its :class:`VisitReport` over every reachable state.
        steps: training steps of each model.
    """

    states: list[Hashable]
    greedy: ShortTermMemory
    explored: ShortTermMemory
    judge: Judge
    paper_model: LongTermMemory
    paper: VisitReport
    man_rl_model: LongTermMemory
    man_rl: VisitReport
    steps: int

    def rows(self) -> list[dict[str, Any]]:
        """One summary row per side (JSON-able), for a table."""
        out = []
        for name, report, memory in (
            ("paper: greedy agent, model over every state", self.paper, self.greedy),
            ("man_rl: epsilon-greedy, model of the states seen", self.man_rl, self.explored),
        ):
            out.append(
                {
                    "run": name,
                    "states reachable": len(self.states),
                    "states with screens": sum(key in memory for key in self.states),
                    "states recalled": len(report.recalled),
                    "judge accuracy, visited": report.accuracy_visited,
                    "judge accuracy, unvisited": report.accuracy_unvisited,
                    "marked never seen": len(report.not_recalled),
                }
            )
        return out


def coverage_study(
    make_env: Callable[[], Any],
    make_policy: PolicyFactory,
    model: type[LongTermMemory],
    *,
    greedy_steps: int = 2000,
    explored_steps: int = 4000,
    epsilon: float = 0.5,
    capacity: int = 100,
    steps: int = 800,
    paper_preset: str = "paper",
    man_rl_preset: str = "recommended",
    n: int = 10,
    judge_steps: int | None = None,
    seed: int = 0,
) -> CoverageStudy:
    """The paper's Figures 7-8 run and man_rl's answer on one env (see the module doc).

    Args:
        make_env: builds the env (``render_mode="rgb_array"``); called once per collection.
        make_policy: the pretrained agent, ``make_policy(env, seed=...) -> policy``.
        model: ``TypeA`` or ``TypeB``.
        greedy_steps: env steps of the greedy agent (epsilon 0).
        explored_steps: env steps of the epsilon-greedy collection.
        epsilon: the exploration of man_rl's collection.
        capacity: frames kept per state.
        steps: training steps of each model (batch 32, seeded with ``seed``).
        paper_preset: the preset of the paper's model
            (:meth:`~man_rl.ltm.base.LongTermMemory.preset`; default ``"paper"``).
        man_rl_preset: the preset of man_rl's model (default ``"recommended"``).
        n: samples recalled per state.
        judge_steps: the judge's most training steps (default: ``train_judge``'s).
        seed: seeds the collections, the judge, the weights, the training and the samples.

    Raises:
        EnvCompatibilityError: the env's adapter cannot list its reachable states.
    """
    env = make_env()
    try:
        states = adapter_for(env).reachable_states(env)
        if states is None:
            raise EnvCompatibilityError(
                "coverage_study builds the model over every reachable state, but this env's "
                "adapter cannot list them (reachable_states is None); use an env whose "
                "adapter can (MiniGrid, Discrete) or register one that does"
            )
        states = sorted(states)
        greedy = collect(
            env, None, greedy_steps, make_policy=make_policy, capacity=capacity, seed=seed
        ).memory
    finally:
        env.close()
    env = make_env()
    try:
        explored = collect(
            env,
            None,
            explored_steps,
            make_policy=make_policy,
            capacity=capacity,
            seed=seed,
            epsilon=epsilon,
        ).memory
    finally:
        env.close()
    outside = [key for key in greedy.keys + explored.keys if key not in set(states)]
    if outside:
        raise InvalidValueError(
            f"the memories hold states the adapter does not list as reachable: {outside[:5]}"
        )
    judge = train_judge(explored, seed=seed, steps=judge_steps)
    paper_model = model.preset(paper_preset, greedy, keys=states, seed=seed)
    paper_model.fit(greedy, steps, seed=seed, progress=False)
    man_rl_model = model.preset(man_rl_preset, explored, seed=seed)
    man_rl_model.fit(explored, steps, seed=seed, progress=False)
    return CoverageStudy(
        states=states,
        greedy=greedy,
        explored=explored,
        judge=judge,
        paper_model=paper_model,
        paper=judge_by_visit(paper_model, greedy.keys, judge, states=states, n=n, seed=seed),
        man_rl_model=man_rl_model,
        man_rl=judge_by_visit(man_rl_model, explored.keys, judge, states=states, n=n, seed=seed),
        steps=steps,
    )


__all__ = ["CoverageStudy", "VisitReport", "coverage_study", "judge_by_visit"]
