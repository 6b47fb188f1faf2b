"""``man-rl``: dispatch to the subcommands, turning the package's errors into one-line messages."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from man_rl.cli.common import show_defaults, torch_threads
from man_rl.errors import ManRLError

# name -> module under man_rl.cli; each module has register(subparsers) and sets run=func.
SUBCOMMANDS = ("collect", "train", "recall", "evaluate", "demo", "agent", "info", "report")


def build_parser() -> argparse.ArgumentParser:
    """The ``man-rl`` argument parser with every subcommand registered."""
    from man_rl.version import __version__

    parser = argparse.ArgumentParser(
        prog="man-rl",
        description="Memory Association Networks for RL: collect screens per state, train a "
        "long-term memory, recall and evaluate it.",
    )
    parser.add_argument("--version", action="version", version=f"man_rl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"man_rl.cli.{name}").register(subparsers)
    show_defaults(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``man-rl`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with torch_threads(args):
            code = int(args.run(args) or 0)
        sys.stdout.flush()  # a reader gone (| head) shows here, not at exit
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except (
        ManRLError,
        FileNotFoundError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
    ) as err:
        print(f"man-rl {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"man-rl {args.command}: interrupted", file=sys.stderr)
        return 130


def _pipe_closed() -> int:
    """The reader of our output went away (``man-rl info F | head``): end quietly.

    What is left in stdout's buffer goes to ``/dev/null``, so that Python's flush at exit
    raises no second ``BrokenPipeError``; the exit code is the shell's for SIGPIPE.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a descriptor
        pass
    return 128 + signal.SIGPIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
