from __future__ import annotations

import gymnasium as gym
import minigrid  # noqa: F401
import numpy as np
import pytest

from man_rl import MemoryWrapper, ShortTermMemory
from man_rl.errors import InvalidValueError
from man_rl.vector import (
    StateFrameInfo,
    VectorMemoryWrapper,
    collect_vector,
    make_memory_vec_env,
    per_env_policy,
)

ENV_ID = "MiniGrid-Empty-Random-5x5-v0"  # random start: seeds matter


def policy(obs, info):
    """Deterministic in the state: the same trajectory however the env is run."""
    x, y, d = info["state_key"]
    return (x * 7 + y * 3 + d) % 3


def single_env_memory(seeds, steps_each, capacity):
    memory = ShortTermMemory(capacity)
    for seed in seeds:
        env = MemoryWrapper(gym.make(ENV_ID, render_mode="rgb_array", tile_size=8), memory=memory)
        obs, info = env.reset(seed=seed)
        for _ in range(steps_each):
            obs, _, terminated, truncated, info = env.step(policy(obs, info))
            if terminated or truncated:
                obs, info = env.reset()
    return memory


def assert_same_content(a: ShortTermMemory, b: ShortTermMemory):
    assert set(a.keys) == set(b.keys)
    assert a.counts() == {k: b.counts()[k] for k in a.keys}
    for key in a.keys:
        assert np.array_equal(np.unique(a.queue(key), axis=0), np.unique(b.queue(key), axis=0))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_memory_equals_single_env_memories(mode):
    steps_each, seeds = 60, [11, 12]
    env = make_memory_vec_env(
        ENV_ID, num_envs=2, vectorization_mode=mode, capacity=1000, tile_size=8
    )
    taken = collect_vector(env, per_env_policy(policy, 2), 2 * steps_each, seed=11)
    env.close()
    assert taken == 2 * steps_each
    assert_same_content(env.memory, single_env_memory(seeds, steps_each, 1000))


def test_sync_and_async_give_the_same_memory():
    memories = []
    for mode in ["sync", "async"]:
        env = make_memory_vec_env(
            ENV_ID, num_envs=2, vectorization_mode=mode, capacity=50, tile_size=8
        )
        collect_vector(env, per_env_policy(policy, 2), 200, seed=3)
        env.close()
        memories.append(env.memory)
    a, b = memories
    assert a.keys == b.keys
    for key in a.keys:
        assert np.array_equal(a.queue(key), b.queue(key))


def test_terminal_frames_are_stored():
    env = make_memory_vec_env(
        "MiniGrid-Empty-5x5-v0", num_envs=2, vectorization_mode="sync", capacity=10, tile_size=8
    )
    env.reset(seed=[0, 1])
    for action in [2, 2, 1, 2, 2]:
        _, _, terminated, _, _ = env.step(np.array([action, action]))
    assert terminated.all()
    assert env.memory.counts()[(3, 3, 1)] == 2
    env.step(np.array([0, 0]))  # autoreset: back at the start
    assert env.memory.counts()[(1, 1, 0)] == 4
    env.close()


def test_random_policy_and_interrupt_free_count():
    env = make_memory_vec_env(
        "MiniGrid-Empty-5x5-v0", num_envs=3, vectorization_mode="sync", capacity=10, tile_size=8
    )
    taken = collect_vector(env, None, 30, seed=0)
    assert taken == 30
    assert len(env.memory) > 0
    env.close()


def test_vector_env_without_frames_is_explained():
    vec = gym.make_vec("FrozenLake-v1", num_envs=2, vectorization_mode="sync")
    env = VectorMemoryWrapper(vec, capacity=3)
    with pytest.raises(InvalidValueError, match="StateFrameInfo"):
        env.reset(seed=0)


def test_state_frame_info_needs_screens():
    with pytest.raises(InvalidValueError, match="render_mode"):
        StateFrameInfo(gym.make("MiniGrid-Empty-5x5-v0"))


def test_bad_arguments():
    with pytest.raises(InvalidValueError, match="num_envs"):
        make_memory_vec_env(ENV_ID, 0)
    with pytest.raises(InvalidValueError, match="vectorization_mode"):
        make_memory_vec_env(ENV_ID, 2, vectorization_mode="ray")
    vec = gym.make_vec("FrozenLake-v1", num_envs=1, vectorization_mode="sync")
    with pytest.raises(InvalidValueError, match="pass only one"):
        VectorMemoryWrapper(vec, capacity=3, memory=ShortTermMemory(4))
