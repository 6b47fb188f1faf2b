"""What a short-term memory costs in RAM and address space, against the frame bytes it holds.

Each run happens in a fresh (spawned) process, so memory freed by earlier work cannot hide
the cost, and records the peaks of ``RssAnon`` (anonymous resident memory) and ``VmSize``
(address space) above the process's baseline, read from ``/proc/self/status`` as frames
arrive. The bound the issue sets: each peak within ``1.10 x`` the frame bytes held plus
50 MB in RAM; ``RssAnon`` under 50 MB with on-disk storage (the frames are then file pages,
which the kernel can reclaim).

- :func:`zipf_run`: 100,000 possible keys (``expected_keys``), 1,000 visited with
  Zipf-distributed counts, 64x64x3 frames.
- :func:`four_rooms_run`: the snippet of the issue: ``MiniGrid-FourRooms-v0`` at its default
  tile size (608x608x3 frames, 1.1 MB each), capacity 30, random actions.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmarks.harness import Row
from benchmarks.large_memory import proc_status

MB = 2**20
BOUND_FACTOR, BOUND_SLACK = 1.10, 50 * MB


def status() -> dict[str, int]:
    """``RssAnon`` and ``VmSize`` of this process, in bytes (0 where unknown)."""
    return proc_status("RssAnon", "VmSize")


@dataclass
class Footprint:
    """Peaks above the baseline, and the frame bytes held at the end."""

    held: int
    frames: int
    keys: int
    anon: int
    address: int
    seconds: float

    def within(self, storage: bool) -> bool:
        """The bound: ``RssAnon < 50 MB`` on disk; both peaks ``<= 1.10 x held + 50 MB``."""
        if storage:
            return self.anon < BOUND_SLACK
        limit = BOUND_FACTOR * self.held + BOUND_SLACK
        return self.anon <= limit and self.address <= limit

    def line(self) -> str:
        """The figures in words."""
        return (
            f"{self.held / MB:,.0f} MB of frames held ({self.frames:,} frames, {self.keys:,} "
            f"keys): peak RssAnon +{self.anon / MB:,.0f} MB, VmSize +{self.address / MB:,.0f} MB"
        )


class _Peaks:
    def __init__(self) -> None:
        self.base = status()
        self.anon = self.address = 0

    def poll(self) -> None:
        now = status()
        self.anon = max(self.anon, now["RssAnon"] - self.base["RssAnon"])
        self.address = max(self.address, now["VmSize"] - self.base["VmSize"])


def _zipf(possible: int, visited: int, adds: int, capacity: int, storage: bool) -> dict:
    import time

    from man_rl import ShortTermMemory

    rng = np.random.default_rng(0)
    shape = (64, 64, 3)
    pool = rng.integers(0, 256, (64, *shape), dtype=np.uint8)
    names = rng.choice(possible, size=visited, replace=False)  # visited keys, sparse
    weights = 1.0 / np.arange(1, visited + 1) ** 1.1
    keys = names[rng.choice(visited, size=adds, p=weights / weights.sum())].tolist()
    with tempfile.TemporaryDirectory() as folder:
        peaks = _Peaks()
        start = time.perf_counter()
        stm = ShortTermMemory(
            capacity,
            frame_shape=shape,
            expected_keys=possible,
            storage=f"{folder}/s" if storage else None,
        )
        for i, key in enumerate(keys):
            stm.add(key, pool[i % len(pool)])
            if i % 500 == 0:
                peaks.poll()
        peaks.poll()
        result = Footprint(
            stm.nbytes,
            len(stm),
            stm.num_keys,
            peaks.anon,
            peaks.address,
            time.perf_counter() - start,
        )
        stm.close()
    return asdict(result)


def _four_rooms(steps: int, storage: bool) -> dict:
    import time
    import warnings

    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the MiniGrid envs)

    from man_rl import MemoryWrapper, ShortTermMemory

    base = gym.make("MiniGrid-FourRooms-v0", render_mode="rgb_array")
    base.reset(seed=1)
    base.render()  # the env's own buffers belong to the baseline
    with tempfile.TemporaryDirectory() as folder:
        peaks = _Peaks()
        start = time.perf_counter()
        memory = ShortTermMemory(30, storage=f"{folder}/s") if storage else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # capacity x states > free RAM
            env = MemoryWrapper(base, capacity=None if storage else 30, memory=memory)
            env.reset(seed=1)
        env.action_space.seed(1)
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
            peaks.poll()
        stm = env.memory
        result = Footprint(
            stm.nbytes,
            len(stm),
            stm.num_keys,
            peaks.anon,
            peaks.address,
            time.perf_counter() - start,
        )
        stm.close()
    return asdict(result)


def _in_fresh_process(fn: Callable[..., dict], *args: Any) -> Footprint:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return Footprint(**pool.apply(fn, args))


def zipf_run(
    possible: int = 100_000,
    visited: int = 1_000,
    adds: int = 60_000,
    capacity: int = 100,
    storage: bool = False,
) -> Footprint:
    """``adds`` frames over ``visited`` of ``possible`` keys, Zipf counts (exponent 1.1)."""
    return _in_fresh_process(_zipf, possible, visited, adds, capacity, storage)


def four_rooms_run(steps: int = 3000, storage: bool = False) -> Footprint:
    """The issue's FourRooms snippet: ``steps`` random steps, capacity 30, default tiles."""
    return _in_fresh_process(_four_rooms, steps, storage)


def _row(what: str, run: Footprint, storage: bool) -> Row:
    limit = BOUND_SLACK if storage else BOUND_FACTOR * run.held + BOUND_SLACK
    target = "RssAnon < 50 MB" if storage else "<= 1.10x held + 50 MB (both)"
    return Row(
        what,
        run.line() + f", {run.seconds:.1f} s",
        f"limit {limit / MB:,.0f} MB",
        max(run.anon, 0 if storage else run.address) / max(1, run.held),
        target,
        run.within(storage),
    )


def run(quick: bool = False) -> list[Row]:
    """The footprint rows; ``quick`` uses tiny settings (for the test suite)."""
    steps, adds = (30, 3000) if quick else (3000, 60_000)
    rows = []
    for storage in (False, True):
        where = "on disk" if storage else "in RAM"
        rows.append(
            _row(
                f"footprint, 100,000 possible / 1,000 Zipf keys, {where}",
                zipf_run(adds=adds, storage=storage),
                storage,
            )
        )
        rows.append(
            _row(
                f"footprint, FourRooms {steps} random steps, tile 32, {where}",
                four_rooms_run(steps, storage=storage),
                storage,
            )
        )
    return rows


__all__ = ["Footprint", "four_rooms_run", "run", "status", "zipf_run"]
