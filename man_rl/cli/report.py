"""``man-rl report``: one offline HTML page of a memory (and a checkpoint's recall of it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from man_rl.cli.common import add_threads_option, non_negative_int, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    from man_rl.report import PAGE_SIZES

    parser = subparsers.add_parser(
        "report",
        help="write one offline HTML page of a memory: summary, recall grid, every state",
        description="Write OUT/index.html (pictures beside it, or inside with --embed): the "
        "memory's summary (states, frames per state, frame shape, file version), the recall "
        "grid where the keys have a layout (or --env gives one), and every state, searchable "
        "by key and paged, its real screens beside recalled samples. With --model each state "
        "gets the strict judge's figures (a CNN trained on a split of the memory's real "
        "frames, or --judge) and the worst-recalled states come first. Open the page from "
        "disk in any browser; it fetches nothing.",
    )
    parser.add_argument("--memory", required=True, type=Path, help="short-term memory file")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the page to")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint: recall + judge")
    parser.add_argument(
        "--judge", type=Path, default=None, help="a judge saved for this memory (--save-judge)"
    )
    parser.add_argument(
        "--judge-steps",
        type=positive_int,
        default=None,
        help="most training steps of a judge trained here (default: by state count)",
    )
    parser.add_argument(
        "--env", default=None, help="env id: its layout for the recall grid and its key names"
    )
    parser.add_argument("--n", type=positive_int, default=8, help="samples per state (default 8)")
    parser.add_argument(
        "--real", type=positive_int, default=8, help="real screens shown per state (default 8)"
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the samples and judge"
    )
    parser.add_argument(
        "--page-size", type=int, choices=PAGE_SIZES, default=50, help="states per page"
    )
    parser.add_argument(
        "--thumb", type=positive_int, default=64, help="longest side of a shown screen (px)"
    )
    parser.add_argument("--embed", action="store_true", help="pictures inside the page")
    parser.add_argument("--no-grid", action="store_true", help="leave the recall grid out")
    parser.add_argument("--title", default=None, help="the page's title")
    add_threads_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.fileinfo import describe
    from man_rl.report import write_report
    from man_rl.stm import ShortTermMemory

    source = describe(args.memory)
    memory = ShortTermMemory.load(args.memory)
    model = judge = None
    if args.model is not None:
        from man_rl.ltm import load_model

        model = load_model(args.model)
    if args.judge is not None:
        from man_rl.evaluation import Judge

        judge = Judge.load(args.judge)
    layout = reachable = None
    if args.env:
        from man_rl.cli.common import env_kwargs, env_layout

        env_kwargs(args.env)  # registers our envs; an unknown id is a clear error
        layout, reachable = env_layout(args.env)
    result = write_report(
        args.out,
        memory,
        model=model,
        judge=judge,
        layout=layout,
        reachable=reachable,
        samples=args.n,
        real=args.real,
        seed=args.seed,
        judge_steps=args.judge_steps,
        page_size=args.page_size,
        thumb=args.thumb,
        embed=args.embed,
        grid=not args.no_grid,
        title=args.title,
        source=source,
    )
    judged = f", {result.judged} judged" if model is not None else ""
    grid = ", recall grid" if result.grid else ""
    print(f"reported {result.states} states{judged}{grid}; open {result.page}")
    return 0
