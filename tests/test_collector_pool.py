"""Collection in local worker processes (CollectorPool), merged like Ray's."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from functools import partial

import gymnasium as gym
import minigrid  # noqa: F401  (registers the ids here; the workers learn them from this process)
import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.agents import make_policy
from man_rl.collection import CollectorPool, collect
from man_rl.errors import InvalidValueError

# Module-level partials of library functions: the workers unpickle them by reference.
make_env = partial(gym.make, "MiniGrid-Empty-Random-5x5-v0", render_mode="rgb_array", tile_size=8)
random_policy = partial(make_policy, "random")


def assert_same(a: ShortTermMemory, b: ShortTermMemory) -> None:
    assert a.keys == b.keys
    for key in a.keys:
        assert np.array_equal(a.queue(key), b.queue(key))


def merged_shards(share_seeds, capacity, epsilon=0.0):
    """What the workers do, one after the other here: a fresh env each, merged in order."""
    expected = ShortTermMemory(capacity)
    for share, seed in share_seeds:
        env = make_env()
        part = collect(
            env,
            None,
            share,
            make_policy=random_policy,
            seed=seed,
            capacity=capacity,
            epsilon=epsilon,
        )
        env.close()
        expected.merge(part.memory)
    return expected


@pytest.fixture(scope="module")
def pool():
    with CollectorPool(make_env, 2) as pool:
        yield pool


def test_pool_collection_equals_merged_shards(pool):
    result = collect(pool, None, 41, make_policy=random_policy, seed=5, capacity=100, epsilon=0.3)
    assert_same(result.memory, merged_shards([(21, 5), (20, 6)], 100, 0.3))
    assert result.steps == 41 and result.envs == 2 and not result.interrupted
    assert len(result.memory) >= 41 + 2  # every step plus each worker's first reset


def test_same_seed_same_memory_and_the_pool_is_reusable(pool):
    first = collect(pool, None, 60, make_policy=random_policy, seed=1, capacity=10).memory
    second = collect(pool, None, 60, make_policy=random_policy, seed=1, capacity=10).memory
    other = collect(pool, None, 60, make_policy=random_policy, seed=2, capacity=10).memory
    assert_same(first, second)
    assert max(first.counts().values()) <= 10
    assert first.counts() != other.counts() or any(
        not np.array_equal(first.queue(k), other.queue(k)) for k in first.keys
    )


def test_a_picklable_policy_is_sent_to_the_workers(pool):
    result = collect(pool, forward, 20, seed=0, capacity=50)
    assert {key[2] for key in result.memory.keys} <= {0, 1, 2, 3}
    assert result.steps == 20


def forward(obs, info):
    return 2


def test_into_an_existing_memory(pool):
    existing = ShortTermMemory(3)
    existing.add("other", np.zeros((40, 40, 3), np.uint8))
    result = collect(pool, None, 30, make_policy=random_policy, memory=existing)
    assert result.memory is existing
    assert existing.keys[0] == "other" and existing.num_keys > 1
    assert max(existing.counts().values()) <= 3


def test_errors_in_a_worker_reach_the_caller():
    with (
        CollectorPool(partial(gym.make, "Nope-v0"), 2) as bad,
        pytest.raises(gym.error.Error, match="Nope"),
    ):
        collect(bad, None, 4)


def test_unpicklable_factories_are_explained(pool):
    with pytest.raises(InvalidValueError, match=r"make_env must be picklable.*lambda"):
        collect(CollectorPool(lambda: make_env(), 1), None, 4)
    with pytest.raises(InvalidValueError, match="make_policy must be picklable"):
        collect(pool, None, 4, make_policy=lambda env, seed: None)
    with pytest.raises(InvalidValueError, match="policy must be picklable"):
        collect(pool, lambda obs, info: 2, 4)
    assert len(collect(pool, None, 4).memory) > 0  # the pool still works


def policy_failing_for_seed_1(env, seed):
    if seed == 1:

        def act(obs, info):
            raise RuntimeError("the policy of worker 1 broke")

        return act
    return forward


def test_an_error_in_one_worker_stops_the_others(pool):
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="worker 1 broke"):
        # worker 0 alone would step for about a minute
        collect(pool, None, 400_000, make_policy=policy_failing_for_seed_1, seed=0)
    assert time.perf_counter() - start < 20
    assert len(collect(pool, None, 4).memory) > 0  # the pool still works


def test_stop_ends_every_worker_early_and_keeps_what_they_gathered(pool):
    started = time.perf_counter()
    result = collect(pool, None, 400_000, seed=0, stop=lambda: time.perf_counter() > started + 1)
    assert result.interrupted and 0 < result.steps < 400_000
    assert len(result.memory) >= result.steps  # every step of both workers was kept
    assert time.perf_counter() - started < 15


def test_factories_from_an_interactive_session_are_explained(pool, monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))

    def make_my_policy(env, seed):
        return forward

    make_my_policy.__module__ = "__main__"
    with pytest.raises(InvalidValueError, match=r"interactive session.*module"):
        collect(pool, None, 4, make_policy=partial(make_my_policy))


def test_bad_worker_counts(pool):
    for workers in (0, -1, 1.5, True):
        with pytest.raises(InvalidValueError, match="workers"):
            CollectorPool(make_env, workers)
    with pytest.raises(InvalidValueError, match="at least the number of workers"):
        collect(pool, None, 1)


def test_an_env_id_registered_here_is_known_in_the_workers():
    gym.register("ManRLTest/Forward-v0", entry_point="minigrid.envs:EmptyEnv", kwargs={"size": 6})
    try:
        make = partial(gym.make, "ManRLTest/Forward-v0", render_mode="rgb_array", tile_size=8)
        with CollectorPool(make, 2) as own:
            result = collect(own, None, 10, seed=0, capacity=5)
        assert result.memory.frame_shape == (48, 48, 3)
    finally:
        del gym.registry["ManRLTest/Forward-v0"]


def worker_pids(pool: CollectorPool) -> list[int]:
    return list(pool._executor._processes)


def test_a_worker_killed_between_calls_restarts_the_pool():
    with CollectorPool(make_env, 2) as own:
        collect(own, None, 4)
        os.kill(worker_pids(own)[0], signal.SIGKILL)
        time.sleep(0.5)
        assert len(collect(own, None, 40).memory) >= 40


def test_one_call_at_a_time_and_none_after_close():
    with CollectorPool(make_env, 2) as own:
        collect(own, None, 4)  # started
        long = threading.Thread(target=collect, args=(own, None, 6000))
        long.start()
        time.sleep(0.3)
        with pytest.raises(InvalidValueError, match="already collecting"):
            collect(own, None, 4)
        long.join()
    with pytest.raises(InvalidValueError, match="closed"):
        collect(own, None, 4)


def direction_key(env, obs, info):
    return int(env.unwrapped.agent_dir)


def test_a_key_function_reaches_the_workers(pool):
    result = collect(pool, None, 60, seed=0, capacity=100, key_fn=direction_key)
    assert set(result.memory.keys) <= {0, 1, 2, 3} and result.memory.num_keys > 1
