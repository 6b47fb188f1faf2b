"""The paper's equations against man_rl's default, one switch at a time, by the strict judge.

``python -m benchmarks.ablation_bench [--steps 600] [--envs ID ...] [--out ablation.json]``

For each env: a random-walk short-term memory to train on (seed 0) and another to recognise
(seed 1, never trained on); one judge (:func:`man_rl.evaluation.train_judge`) of the training
memory's real frames scores every model. For each type, the models are:

- ``paper``: :meth:`TypeA.paper` / :meth:`TypeB.paper` (eqs. 9 / 14 and nothing else);
- ``paper + <switch>``: the paper preset with one switch set as the recommended default has
  it (every switch of :func:`man_rl.ltm.presets.departures`);
- ``paper, eq. 4 as printed``: the paper preset with ``z = mu + std**2 * eps``;
- ``recommended``: the default (:func:`man_rl.ltm.presets.preset` ``"recommended"``);
- ``recommended - <switch>``: the default with one switch set back to the paper's value;
- ``recommended, <switch>=<value>``: the default with a switch both presets set alike given
  the other value its config tries (:func:`man_rl.ltm.presets.alternatives`), so that every
  switch of a type has a row.

Every model gets the same budget (``--steps`` Adam steps, batch 32, lr 3e-3, seeds 0) and
is judged by :func:`man_rl.evaluation.evaluate` (10 recalls per state): judge accuracy (and
the judge's ceiling on held-out real frames), fidelity (1 = as near the real screens as
they are to each other; the mean frame's is shown beside), diversity (recalled / real
pairwise distance; only where screens vary) and, for Type B, recognition of the second
memory's frames. Not part of ``python -m benchmarks``: it trains dozens of models (minutes
each on a CPU). ``--quick`` is a smoke run of a few steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from man_rl import ShortTermMemory, TypeA, TypeB
from man_rl.envs import random_walk_memory
from man_rl.evaluation import evaluate, recognition_accuracy, train_judge
from man_rl.io.atomic import write_json_atomically
from man_rl.ltm.presets import alternatives, departures

ENVS = ("MiniGrid-Empty-8x8-v0", "MiniGrid-Dynamic-Obstacles-5x5-v0")
#: Random-walk steps that visit (nearly) every state of each env, and frames kept per state.
WALK = {"MiniGrid-Empty-8x8-v0": 20_000, "MiniGrid-Dynamic-Obstacles-5x5-v0": 6_000}
CAPACITY = 30
EQ4_AS_PRINTED = "paper, eq. 4 as printed"


def variants(kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, preset, overrides)`` of every model of type ``kind``, paper first."""
    rows = [("paper", "paper", {})]
    for switch, (_, value) in departures(kind).items():
        rows.append((f"paper + {switch}={value!r}", "paper", {switch: value}))
    rows.append((EQ4_AS_PRINTED, "paper", {"reparameterization": "variance"}))
    rows.append(("recommended", "recommended", {}))
    for switch, (value, _) in departures(kind).items():
        rows.append((f"recommended - {switch} (={value!r})", "recommended", {switch: value}))
    for switch, value in alternatives(kind).items():
        rows.append((f"recommended, {switch}={value!r}", "recommended", {switch: value}))
    return rows


def memories(env_id: str, walk: int) -> tuple[ShortTermMemory, ShortTermMemory]:
    """The training memory (seed 0) and the recognition memory (seed 1) of ``env_id``."""
    train = random_walk_memory(env_id, steps=walk, capacity=CAPACITY, seed=0)
    other = random_walk_memory(env_id, steps=walk, capacity=CAPACITY, seed=1)
    return train, other


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def measure(
    cls: type,
    preset: str,
    overrides: dict[str, Any],
    train: ShortTermMemory,
    other: ShortTermMemory,
    judge: Any,
    steps: int,
) -> dict[str, Any]:
    """Train one model for ``steps`` and judge it: one row of the table."""
    model = cls.preset(preset, train, seed=0, **overrides)
    start = time.perf_counter()
    model.fit(train, steps, seed=0, progress=False)
    seconds = time.perf_counter() - start
    report = evaluate(model, train, judge=judge, n=10, seed=0)
    row = {
        "steps": steps,
        "seconds": round(seconds, 1),
        "accuracy": _round(report["recall_accuracy"]),
        "ceiling": _round(report["judge"]["ceiling"]),
        "fidelity": _round(report["fidelity"], 2),
        "mean_frame_fidelity": _round(report["mean_frame_fidelity"], 2),
        "diversity": _round(report["diversity"], 2),
        "recognition": None,
        "unknown": None,
    }
    if cls is TypeB:  # frames of states the model does not know are left out of accuracy
        recognised = recognition_accuracy(model, other)
        row["recognition"] = _round(recognised.accuracy)
        row["unknown"] = _round(recognised.unknown)
    return row


def run(
    envs: Sequence[str] = ENVS,
    *,
    steps: int = 600,
    walk: dict[str, int] | None = None,
    kinds: Sequence[str] = ("A", "B"),
    judge_steps: int | None = None,
    only: Sequence[str] | None = None,
    log: Any = None,
) -> list[dict[str, Any]]:
    """Every row: one per env, type and variant (``only``: these variants)."""
    rows = []
    for env_id in envs:
        train, other = memories(env_id, (walk or WALK).get(env_id, 3000))
        judge = train_judge(train, seed=0, steps=judge_steps)
        if log:
            print(f"{env_id}: {train.num_keys} states, {len(train)} frames; {judge}", file=log)
        for cls in (TypeA, TypeB):
            if cls.kind not in kinds:
                continue
            for name, preset, overrides in variants(cls.kind):
                if only is not None and name not in only:
                    continue
                row = measure(cls, preset, overrides, train, other, judge, steps)
                row = {"env": env_id, "type": cls.kind, "variant": name, **row}
                rows.append(row)
                if log:
                    print(json.dumps(row), file=log, flush=True)
    return rows


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = [
        "env",
        "type",
        "variant",
        "steps",
        "seconds",
        "judge accuracy (ceiling)",
        "fidelity (mean frame)",
        "diversity",
        "recognition (unknown)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        env = r["env"].removeprefix("MiniGrid-").removesuffix("-v0")
        recognition = "-" if r["recognition"] is None else f"{r['recognition']} ({r['unknown']})"
        cells = [
            env,
            r["type"],
            r["variant"],
            str(r["steps"]),
            str(r["seconds"]),
            f"{_cell(r['accuracy'])} ({_cell(r['ceiling'])})",
            f"{_cell(r['fidelity'])} ({_cell(r['mean_frame_fidelity'])})",
            _cell(r["diversity"]),
            recognition,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ablation_bench", description=__doc__
    )
    parser.add_argument("--steps", type=int, default=600, help="training steps per model")
    parser.add_argument("--envs", nargs="*", default=list(ENVS), help="env ids")
    parser.add_argument("--types", nargs="*", default=["A", "B"], choices=["A", "B"])
    parser.add_argument("--walk", type=int, help="random-walk steps per memory (default: per env)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 steps, short walks")
    parser.add_argument("--out", type=Path, help="write the rows here as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = 3 if args.quick else args.steps
    walk = {env: 300 if args.quick else (args.walk or WALK.get(env, 3000)) for env in args.envs}
    rows = run(args.envs, steps=steps, walk=walk, kinds=args.types, log=sys.stderr)
    if args.out is not None:
        write_json_atomically(args.out, rows)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
