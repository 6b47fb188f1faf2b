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


def _sources(steps: int, repeats: int, source, label: str, target_note: str) -> Row:
    """One source's collection speed against one env, both from the one ``collect``."""
    from functools import partial

    import gymnasium as gym
    import minigrid  # noqa: F401

    from benchmarks.harness import interleaved
    from man_rl.collection import collect

    make_env = partial(gym.make, "MiniGrid-Empty-8x8-v0", render_mode="rgb_array", tile_size=8)
    single = make_env()
    start = time.perf_counter()
    with source(make_env) as many:
        collect(many, None, 2 * many.envs, capacity=100, seed=0)  # start the workers
        startup = time.perf_counter() - start
        many_time, single_time = interleaved(
            lambda: collect(many, None, steps, capacity=100, seed=0),
            lambda: collect(single, None, steps, capacity=100, seed=0),
            repeats,
        )
    single.close()
    speedup = single_time / many_time
    return Row(
        label,
        f"{steps / many_time:,.0f} steps/s (start-up {startup:.2f} s, once)",
        f"1 env {steps / single_time:,.0f} steps/s",
        speedup,
        target_note,
        speedup >= 1.6,
    )


def vector_speedup(steps: int, repeats: int) -> Row:
    """Collection in an AsyncVectorEnv of 2 (lock-step) vs 1 env, Empty-8x8 tile 8, random."""
    from functools import partial

    from man_rl.collection import Vector

    return _sources(
        steps,
        repeats,
        partial(Vector, num_envs=2, mode="async"),
        "collection, AsyncVectorEnv of 2 (lock-step) vs 1 env (Empty-8x8)",
        ">= 1.6x",
    )


def worker_speedup(steps: int, repeats: int) -> Row:
    """Collection in 2 worker processes (CollectorPool) vs 1 env, Empty-8x8 tile 8, random.

    The pool is started before timing (as a long collection amortises it); its start-up is
    reported beside the throughput.
    """
    from functools import partial

    from man_rl.collection import CollectorPool

    return _sources(
        steps,
        repeats,
        partial(CollectorPool, workers=2),
        "collection, 2 worker processes (CollectorPool) vs 1 env (Empty-8x8)",
        ">= 1.6x",
    )


def run(quick: bool = False) -> list[Row]:
    """The demo (skipped when quick: the suite runs it elsewhere) and the collection speed-ups."""
    if quick:
        return [vector_speedup(40, 1), worker_speedup(40, 1)]
    return [vector_speedup(4000, 5), worker_speedup(4000, 5), demo_wall_time([])]
