"""fit's ms/step quiet and beside one torch process using its default threads (2 cores).

The neighbour is another Python process training a small CNN with torch's default threads
(what a second run or an agent training on the CPU does). Each row: Type B on Empty-5x5
(tile 8, 40 x 40), the median of three 40-step runs after a 10-step warm-up, with
``threads=None`` (man_rl's choice) and with ``threads=torch default`` (what fit did before
it chose). Run: ``python -m benchmarks.threads_bench`` (or ``python -m benchmarks --only
threads_bench``, which prints the two rows). Run it alone: any other heavy job on the machine
is a second neighbour.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import torch

from benchmarks.harness import Row

NEIGHBOUR = """
import torch
net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3))
opt = torch.optim.Adam(net.parameters())
x = torch.randn(32, 3, 40, 40)
while True:
    opt.zero_grad(); net(x).square().mean().backward(); opt.step()
"""


def memory(steps: int = 1500):
    import gymnasium as gym
    import minigrid  # noqa: F401

    from man_rl import MemoryWrapper

    env = MemoryWrapper(
        gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array", tile_size=8), capacity=100
    )
    env.reset(seed=0)
    for _ in range(steps):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return env.memory


def ms_per_step(stm, threads: int | None, steps: int = 40, repeats: int = 3) -> float:
    from man_rl.ltm import TypeB

    times = []
    for _ in range(repeats):
        model = TypeB.for_memory(stm, seed=0)
        model.fit(stm, 10, seed=0, progress=False, threads=threads)
        start = time.perf_counter()
        model.fit(stm, steps, progress=False, threads=threads)
        times.append((time.perf_counter() - start) / steps * 1000)
    return statistics.median(times)


def quiet_and_busy(stm, threads: int | None, steps: int, repeats: int) -> tuple[float, float]:
    """ms/step with the machine quiet, then beside the neighbour."""
    quiet = ms_per_step(stm, threads, steps, repeats)
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
    try:
        time.sleep(3)  # its threads are up and spinning
        busy = ms_per_step(stm, threads, steps, repeats)
    finally:
        neighbour.kill()
        neighbour.wait()
    return quiet, busy


def run(quick: bool = False) -> list[Row]:
    """Two rows: the slowdown beside the neighbour, and quiet speed against torch's default."""
    stm = memory(300 if quick else 1500)
    steps, repeats = (5, 1) if quick else (40, 3)
    default = torch.get_num_threads()
    quiet, busy = quiet_and_busy(stm, None, steps, repeats)
    before_quiet, before_busy = quiet_and_busy(stm, default, steps, repeats)
    return [
        Row(
            "fit beside a torch process (Type B, Empty-5x5 40x40, threads chosen)",
            f"{busy:.1f} ms/step",
            f"{quiet:.1f} ms/step quiet ({default} threads fixed: {before_busy:.1f} beside)",
            busy / quiet,
            "<= 2.5x",
            busy / quiet <= 2.5,
        ),
        Row(
            "fit quiet, threads chosen",
            f"{quiet:.1f} ms/step",
            f"{before_quiet:.1f} ms/step with torch's {default} threads",
            quiet / before_quiet,
            "<= 1.1x",
            quiet / before_quiet <= 1.1,
        ),
    ]


def main() -> None:
    from benchmarks.harness import machine, render_table

    rows = run()
    print(f"machine: {machine()}")
    print(render_table(rows))


if __name__ == "__main__":
    main()
