"""The paper's Figures 7-8 run: unvisited states recalled and judged apart from visited ones."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory, TypeA
from man_rl.agents import make_policy
from man_rl.envs import reachable_states, register_envs
from man_rl.errors import EnvCompatibilityError
from man_rl.evaluation import coverage_study, judge_by_visit, train_judge
from man_rl.ltm.common import KeyIndex

ENV_ID = "ManRL/Empty-4x4-v0"


class Replay:
    """A stand-in long-term memory that 'recalls' a given frame for each state."""

    def __init__(self, frames: dict) -> None:
        self.key_index = KeyIndex(frames)
        self.keys = list(frames)
        self.frame_shape = next(iter(frames.values())).shape
        self.device = torch.device("cpu")
        self._frames = torch.stack(
            [torch.from_numpy(f).float().div(255).permute(2, 0, 1) for f in frames.values()]
        )

    def generate(self, labels, generator):
        return self._frames[labels]


def three_states() -> ShortTermMemory:
    rng = np.random.default_rng(0)
    stm = ShortTermMemory(capacity=6)
    for key, level in [("a", 30), ("b", 130), ("c", 230)]:
        for _ in range(5):
            stm.add(key, rng.integers(level - 20, level + 20, (6, 6, 3), dtype=np.uint8))
    return stm


@pytest.fixture(scope="module")
def judged():
    stm = three_states()
    return stm, train_judge(stm, steps=60, seed=0)


def test_judge_by_visit_splits_visited_from_unvisited(judged):
    stm, judge = judged
    right = Replay({key: stm.queue(key)[0] for key in stm.keys})
    report = judge_by_visit(right, ["a"], judge, n=3)
    assert report.visited == ["a"] and report.unvisited == ["b", "c"]
    assert report.accuracy_visited == report.accuracy_unvisited == 1.0
    assert {key: len(frames) for key, frames in report.recalled.items()} == dict.fromkeys("abc", 3)
    # negative control: the unvisited states drawn as another state's screen score 0
    wrong = Replay({"a": stm.queue("a")[0], "b": stm.queue("a")[0], "c": stm.queue("a")[1]})
    report = judge_by_visit(wrong, ["a"], judge, n=3)
    assert report.accuracy_visited == 1.0 and report.accuracy_unvisited == 0.0
    assert report.judged == {"a": 1.0, "b": 0.0, "c": 0.0}


def test_judge_by_visit_reports_states_the_model_does_not_know(judged):
    stm, judge = judged
    model = Replay({"a": stm.queue("a")[0], "b": stm.queue("b")[0]})
    report = judge_by_visit(model, ["a", "b"], judge, states=["a", "b", "c", "d"], n=2)
    assert report.not_recalled == ["c", "d"] and report.unvisited == []
    assert report.accuracy_unvisited is None and report.accuracy_visited == 1.0


def make_env():
    register_envs()
    return gym.make(ENV_ID, render_mode="rgb_array", tile_size=4)


def test_coverage_study_runs_the_paper_and_man_rl_side_by_side():
    study = coverage_study(
        make_env,
        partial(make_policy, "pretrained"),
        TypeA,
        greedy_steps=60,
        explored_steps=600,
        capacity=10,
        steps=3,
        n=2,
        judge_steps=40,
    )
    reachable = reachable_states(ENV_ID)
    assert study.states == reachable and len(reachable) == 14
    # the paper's run: a model over every reachable state, most of them never visited
    assert study.paper_model.keys == reachable
    assert study.paper_model.config.condition_scale == "unit"  # the paper preset
    assert set(study.paper.recalled) == set(reachable)
    assert set(study.paper.visited) == set(study.greedy.keys)
    assert 0 < len(study.paper.visited) < 8 and len(study.paper.unvisited) > 6
    assert study.paper.accuracy_unvisited is not None
    # man_rl's answer: the states it saw, the others marked, never drawn
    assert set(study.man_rl.recalled) == set(study.explored.keys)
    assert set(study.man_rl.not_recalled) == set(reachable) - set(study.explored.keys)
    rows = study.rows()
    assert [r["states recalled"] for r in rows] == [14, len(study.explored.keys)]
    assert rows[0]["marked never seen"] == 0


def test_coverage_study_needs_reachable_states():
    with pytest.raises(EnvCompatibilityError, match="reachable"):
        coverage_study(
            lambda: gym.make("CartPole-v1", render_mode="rgb_array"),
            lambda env, seed=None: lambda obs, info: 0,
            TypeA,
        )
