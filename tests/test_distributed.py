"""Collection over Ray tasks (a local Ray), merged like the worker processes' results."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gymnasium as gym
import minigrid  # noqa: F401
import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.collection import RayTasks, collect
from man_rl.errors import InvalidValueError

ray = pytest.importorskip("ray")


def make_env(env_id: str = "MiniGrid-Empty-Random-5x5-v0"):
    return gym.make(env_id, render_mode="rgb_array", tile_size=8)


def turn_policy(env, seed):
    return lambda obs, info: 1 if info["state_key"][2] % 2 else 2


@pytest.fixture(scope="module")
def local_ray():
    # Workers import this test module by name to run the factories defined here.
    here = str(Path(__file__).parent)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": here}},
    )
    yield
    ray.shutdown()


def test_ray_collection_equals_merged_shards(local_ray):
    result = collect(
        RayTasks(make_env, 2), None, 41, make_policy=turn_policy, seed=5, capacity=100, epsilon=0.3
    )
    expected = ShortTermMemory(100)
    for i, share in enumerate([21, 20]):
        part = collect(
            make_env(), None, share, make_policy=turn_policy, seed=5 + i, capacity=100, epsilon=0.3
        )
        expected.merge(part.memory)
    memory = result.memory
    assert memory.keys == expected.keys
    for key in memory.keys:
        assert np.array_equal(memory.queue(key), expected.queue(key))
    assert len(memory) == 41 + 2  # every step plus the two first resets (capacity not hit)
    assert result.steps == 41 and result.envs == 2 and not result.interrupted


def test_ray_with_partial_factories_and_existing_memory(local_ray):
    existing = ShortTermMemory(3)
    existing.add("other", np.zeros((40, 40, 3), np.uint8))
    result = collect(
        RayTasks(partial(make_env, "MiniGrid-Empty-5x5-v0"), 3),
        None,
        10,
        make_policy=turn_policy,
        memory=existing,
    )
    assert result.memory is existing
    assert existing.keys[0] == "other" and existing.num_keys > 1
    assert max(existing.counts().values()) <= 3


def test_stop_reaches_every_task_and_keeps_what_they_gathered(local_ray):
    calls = []
    result = collect(
        RayTasks(make_env, 2), None, 10**6, seed=0, stop=lambda: calls.append(1) or len(calls) > 20
    )
    assert result.interrupted and 0 < result.steps < 10**6
    assert len(result.memory) >= result.steps


def test_bad_worker_counts():
    with pytest.raises(InvalidValueError, match="workers"):
        RayTasks(make_env, 0)
    with pytest.raises(InvalidValueError, match="at least the number of workers"):
        collect(RayTasks(make_env, 2), None, 1)
