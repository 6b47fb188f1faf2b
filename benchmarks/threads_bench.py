"""fit's ms/step quiet and beside one torch process using its default threads (2 cores).

The neighbour is another Python process training a small CNN with torch's default threads
(what a second run or an agent training on the CPU does). Each row: Type B on Empty-5x5
(tile 8, 40 x 40), the median of three 40-step runs after a 10-step warm-up, with
``threads=None`` (man_rl's choice) and with ``threads=torch default`` (what fit did before
it chose). Run: ``python -m benchmarks.threads_bench``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import torch

NEIGHBOUR = """
import torch
net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3))
opt = torch.optim.Adam(net.parameters())
x = torch.randn(32, 3, 40, 40)
while True:
    opt.zero_grad(); net(x).square().mean().backward(); opt.step()
"""


def memory():
    import gymnasium as gym
    import minigrid  # noqa: F401

    from man_rl import MemoryWrapper

    env = MemoryWrapper(
        gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array", tile_size=8), capacity=100
    )
    env.reset(seed=0)
    for _ in range(1500):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return env.memory


def ms_per_step(stm, threads: int | None) -> float:
    from man_rl.ltm import TypeB

    times = []
    for _ in range(3):
        model = TypeB.for_memory(stm, seed=0)
        model.fit(stm, 10, seed=0, progress=False, threads=threads)
        start = time.perf_counter()
        model.fit(stm, 40, progress=False, threads=threads)
        times.append((time.perf_counter() - start) / 40 * 1000)
    return statistics.median(times)


def main() -> None:
    stm = memory()
    default = torch.get_num_threads()
    rows = {}
    for label, threads in (("man_rl's choice", None), (f"{default} threads (before)", default)):
        quiet = ms_per_step(stm, threads)
        neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
        try:
            time.sleep(3)
            busy = ms_per_step(stm, threads)
        finally:
            neighbour.kill()
            neighbour.wait()
        rows[label] = (quiet, busy)
        print(
            f"{label}: quiet {quiet:.1f} ms/step, beside a torch process {busy:.1f} "
            f"ms/step ({busy / quiet:.1f}x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
