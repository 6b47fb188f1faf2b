"""``man-rl evaluate``: score a long-term memory checkpoint against a short-term memory file."""

from __future__ import annotations

import argparse
from pathlib import Path

from man_rl.cli.common import non_negative_int, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a checkpoint against a short-term memory and write the metrics as JSON",
        description="Recall --n screens of every state, judge them with a classifier built "
        "from the memory's real frames, and (Type B) recognise the memory's frames; use a "
        "memory the model did not train on for an honest recognition score.",
    )
    parser.add_argument("--model", required=True, type=Path, help="checkpoint file")
    parser.add_argument("--memory", required=True, type=Path, help="short-term memory file")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--n", type=positive_int, default=10, help="samples per state (default 10)")
    parser.add_argument(
        "--classifier",
        choices=("mean", "frame"),
        default="mean",
        help="nearest class mean (default) or nearest real frame",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the samples (default 0)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.evaluation.metrics import evaluate
    from man_rl.io.atomic import write_json_atomically
    from man_rl.ltm import load_model
    from man_rl.stm import ShortTermMemory

    model = load_model(args.model)
    memory = ShortTermMemory.load(args.memory)
    report = evaluate(model, memory, n=args.n, seed=args.seed, method=args.classifier)
    write_json_atomically(args.out, report)
    line = (
        f"Type {report['model']}: recall accuracy {report['recall_accuracy']:.3f} over "
        f"{report['states_evaluated']} states, coverage {report['coverage']:.3f}"
    )
    if report["recognition"] is not None:
        line += f", recognition {report['recognition']['accuracy']:.3f}"
    print(f"{line}; saved {args.out}")
    return 0
