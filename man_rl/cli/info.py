"""``man-rl info``: what a memory file, storage folder, checkpoint or judge file holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="say what a memory, checkpoint or judge file holds (without loading its frames)",
        description="Read a man_rl file's header and print its kind, versions, size and what "
        "it holds: states, frames per state, frame shape and capacity (a memory file or "
        "storage folder); model type, config, parameters and training step (a checkpoint); "
        "states and ceiling (a judge). The checksum is verified by streaming the file; no "
        "frame or weight is loaded. A damaged file is reported in one line, exit code 2.",
    )
    parser.add_argument("file", type=Path, help="a man_rl file, or a storage folder")
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.fileinfo import describe

    info = describe(args.file)
    print(json.dumps(info.to_dict(), indent=2) if args.json else info.text())
    return 0
