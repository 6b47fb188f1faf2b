"""torch's threads: chosen from the cores other processes leave free, restored afterwards."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.errors import InvalidValueError
from man_rl.ltm import TypeA
from man_rl.threads import TorchThreads, free_threads, neighbour_cores


def test_free_threads_follows_the_neighbours() -> None:
    assert free_threads(2, 0.0, cores=2) == 2
    assert free_threads(2, 1.0, cores=2) == 1  # a neighbour on one core: leave it that core
    assert free_threads(2, 2.0, cores=2) == 1  # never fewer than one
    assert free_threads(1, 0.0, cores=8) == 1  # never more than the user allowed torch
    assert free_threads(3, None, cores=8) == 3  # load unknown: torch's setting


def test_neighbour_cores_is_a_reading_or_unknown() -> None:
    reading = neighbour_cores(min_seconds=0.05)
    assert reading is None or reading >= 0.0


def test_context_sets_and_restores_and_nests() -> None:
    before = torch.get_num_threads()
    with TorchThreads(1) as outer:
        assert torch.get_num_threads() == 1 and outer.reason == "asked for"
        with TorchThreads() as inner:  # nested: the outer one chooses
            assert inner.threads == 1
            assert inner.update() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_clear_errors(bad: object) -> None:
    with pytest.raises(InvalidValueError, match="threads must be an int >= 1"):
        TorchThreads(bad)  # type: ignore[arg-type]


def test_fit_uses_the_threads_asked_for_and_puts_torchs_back() -> None:
    stm = ShortTermMemory(capacity=2)
    stm.add("a", np.zeros((8, 8), np.uint8))
    stm.add("b", np.full((8, 8), 200, np.uint8))
    model = TypeA.for_memory(stm, seed=0)
    seen: list[int] = []
    original = model.loss

    def spy(*args: object, **kwargs: object):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    model.loss = spy  # type: ignore[method-assign]
    before = torch.get_num_threads()
    model.fit(stm, 2, seed=0, progress=False, threads=1)
    assert seen == [1, 1] and torch.get_num_threads() == before
    with pytest.raises(InvalidValueError, match="threads"):
        model.fit(stm, 1, progress=False, threads=0)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--memory", "m", "--model", "A", "--steps", "1", "--out", "o"],
        ["recall", "--model", "m", "--out", "o"],
        ["evaluate", "--model", "m", "--memory", "m", "--out", "o"],
        ["report", "--memory", "m", "--out", "o"],
        ["demo"],
        ["agent", "train", "--kind", "dqn", "--out", "o"],
    ],
)
def test_every_torch_command_runs_with_the_threads_asked_for(argv, monkeypatch) -> None:
    cli = importlib.import_module("man_rl.cli.main")

    parser = cli.build_parser()
    args = parser.parse_args([*argv, "--threads", "2"])
    seen: list[int] = []
    args.run = lambda _: seen.append(torch.get_num_threads()) or 0
    monkeypatch.setattr(parser, "parse_args", lambda argv=None: args)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    before = torch.get_num_threads()
    assert cli.main([]) == 0
    assert seen == [2] and torch.get_num_threads() == before


def test_commands_without_torch_leave_its_threads_alone() -> None:
    from man_rl.cli.main import build_parser

    args = build_parser().parse_args(["info", "x.manrl"])
    assert not getattr(args, "uses_torch", False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["info", "x.manrl", "--threads", "2"])
