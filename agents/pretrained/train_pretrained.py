"""Regenerate the shipped pretrained agents and ``MANIFEST.json`` (same seeds, same settings).

Run from the repository root::

    .venv/bin/python agents/pretrained/train_pretrained.py            # all of them
    .venv/bin/python agents/pretrained/train_pretrained.py --only tabular_manrl_empty_4x4.npz

The recipes (env, kind, seed, settings) live in ``man_rl.agents.zoo.RECIPES``; each file's
SHA-256, command and measured greedy success rate are written to ``MANIFEST.json``.

Example:
    >>> build_parser().parse_args(["--only", "a.npz"]).only
    ['a.npz']
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """The script's argument parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", metavar="FILE", help="rebuild only these files")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder to write to (default: this folder)"
    )
    parser.add_argument("--eval-episodes", type=int, default=100, help="greedy test episodes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Train, save, evaluate and record every (or each ``--only``) pretrained agent."""
    from man_rl.agents import zoo
    from man_rl.agents.build import build_pretrained

    args = build_parser().parse_args(argv)
    manifest = build_pretrained(
        args.out or zoo.PRETRAINED_DIR,
        only=args.only,
        eval_episodes=args.eval_episodes,
        progress=sys.stderr.isatty(),
    )
    for name, entry in sorted(manifest["files"].items()):
        print(
            f"{name}: {entry['env_id']} {entry['kind']} success {entry['success_rate']:.2f}, "
            f"mean length {entry['mean_episode_length']:.1f}, sha256 {entry['sha256'][:12]}..."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
