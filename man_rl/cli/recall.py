"""``man-rl recall``: the position x direction recall grid of a long-term memory checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from man_rl.cli.common import add_threads_option, non_negative_int, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recall",
        help="draw the recall grid of a checkpoint (position x direction) as a PNG",
        description="Recall screens of every state a checkpoint knows and draw them as the "
        "paper's Figures 7-8: position along the columns, direction down the rows (MiniGrid "
        "keys), or a plain grid for other keys. With --memory the real screens are drawn "
        "beside the recalled ones; with --env the env's whole state space is shown, states "
        "never seen and unreachable ones marked as such.",
    )
    parser.add_argument("--model", required=True, type=Path, help="checkpoint file")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--memory", type=Path, default=None, help="memory file: real screens")
    parser.add_argument("--env", default=None, help="env id: its whole state space")
    parser.add_argument("--n", type=positive_int, default=1, help="samples per state (default 1)")
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the samples (default 0)"
    )
    parser.add_argument("--dpi", type=positive_int, default=120, help="PNG resolution")
    add_threads_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.cli.common import env_kwargs, env_layout
    from man_rl.ltm import load_model
    from man_rl.plotting import recall_grid_figure, save_figure
    from man_rl.stm import ShortTermMemory

    model = load_model(args.model)
    memory = ShortTermMemory.load(args.memory) if args.memory else None
    layout = reachable = None
    if args.env:
        env_kwargs(args.env)  # registers our envs; an unknown id is a clear error
        layout, reachable = env_layout(args.env)
    fig = recall_grid_figure(
        model,
        memory=memory,
        layout=layout,
        reachable=reachable,
        samples=args.n,
        seed=args.seed,
        title=f"{args.model.name}: " + ("real | recalled" if memory else "recalled"),
    )
    save_figure(fig, args.out, dpi=args.dpi)
    print(f"recalled {len(model.keys)} states; saved {args.out}")
    return 0
