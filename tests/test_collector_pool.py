"""Collection in local worker processes (CollectorPool), merged like Ray's."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from functools import partial

import gymnasium as gym
import minigrid  # noqa: F401  (registers the ids in this process; workers do it themselves)
import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.agents import make_policy
from man_rl.collect import collect
from man_rl.distributed import CollectorPool, collect_shard, collect_with_processes
from man_rl.errors import InvalidValueError
from man_rl.wrapper import MemoryWrapper

# Module-level partials of library functions: the workers unpickle them by reference.
make_env = partial(gym.make, "MiniGrid-Empty-Random-5x5-v0", render_mode="rgb_array", tile_size=8)
random_policy = partial(make_policy, "random")


def assert_same(a: ShortTermMemory, b: ShortTermMemory) -> None:
    assert a.keys == b.keys
    for key in a.keys:
        assert np.array_equal(a.queue(key), b.queue(key))


@pytest.fixture(scope="module")
def pool():
    with CollectorPool(2) as pool:
        yield pool


def test_pool_collection_equals_merged_shards(pool):
    memory = pool.collect(make_env, random_policy, 41, seed=5, capacity=100, epsilon=0.3)
    expected = ShortTermMemory(100)
    for i, share in enumerate([21, 20]):
        shard = collect_shard(make_env, random_policy, share, seed=5 + i, capacity=100, epsilon=0.3)
        for key, frames in shard:
            for frame in frames:
                expected.add(key, frame)
    assert_same(memory, expected)
    assert len(memory) >= 41 + 2  # every step plus each worker's first reset


def test_same_seed_same_memory_and_the_pool_is_reusable(pool):
    first = pool.collect(make_env, random_policy, 60, seed=1, capacity=10)
    second = pool.collect(make_env, random_policy, 60, seed=1, capacity=10)
    other = pool.collect(make_env, random_policy, 60, seed=2, capacity=10)
    assert_same(first, second)
    assert max(first.counts().values()) <= 10
    assert first.counts() != other.counts() or any(
        not np.array_equal(first.queue(k), other.queue(k)) for k in first.keys
    )


def test_into_an_existing_memory(pool):
    existing = ShortTermMemory(3)
    existing.add("other", np.zeros((40, 40, 3), np.uint8))
    memory = pool.collect(make_env, random_policy, 30, capacity=3, memory=existing)
    assert memory is existing
    assert memory.keys[0] == "other" and memory.num_keys > 1
    assert max(memory.counts().values()) <= 3


def test_collect_with_processes_makes_its_own_pool():
    memory = collect_with_processes(make_env, random_policy, 20, workers=2, seed=3, capacity=50)
    expected = ShortTermMemory(50)
    for i in range(2):
        for key, frames in collect_shard(make_env, random_policy, 10, seed=3 + i, capacity=50):
            for frame in frames:
                expected.add(key, frame)
    assert_same(memory, expected)


def test_errors_in_a_worker_reach_the_caller(pool):
    bad_env = partial(gym.make, "Nope-v0")
    with pytest.raises(gym.error.Error, match="Nope"):
        pool.collect(bad_env, random_policy, 4)


def test_unpicklable_factories_are_explained(pool):
    with pytest.raises(InvalidValueError, match=r"make_env must be picklable.*lambda"):
        pool.collect(lambda: make_env(), random_policy, 4)
    with pytest.raises(InvalidValueError, match="make_policy must be picklable"):
        pool.collect(make_env, lambda env, seed: None, 4)
    assert len(pool.collect(make_env, random_policy, 4)) > 0  # the pool still works


def policy_failing_for_seed_1(env, seed):
    if seed == 1:

        def act(obs, info):
            raise RuntimeError("the policy of worker 1 broke")

        return act
    return lambda obs, info: 2


def test_an_error_in_one_worker_stops_the_others(pool):
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="worker 1 broke"):
        # worker 0 alone would step for about a minute
        pool.collect(make_env, policy_failing_for_seed_1, 400_000, seed=0)
    assert time.perf_counter() - start < 20
    assert len(pool.collect(make_env, random_policy, 4)) > 0  # the pool still works


def test_factories_from_an_interactive_session_are_explained(pool, monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))

    def make_my_env():
        return make_env()

    make_my_env.__module__ = "__main__"
    with pytest.raises(InvalidValueError, match=r"interactive session.*module"):
        pool.collect(partial(make_my_env), random_policy, 4)


def test_bad_worker_counts(pool):
    for workers in (0, -1, 1.5, True):
        with pytest.raises(InvalidValueError, match="workers"):
            CollectorPool(workers)
    with pytest.raises(InvalidValueError, match="at least the number of workers"):
        pool.collect(make_env, random_policy, 1)


def test_stop_ends_a_shard_early_and_keeps_what_was_gathered():
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 5

    env = MemoryWrapper(make_env(), capacity=50)
    result = collect(env, lambda obs, info: 2, 1000, seed=0, stop=stop)
    assert result.interrupted and result.steps == 5
    shard = collect_shard(make_env, random_policy, 1000, seed=0, capacity=50, stop=lambda: True)
    assert sum(len(frames) for _, frames in shard) == 1  # the first reset's frame


def worker_pids(pool: CollectorPool) -> list[int]:
    return list(pool._executor._processes)


def test_a_worker_killed_between_calls_restarts_the_pool():
    with CollectorPool(2) as own:
        own.collect(make_env, random_policy, 4)
        os.kill(worker_pids(own)[0], signal.SIGKILL)
        time.sleep(0.5)
        assert len(own.collect(make_env, random_policy, 40)) >= 40


def test_one_call_at_a_time_and_none_after_close():
    with CollectorPool(2) as own:
        own.collect(make_env, random_policy, 4)  # started
        long = threading.Thread(target=own.collect, args=(make_env, random_policy, 6000))
        long.start()
        time.sleep(0.3)
        with pytest.raises(InvalidValueError, match="already collecting"):
            own.collect(make_env, random_policy, 4)
        long.join()
    with pytest.raises(InvalidValueError, match="closed"):
        own.collect(make_env, random_policy, 4)
