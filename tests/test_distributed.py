from __future__ import annotations

from functools import partial
from pathlib import Path

import gymnasium as gym
import minigrid  # noqa: F401
import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.distributed import collect_shard, collect_with_ray
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
    memory = collect_with_ray(
        make_env, turn_policy, 41, workers=2, seed=5, capacity=100, epsilon=0.3
    )
    expected = ShortTermMemory(100)
    for i, share in enumerate([21, 20]):
        for key, frames in collect_shard(
            make_env, turn_policy, share, seed=5 + i, capacity=100, epsilon=0.3
        ):
            for frame in frames:
                expected.add(key, frame)
    assert memory.keys == expected.keys
    for key in memory.keys:
        assert np.array_equal(memory.queue(key), expected.queue(key))
    assert len(memory) == 41 + 2  # every step plus the two first resets (capacity not hit)


def test_ray_with_partial_factories_and_existing_memory(local_ray):
    existing = ShortTermMemory(3)
    existing.add("other", np.zeros((40, 40, 3), np.uint8))
    memory = collect_with_ray(
        partial(make_env, "MiniGrid-Empty-5x5-v0"),
        turn_policy,
        10,
        workers=3,
        memory=existing,
        capacity=3,
    )
    assert memory is existing
    assert memory.keys[0] == "other" and memory.num_keys > 1
    assert max(memory.counts().values()) <= 3


def test_bad_worker_counts():
    with pytest.raises(InvalidValueError, match="workers"):
        collect_with_ray(make_env, turn_policy, 10, workers=0)
    with pytest.raises(InvalidValueError, match="at least the number of workers"):
        collect_with_ray(make_env, turn_policy, 1, workers=2)
