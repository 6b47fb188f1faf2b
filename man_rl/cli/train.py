"""``man-rl train``: train a long-term memory (Type A or B) on a short-term memory file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from man_rl.cli.common import (
    add_threads_option,
    non_negative_int,
    positive_int,
    sigterm_as_interrupt,
)

# the defaults shown in --help, kept here so that --help does not import torch
DEFAULT_SHARE = 0.95
DEFAULT_BUDGET = 600.0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value}")
    return value


def _share(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a share of the ceiling in (0, 1], got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a long-term memory (Type A or B) on a short-term memory file",
        description="Train a long-term memory on the screens of a short-term memory file and "
        "save it as a checkpoint. With --resume, an existing checkpoint at --out is trained "
        "further (its optimizer state and step counter carry on); states of the memory it "
        "does not know are added to it (the model grows, its learning kept) unless --no-grow.",
    )
    parser.add_argument("--memory", required=True, type=Path, help="short-term memory file")
    parser.add_argument("--model", required=True, choices=("A", "B"), help="model type")
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="training steps (with --until: the most steps; without either, train until "
        "recall is good or --budget runs out)",
    )
    parser.add_argument(
        "--until",
        type=_share,
        nargs="?",
        const=DEFAULT_SHARE,
        default=None,
        metavar="SHARE",
        help="train until recall is good: the judge (trained here on the memory's frames, "
        "its held-out frames kept out of training) scores recalled samples at SHARE x its "
        f"ceiling or better (default {DEFAULT_SHARE}), fidelity <= 1.5, and Type B recognises "
        "the held-out frames as well; checked every few hundred steps",
    )
    parser.add_argument(
        "--budget",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help=f"with --until (or no --steps): stop after this long, checks included "
        f"(default {DEFAULT_BUDGET:.0f})",
    )
    parser.add_argument("--out", required=True, type=Path, help="checkpoint file to write")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="frames per step (default 32)",
    )
    parser.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="Adam learning rate (default 0.003); training until good lowers it to a tenth "
        "over the budget's last 30%%",
    )
    parser.add_argument(
        "--warmup-steps",
        type=non_negative_int,
        default=None,
        help="a new model's first N steps ramp the learning rate up to --lr (default 100; 0: none)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of weights and batches (default 0)"
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto"
    )
    parser.add_argument(
        "--mixed-precision",
        choices=("bf16", "fp16"),
        default=None,
        help="run the network in bf16 or fp16 (for GPUs; weights stay float32)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue training the checkpoint at --out"
    )
    parser.add_argument(
        "--no-grow",
        action="store_true",
        help="with --resume: refuse a memory holding states the checkpoint does not know, "
        "instead of adding them to the model",
    )
    parser.add_argument(
        "--code-bank",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="a new model recalls from the posterior codes of each state's last N training "
        "screens (default 64), so a state whose screens vary draws one of them rather than a "
        "blend; 0: from the prior, as the paper",
    )
    parser.add_argument(
        "--hard-pixels",
        type=non_negative_int,
        default=None,
        metavar="K",
        help="a new model weighs each frame's K largest pixel errors 11x, so a small sprite "
        "that tells states apart is drawn (default: the model's, 64; 0: off, as the paper)",
    )
    add_threads_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.cli.saving import exclusive_writer

    with exclusive_writer(args.out):  # one run at a time reads and replaces --out
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from man_rl.cli.saving import save_or_rescue
    from man_rl.errors import InvalidValueError
    from man_rl.ltm import TypeA, TypeB
    from man_rl.stm.memory import ShortTermMemory

    cls = TypeA if args.model == "A" else TypeB
    memory = ShortTermMemory.load(args.memory)
    if args.resume and args.out.exists():
        model = cls.load(args.out)
        for option, field in (("--code-bank", "code_bank"), ("--hard-pixels", "hard_pixels")):
            asked, built = getattr(args, field), getattr(model.config, field)
            if asked is not None and asked != built:
                raise InvalidValueError(
                    f"{option} {asked}: the checkpoint at {args.out} was built with "
                    f"{field}={built}, which --resume keeps; leave {option} out, or train a "
                    "new model into another --out"
                )
    else:
        asked = {"code_bank": args.code_bank, "hard_pixels": args.hard_pixels}
        options = {name: value for name, value in asked.items() if value is not None}
        model = cls.for_memory(memory, seed=args.seed, **options)
    seed = None if model.training_state is not None else args.seed
    known = len(model.keys)
    until = budget = None
    if args.until is not None or args.steps is None or args.budget is not None:
        from man_rl.evaluation import RecallTarget

        until = RecallTarget(memory, share=DEFAULT_SHARE if args.until is None else args.until)
        budget = DEFAULT_BUDGET if args.budget is None else args.budget
    with sigterm_as_interrupt():
        try:
            history = model.fit(
                memory,
                args.steps,
                until=until,
                budget=budget,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=seed,
                device=args.device,
                progress=not args.quiet,
                mixed_precision=args.mixed_precision,
                grow=not args.no_grow,
                warmup_steps=args.warmup_steps,
                threads=args.threads,
            )
        except KeyboardInterrupt:
            if model.training_state is not None and model.training_state.step > 0:
                save_or_rescue(model.save, args.out, "the model trained so far")
                print(
                    f"man-rl train: interrupted; saved the model at step "
                    f"{model.training_state.step} to {args.out}",
                    file=sys.stderr,
                )
            raise
    if until is not None and until.stopped.steps == 0:
        raise InvalidValueError(
            f"the budget of {budget:g} s was spent before the first training step (training "
            "the judge that checks recall took it); give a larger --budget, or --steps N alone"
        )
    save_or_rescue(model.save, args.out, "the trained model")
    grown = f", {len(model.keys) - known} states added" if len(model.keys) > known else ""
    taken = args.steps if until is None else until.stopped.steps
    print(
        f"trained Type {args.model} on {memory.num_keys} states for {taken} steps "
        f"(step {int(history['step'][-1])}, loss {history['loss'][-1]:.4g}{grown}); "
        f"saved {args.out}"
    )
    if until is not None:
        print(f"stopped: {until.stopped}")
    return 0
