"""Every ``man-rl`` command's ``--help`` shows the defaults of its options."""

from __future__ import annotations

import argparse

import pytest

from man_rl.cli.main import SUBCOMMANDS, build_parser


def commands(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from commands(sub, (*path, name))


ALL = list(commands(build_parser()))


def test_every_command_is_looked_at():
    names = {path[0] for path, _ in ALL}
    assert names == set(SUBCOMMANDS) and ("agent", "train") in {p for p, _ in ALL}


@pytest.mark.parametrize(
    "path, parser", ALL, ids=lambda x: " ".join(x) if isinstance(x, tuple) else ""
)
def test_help_shows_every_default(path, parser, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*path, "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    for action in parser._actions:
        default = action.default
        if not action.option_strings or default in (None, False, argparse.SUPPRESS):
            continue
        option = action.option_strings[-1]
        shown = str(default)
        assert shown in text.split(option, 1)[1], f"{' '.join(path)} {option}: {shown} not shown"
