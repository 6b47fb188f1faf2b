"""Recall out of the box (issue 24): the defaults only, both types, on four envs.

Each row builds a model with the constructor's defaults (``TypeA.for_memory(memory)``,
``TypeB.for_memory(memory)``: no switch, no thread setting) and trains it with the stopping
rule a user gets from ``man-rl train`` without ``--steps``: :class:`~man_rl.evaluation.
RecallTarget` (the strict judge trained on the memory's real frames, its held-out frames kept
out of training) until judge accuracy >= 0.95x its ceiling, fidelity <= 1.5, diversity
0.6-1.4 where a state's screens visibly vary and, for Type B, recognition of the held-out
frames >= 0.95x the ceiling, or until the row's time budget ends. The time to target counts
the judge's training and the checks, as a user waits for them.

- **MiniGrid-Empty-16x16** (tile 8, 128x128, random walk, ~780 states): the issue's target
  is 600 s of ``fit`` per type;
- **ALE Breakout** (``AtariPreprocessing``, 84x84 grey, RAM paddle key, random actions);
- **MiniGrid-Dynamic-Obstacles-5x5** (moving balls: a state's screens vary);
- **MiniGrid-DoorKey-8x8** (random walk; its wall, door and key move every episode, so each
  ``(x, y, dir)`` has many screens).

``python -m benchmarks --only outofbox_bench`` runs them all (hours on 2 cores: run it alone);
``python -m benchmarks.outofbox_bench ROW...`` runs the named rows (``empty16``, ``breakout``,
``obstacles``, ``doorkey``, and ``steps``: ms a step at 128x128x3 with the stride-4 first
layer against stride 2); ``--quick`` checks that it runs. ``--grids DIR`` also saves each
trained model's recall grid (real | 4 recalled samples per state, 1 past 100 states) as
``DIR/<row>-<type>.png``, to look at before believing a row.
``--types B --set class_kl_weight=10`` measures a lead for a default (here Type B's rows with
that setting) with the same memories, judges and budgets as the defaults' rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Row
from benchmarks.recall_bench import breakout_memory, minigrid_memory
from man_rl import ShortTermMemory, TypeA, TypeB
from man_rl.evaluation import RecallTarget


@dataclass(frozen=True)
class Suite:
    """One env of the suite: how to gather its memory, and the time each type may take."""

    name: str
    memory: Callable[[], ShortTermMemory]
    budget: float


SUITE = {
    "empty16": Suite(
        "MiniGrid-Empty-16x16 tile 8, 20,000 random steps",
        lambda: minigrid_memory("MiniGrid-Empty-16x16-v0", steps=20_000, capacity=50),
        600.0,
    ),
    "breakout": Suite(
        "Breakout 84x84, RAM paddle key, 20,000 random steps",
        lambda: breakout_memory(20_000, capacity=2000),
        900.0,
    ),
    "obstacles": Suite(
        "MiniGrid-Dynamic-Obstacles-5x5, 6,000 random steps",
        lambda: minigrid_memory("MiniGrid-Dynamic-Obstacles-5x5-v0", steps=6000, capacity=100),
        900.0,
    ),
    "doorkey": Suite(
        "MiniGrid-DoorKey-8x8, 20,000 random steps",
        lambda: minigrid_memory("MiniGrid-DoorKey-8x8-v0", steps=20_000, capacity=100),
        900.0,
    ),
}


def rows_for(
    name: str,
    memory: ShortTermMemory,
    budget: float,
    grids: Path | None = None,
    row: str = "",
    types: tuple[str, ...] = ("A", "B"),
    overrides: dict[str, Any] | None = None,
) -> list[Row]:
    """One row per type, each with its own judge (as each user run trains one).

    ``overrides``: config fields set on every model (a lead for a default, measured here
    before it becomes one); the rows then say so.
    """
    rows = []
    settings = "defaults" + "".join(f", {k}={v!r}" for k, v in (overrides or {}).items())
    for cls in (TypeA, TypeB):
        if cls.kind not in types:
            continue
        target = RecallTarget(memory, seed=0)
        model = cls.for_memory(memory, seed=0, **(overrides or {}))
        model.fit(memory, until=target, budget=budget, seed=0, progress=False)
        if grids is not None:
            save_grid(model, memory, grids / f"{row or 'quick'}-{cls.kind}.png")
        stopped = target.stopped
        judge = target.judge
        assert judge is not None and stopped is not None
        rows.append(
            Row(
                f"Type {cls.kind} {settings}, {name} ({memory.num_keys} states)",
                f"{stopped.seconds:.0f} s, {stopped.steps} steps: "
                + (stopped.verdict.summary if stopped.verdict else "no check"),
                f"judge ceiling {judge.ceiling or 0:.3f} ({judge.info['seconds']:.0f} s to "
                f"train); mean-frame fidelity {target.report.mean_frame_fidelity or 0:.2f}"
                if target.report
                else "-",
                None,
                f"all targets within {budget:.0f} s",
                stopped.reason == "met",
            )
        )
    return rows


def save_grid(model, memory: ShortTermMemory, path: Path) -> None:
    """The model's recall grid: the real screen beside 4 samples of each state (1 past 100)."""
    from man_rl.plotting import recall_grid_figure, save_figure

    path.parent.mkdir(parents=True, exist_ok=True)
    samples = 4 if memory.num_keys <= 100 else 1
    fig = recall_grid_figure(model, memory=memory, samples=samples, title=path.stem)
    save_figure(fig, path, dpi=100)


