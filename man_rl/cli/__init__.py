"""The ``man-rl`` command line: one entry point, one module per subcommand."""

from man_rl.cli.main import main

__all__ = ["main"]
