"""``man-rl evaluate``: score a long-term memory checkpoint against a short-term memory file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from man_rl.cli.common import add_threads_option, non_negative_int, positive_int
from man_rl.glossary import glossary_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a checkpoint against a short-term memory and write the metrics as JSON",
        description="Recall --n screens of every state and judge them with a small CNN "
        "trained on a split of the memory's real frames (never on the model): its accuracy "
        "and ceiling, fidelity, diversity, precision / recall, copies, FID / KID in its "
        "features; and (Type B) recognise the memory's frames. Use a memory the model did "
        "not train on for an honest recognition score.",
        epilog="What each figure means:\n" + glossary_text(),
    )
    parser.add_argument("--model", required=True, type=Path, help="checkpoint file")
    parser.add_argument("--memory", required=True, type=Path, help="short-term memory file")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--n", type=positive_int, default=10, help="samples per state (default 10)")
    parser.add_argument(
        "--judge",
        type=Path,
        default=None,
        help="a judge saved with --save-judge for this memory (default: train one)",
    )
    parser.add_argument(
        "--save-judge", type=Path, default=None, help="write the judge used to this file"
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the samples and of a judge trained here (default 0)",
    )
    add_threads_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.evaluation import Judge, train_judge
    from man_rl.evaluation.metrics import evaluate, outlier_line, summary
    from man_rl.io.atomic import write_json_atomically
    from man_rl.ltm import load_model
    from man_rl.stm import ShortTermMemory

    model = load_model(args.model)
    memory = ShortTermMemory.load(args.memory)
    _check_shapes("the checkpoint", args.model, tuple(model.frame_shape), args, memory)
    if args.judge:
        judge = Judge.load(args.judge)
        _check_shapes("the judge", args.judge, tuple(judge.frame_shape), args, memory)
    else:
        judge = train_judge(memory, seed=args.seed)
    report = evaluate(model, memory, judge=judge, n=args.n, seed=args.seed)
    write_json_atomically(args.out, report)
    if args.save_judge:
        judge.save(args.save_judge)
    print(f"{summary(report)}; saved {args.out}")
    flagged = outlier_line(report)
    if flagged:
        print(flagged)
    return 0


def _check_shapes(
    what: str, path: Path, shape: tuple[int, ...], args: argparse.Namespace, memory: Any
) -> None:
    """Refuse, naming both files and shapes, a file made for frames unlike the memory's."""
    from man_rl.errors import InvalidValueError

    if memory.frame_shape is not None and shape != tuple(memory.frame_shape):
        raise InvalidValueError(
            f"{what} {path} is for frames of shape {shape}, but the memory {args.memory} holds "
            f"frames of shape {tuple(memory.frame_shape)}; give files made from the same "
            "screens (the same env, --tile-size and --preprocess)"
        )