def ms_per_step(model, memory: ShortTermMemory, steps: int) -> float:
    """Milliseconds a ``fit`` step takes (after 5 untimed ones), threads as a user gets them."""
    model.fit(memory, steps=5, seed=0, progress=False)
    started = time.perf_counter()
    model.fit(memory, steps=steps, seed=0, progress=False)
    return (time.perf_counter() - started) / steps * 1000


def step_rows(shape: tuple[int, ...] = (128, 128, 3), keys: int = 782, steps: int = 40):
    """ms a step of each type with the default plan (stride-4 first layer) against stride 2."""
    memory = ShortTermMemory(capacity=1, seed=0)
    rng = np.random.default_rng(0)
    for key in range(keys):
        memory.add(key, rng.integers(0, 256, shape, dtype=np.uint8))
    rows = []
    for cls in (TypeA, TypeB):
        fast = ms_per_step(cls.for_memory(memory, seed=0), memory, steps)
        slow = ms_per_step(cls.for_memory(memory, seed=0, stem=2), memory, steps)
        rows.append(
            Row(
                f"Type {cls.kind} step, {'x'.join(map(str, shape))}, {keys} states, batch 32",
                f"{fast:.1f} ms/step (first layer stride 4)",
                f"{slow:.1f} ms/step (stride 2, as before)",
                fast / slow,
                "faster",
                fast < slow,
            )
        )
    return rows


def run(
    quick: bool = False,
    only: list[str] | None = None,
    grids: Path | None = None,
    types: tuple[str, ...] = ("A", "B"),
    overrides: dict[str, Any] | None = None,
) -> list[Row]:
    if quick:
        small = minigrid_memory("MiniGrid-Empty-5x5-v0", steps=200, capacity=4)
        return rows_for("Empty-5x5 (quick)", small, budget=3.0, grids=grids) + step_rows(
            (84, 84), keys=4, steps=2
        )
    rows = []
    for key in only or [*SUITE, "steps"]:
        if key == "steps":
            rows += step_rows()
            continue
        suite = SUITE[key]
        rows += rows_for(suite.name, suite.memory(), suite.budget, grids, key, types, overrides)
    return rows


def setting(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of ``--set``, the value read as JSON where it is (``10``, ``true``)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--set takes NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: list[str]) -> None:
    from benchmarks.harness import machine, render_table

    parser = argparse.ArgumentParser(prog="python -m benchmarks.outofbox_bench")
    rows = sorted([*SUITE, "steps"])
    parser.add_argument("rows", nargs="*", metavar="ROW", help=f"of {rows} (default: all)")
    parser.add_argument("--grids", type=Path, help="save each model's recall grid here")
    parser.add_argument("--types", nargs="+", default=["A", "B"], choices=["A", "B"])
    parser.add_argument(
        "--set",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a config field set on every model, e.g. --set class_kl_weight=10",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.rows) - set(rows))
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {rows}")
    overrides = dict(args.set)
    rows = run(
        only=args.rows or None, grids=args.grids, types=tuple(args.types), overrides=overrides
    )
    print(f"machine: {machine()}")
    print(render_table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
