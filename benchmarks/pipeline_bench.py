"""End-to-end: ``man-rl demo`` wall time, and vector-env collection throughput."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.harness import Row
from man_rl.cli import main as cli_main


def demo_wall_time(extra: list[str]) -> Row:
    """``man-rl demo`` from start to the last picture written."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        code = cli_main(["demo", "--quiet", "--out", str(Path(folder) / "demo"), *extra])
        seconds = time.perf_counter() - start
    return Row(
        "man-rl demo wall time",
        f"{seconds:.1f} s" + ("" if code == 0 else f" (exit {code})"),
        "-",
        None,
        "<= 60 s",
        code == 0 and seconds <= 60,
    )


def vector_speedup(steps: int, repeats: int) -> Row:
    """Collection with 2 async workers vs 1 env, MiniGrid-Empty-8x8 tile 8, random policy."""
    import gymnasium as gym
    import minigrid  # noqa: F401

    from benchmarks.harness import interleaved
    from man_rl import MemoryWrapper
    from man_rl.collect import collect
    from man_rl.vector import collect_vector, make_memory_vec_env

    env_id = "MiniGrid-Empty-8x8-v0"
    single = MemoryWrapper(gym.make(env_id, render_mode="rgb_array", tile_size=8), capacity=100)
    single.action_space.seed(0)
    vec = make_memory_vec_env(env_id, 2, vectorization_mode="async", capacity=100, tile_size=8)
    collect_vector(vec, None, 50, seed=0)  # start the workers
    try:
        vec_time, single_time = interleaved(
            lambda: collect_vector(vec, None, steps, seed=0),
            lambda: collect(single, lambda obs, info: single.action_space.sample(), steps),
            repeats,
        )
    finally:
        vec.close()
    speedup = single_time / vec_time
    return Row(
        "collection, AsyncVectorEnv of 2 (lock-step) vs 1 env (Empty-8x8)",
        f"{steps / vec_time:,.0f} steps/s",
        f"1 env {steps / single_time:,.0f} steps/s",
        speedup,
        ">= 1.6x",
        speedup >= 1.6,
    )


def worker_speedup(steps: int, repeats: int) -> Row:
    """Collection in 2 worker processes (CollectorPool) vs 1 env, Empty-8x8 tile 8, random.

    The pool is started before timing (as a long collection amortises it); its start-up is
    reported beside the throughput.
    """
    from functools import partial

    import gymnasium as gym
    import minigrid  # noqa: F401

    from benchmarks.harness import interleaved
    from man_rl import MemoryWrapper
    from man_rl.agents import make_policy
    from man_rl.collect import collect
    from man_rl.distributed import CollectorPool

    env_id = "MiniGrid-Empty-8x8-v0"
    make_env = partial(gym.make, env_id, render_mode="rgb_array", tile_size=8)
    single = MemoryWrapper(make_env(), capacity=100)
    single.action_space.seed(0)
    start = time.perf_counter()
    with CollectorPool(2) as pool:
        pool.collect(make_env, partial(make_policy, "random"), 2, capacity=100)
        startup = time.perf_counter() - start
        pool_time, single_time = interleaved(
            lambda: pool.collect(make_env, partial(make_policy, "random"), steps, capacity=100),
            lambda: collect(single, lambda obs, info: single.action_space.sample(), steps),
            repeats,
        )
    speedup = single_time / pool_time
    return Row(
        "collection, 2 worker processes (CollectorPool) vs 1 env (Empty-8x8)",
        f"{steps / pool_time:,.0f} steps/s (pool start-up {startup:.2f} s, once)",
        f"1 env {steps / single_time:,.0f} steps/s",
        speedup,
        ">= 1.6x",
        speedup >= 1.6,
    )


def run(quick: bool = False) -> list[Row]:
    """The demo (skipped when quick: the suite runs it elsewhere) and the collection speed-ups."""
    if quick:
        return [vector_speedup(40, 1), worker_speedup(40, 1)]
    return [vector_speedup(4000, 5), worker_speedup(4000, 5), demo_wall_time([])]
