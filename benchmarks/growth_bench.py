"""Growing memories: steps to learn states met late, and an agent's speed beside the memory.

**Growth.** A random walk's memory is split by first visit: the states met first (the
first half of ``memory.keys``, which keep the order states were met) and the rest. A model
is trained on the first memory until the judge gives its recalls accuracy >= 0.99, then
trained on the whole memory (growing by the late states) until the late states reach
0.99; a fresh model of all the states is trained until all of them reach it. Steps are
counted in chunks of ``check_every``; one judge per memory (``train_judge``, never a model)
scores every check, and is not counted.

**Agent speed.** SB3 PPO (MlpPolicy on MiniGrid's image observation) learns an env
wrapped in a ``MemoryWrapper``, with and without ``MemoryCallback`` (fit ``steps`` steps
every ``every`` env steps, the judge and the recall grid every ``judge_every`` calls);
steps/s of ``learn`` (runs interleaved, medians).

``python -m benchmarks.growth_bench [--quick]`` prints the rows alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.harness import Row, machine, render_table
from man_rl import ShortTermMemory
from man_rl.envs import random_walk_memory
from man_rl.evaluation import Judge, recall_all, train_judge

TARGET = 0.99


def keep_keys(memory: ShortTermMemory, keys: Sequence[Hashable]) -> ShortTermMemory:
    """A new memory holding ``memory``'s frames of ``keys`` only."""
    out = ShortTermMemory(capacity=memory.capacity)
    for key in keys:
        for frame in memory.queue(key):
            out.add(key, frame)
    return out


def accuracy(model: object, keys: Sequence[Hashable], judge: Judge, n: int = 5) -> float:
    """Share of ``n`` recalls per key the judge gives to the key asked for."""
    recalled = recall_all(model, keys, n, seed=0)
    asked = np.repeat([judge.index_of(key) for key in keys], n)
    return float(np.mean(judge.predict(np.concatenate([recalled[k] for k in keys])) == asked))


def steps_to_target(
    model: object,
    memory: ShortTermMemory,
    keys: Sequence[Hashable],
    judge: Judge,
    *,
    check_every: int,
    budget: int,
    seed: int | None,
) -> tuple[int, float]:
    """Train in chunks until ``keys``' accuracy >= :data:`TARGET`: (steps, accuracy)."""
    steps, reached = 0, 0.0
    while steps < budget:
        model.fit(memory, check_every, seed=seed if steps == 0 else None, progress=False)
        steps += check_every
        reached = accuracy(model, keys, judge)
        if reached >= TARGET:
            break
    return steps, reached


@dataclass
class GrowthRun:
    """One growth-against-fresh comparison (steps; accuracies of the judge)."""

    old_states: int
    new_states: int
    fresh_steps: int
    fresh_accuracy: float
    first_steps: int
    old_before: float
    new_at_growth: float
    grown_steps: int
    new_after: float
    old_after: float

    @property
    def ratio(self) -> float:
        return self.grown_steps / self.fresh_steps

    @property
    def met(self) -> bool:
        reached = self.fresh_accuracy >= TARGET and self.new_after >= TARGET
        return reached and self.ratio <= 0.5 and abs(self.old_after - self.old_before) <= 0.02


def growth_run(
    cls: type,
    memory: ShortTermMemory,
    judge: Judge,
    *,
    check_every: int,
    budget: int,
    seed: int = 0,
    share: float = 0.5,
    settle: float = 0.0,
) -> GrowthRun:
    """Fresh model of all states against one grown from the states met first.

    The first model trains until its states reach the target, then ``settle`` times as many
    steps again (0: grown the moment it knows them; beside an agent it trains all along).
    """
    keys = memory.keys
    cut = max(1, round(share * len(keys)))
    old, new = keys[:cut], keys[cut:]
    first = keep_keys(memory, old)
    chunks = {"check_every": check_every, "budget": budget}
    fresh = cls.for_memory(memory, seed=seed)
    fresh_steps, fresh_accuracy = steps_to_target(fresh, memory, keys, judge, seed=seed, **chunks)
    model = cls.for_memory(first, seed=seed)
    first_steps, _ = steps_to_target(model, first, old, judge, seed=seed, **chunks)
    if settle > 0:
        model.fit(first, max(1, round(settle * first_steps)), progress=False)
    old_before = accuracy(model, old, judge)
    model.grow(new, memory=memory)
    new_at_growth = accuracy(model, new, judge)
    grown_steps, new_after = steps_to_target(model, memory, new, judge, seed=None, **chunks)
    return GrowthRun(
        len(old),
        len(new),
        fresh_steps,
        fresh_accuracy,
        first_steps,
        old_before,
        new_at_growth,
        grown_steps,
        new_after,
        accuracy(model, old, judge),
    )


def _steps(steps: int, reached: float) -> str:
    return str(steps) if reached >= TARGET else f"{steps} (not reached: {reached:.2f})"


