"""``man-rl demo``: collect, train, recall and evaluate on the default environment."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from man_rl.cli.common import (
    add_threads_option,
    env_layout,
    known_states,
    make_env,
    positive_int,
    probability,
)
from man_rl.collection import collect, summarize
from man_rl.io.atomic import write_json_atomically
from man_rl.stm import ShortTermMemory

DEFAULT_ENV = "MiniGrid-Empty-5x5-v0"
# Enough for recall accuracy >= 0.99 on the default env (see BENCHMARKS.md).
DEFAULT_TRAIN_STEPS = {"A": 600, "B": 600}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the whole pipeline on the default environment (about a minute on a laptop CPU)",
        description="The pretrained Q-learning agent collects screens of every state (with "
        "epsilon-greedy exploration), a long-term memory learns them, and the demo writes the "
        "position x direction recall grid, the training curves, the class-balance picture and "
        "the metrics to --out.",
    )
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder")
    parser.add_argument("--env", default=DEFAULT_ENV, help=f"env id (default {DEFAULT_ENV})")
    parser.add_argument("--model", choices=("A", "B"), default="B", help="long-term memory")
    parser.add_argument(
        "--collect-steps", type=positive_int, default=3000, help="env steps to collect"
    )
    parser.add_argument(
        "--epsilon", type=probability, default=0.5, help="chance of a random action per step"
    )
    parser.add_argument("--train-steps", type=positive_int, default=None, help="default: model's")
    parser.add_argument("--capacity", type=positive_int, default=100, help="frames per state")
    parser.add_argument("--seed", type=int, default=0, help="seed of env, agent and model")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_threads_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.agents import make_policy
    from man_rl.evaluation.metrics import evaluate, outlier_line, summary
    from man_rl.ltm import TypeA, TypeB
    from man_rl.plotting import (
        class_balance_from_memory,
        recall_grid_figure,
        save_figure,
        training_curves,
    )

    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out {args.out} is a file; give a folder")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    say = print

    say(
        f"1/4 collecting {args.collect_steps} steps of {args.env} (pretrained agent, "
        f"epsilon {args.epsilon})"
    )
    env = make_env(args.env, tile_size=8)
    memory = collect(
        env,
        None,
        args.collect_steps,
        make_policy=lambda env, seed: make_policy("pretrained", env, seed=seed),
        memory=ShortTermMemory(args.capacity, seed=args.seed),
        seed=args.seed,
        epsilon=args.epsilon,
        progress=not args.quiet,
    ).memory
    env.close()
    memory.save(args.out / "memory.manrl")
    for line in summarize(memory, known_states(args.env)).lines():
        say(f"    {line}")

    say(f"2/4 training a Type {args.model} long-term memory")
    cls = TypeA if args.model == "A" else TypeB
    model = cls.for_memory(memory, seed=args.seed)
    steps = args.train_steps or DEFAULT_TRAIN_STEPS[args.model]
    history = model.fit(memory, steps, seed=args.seed, progress=not args.quiet)
    model.save(args.out / f"model_{args.model.lower()}.manrl")

    say("3/4 evaluating")
    metrics = evaluate(model, memory, seed=args.seed)
    metrics["env"] = args.env
    metrics["train_steps"] = steps
    write_json_atomically(args.out / "metrics.json", metrics)

    say("4/4 drawing")
    layout, reachable = env_layout(args.env)
    pictures = {
        "recall_grid.png": recall_grid_figure(
            model,
            memory=memory,
            layout=layout,
            reachable=reachable,
            seed=args.seed,
            title=f"{args.env}: real | recalled by Type {args.model}",
        ),
        "training_curves.png": training_curves(history),
        "class_balance.png": class_balance_from_memory(memory, rng=args.seed),
    }
    for name, figure in pictures.items():
        save_figure(figure, args.out / name)

    say(summary(metrics) + f"; took {time.perf_counter() - started:.0f} s")
    flagged = outlier_line(metrics)
    if flagged:
        say(flagged)
    say(
        f"wrote {args.out}/: memory.manrl, model_{args.model.lower()}.manrl, metrics.json, "
        + ", ".join(pictures)
    )
    return 0