def growth_rows(
    env_id: str,
    *,
    collect_steps: int,
    capacity: int,
    check_every: int,
    budget: int,
    seeds: int,
    settle: float = 0.0,
) -> list[Row]:
    from man_rl.ltm import TypeA, TypeB

    memory = random_walk_memory(env_id, steps=collect_steps, capacity=capacity, seed=0)
    judge = train_judge(memory, seed=0)
    rows = []
    for cls in (TypeA, TypeB):
        chunks = {"check_every": check_every, "budget": budget, "settle": settle}
        runs = [growth_run(cls, memory, judge, seed=s, **chunks) for s in range(seeds)]
        grown = "/".join(_steps(r.grown_steps, r.new_after) for r in runs)
        fresh = "/".join(_steps(r.fresh_steps, r.fresh_accuracy) for r in runs)
        old = ", ".join(f"{r.old_before:.2f} -> {r.old_after:.2f}" for r in runs)
        at_growth = "/".join(f"{r.new_at_growth:.2f}" for r in runs)
        for r in runs:
            print(f"[growth_bench] {env_id} Type {cls.kind}: {r}", file=sys.stderr, flush=True)
        run = runs[0]
        rows.append(
            Row(
                f"Type {cls.kind} grown by states met late, {env_id} "
                f"({run.old_states} + {run.new_states} states), first model trained to "
                f"target{f' + {settle:g}x as long' if settle else ''}, seeds 0-{seeds - 1}",
                f"{grown} steps to new-state acc >= {TARGET} (acc at growth {at_growth}; "
                f"old states {old})",
                f"fresh model of all states {fresh} steps",
                statistics.median(r.ratio for r in runs),
                "<= 0.5x fresh steps, old acc within 0.02",
                all(r.met for r in runs),
            )
        )
    return rows


def agent_steps_per_s(total: int, callback_options: dict | None, seed: int = 0) -> float:
    """Steps/s of PPO's ``learn(total)`` on a MemoryWrapper'd MiniGrid env."""
    import gymnasium as gym
    import minigrid  # noqa: F401
    from minigrid.wrappers import ImgObsWrapper
    from stable_baselines3 import PPO

    from man_rl import MemoryWrapper
    from man_rl.integrations.sb3 import MemoryCallback

    env = gym.make("MiniGrid-Empty-8x8-v0", render_mode="rgb_array", tile_size=8)
    env = ImgObsWrapper(MemoryWrapper(env, capacity=50))
    agent = PPO("MlpPolicy", env, n_steps=512, batch_size=64, n_epochs=4, seed=seed, device="cpu")
    callback = None if callback_options is None else MemoryCallback(**callback_options)
    start = time.perf_counter()
    agent.learn(total, callback=callback)
    seconds = time.perf_counter() - start
    env.close()
    return total / seconds


def agent_rows(total: int, repeats: int, every: int, steps: int, judge_every: int) -> list[Row]:
    options = {"every": every, "model": "B", "steps": steps, "judge_every": judge_every}
    options["device"] = "cpu"
    without, with_callback = [], []
    for _ in range(repeats):
        without.append(agent_steps_per_s(total, None))
        with_callback.append(agent_steps_per_s(total, options))
        print(
            f"[growth_bench] PPO steps/s without {without[-1]:.0f}, with {with_callback[-1]:.0f}",
            file=sys.stderr,
            flush=True,
        )
    bare, beside = statistics.median(without), statistics.median(with_callback)
    return [
        Row(
            f"SB3 PPO steps/s with MemoryCallback (Type B, {steps} fit steps every {every} env "
            f"steps, judge + grid every {judge_every} calls), MiniGrid-Empty-8x8, {total} steps",
            f"{beside:,.0f} steps/s",
            f"without the callback {bare:,.0f} steps/s",
            bare / beside,
            "report",
            None,
        )
    ]


def run(
    quick: bool = False,
    seeds: int = 3,
    agent_steps: int = 20_000,
    repeats: int = 3,
    settles: Sequence[float] = (0.0, 1.0),
    parts: Sequence[str] = ("growth", "agent"),
) -> list[Row]:
    """The growth rows and the agent-speed row (tiny settings with ``quick``)."""
    if quick:
        return growth_rows(
            "MiniGrid-Empty-5x5-v0",
            collect_steps=300,
            capacity=5,
            check_every=5,
            budget=10,
            seeds=1,
        ) + agent_rows(total=256, repeats=1, every=128, steps=2, judge_every=2)
    rows = []
    for settle in settles if "growth" in parts else ():
        rows += growth_rows(
            "MiniGrid-Empty-5x5-v0",
            collect_steps=3000,
            capacity=50,
            check_every=10,
            budget=1500,
            seeds=seeds,
            settle=settle,
        )
    if "agent" in parts:
        rows += agent_rows(agent_steps, repeats, every=1000, steps=20, judge_every=10)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.growth_bench")
    parser.add_argument("--quick", action="store_true", help="tiny settings (smoke test)")
    parser.add_argument("--seeds", type=int, default=3, help="growth runs per model type")
    parser.add_argument("--agent-steps", type=int, default=20_000, help="PPO steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="PPO runs with and without")
    parser.add_argument(
        "--settle", type=float, nargs="+", default=[0.0, 1.0], help="first model's extra steps"
    )
    parser.add_argument("--parts", nargs="+", choices=("growth", "agent"), default=None)
    args = parser.parse_args(argv)
    parts = args.parts or ("growth", "agent")
    rows = run(args.quick, args.seeds, args.agent_steps, args.repeats, args.settle, parts)
    print(f"machine: {machine()}")
    print(render_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
