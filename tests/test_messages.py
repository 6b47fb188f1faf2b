"""Messages that say what is true (issue 21): shapes named, Type A's recognize, a closed pipe."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli import main
from man_rl.errors import InvalidTypeError


def memory_of(shape: tuple[int, ...]) -> ShortTermMemory:
    stm = ShortTermMemory(2, seed=0)
    for i in range(2):
        stm.add(f"s{i}", np.full(shape, 90 * i, np.uint8))
    return stm


def test_evaluate_names_the_checkpoint_the_memory_and_both_shapes(tmp_path, capsys):
    from man_rl.ltm import TypeA

    model = tmp_path / "big.manrl"
    TypeA.for_memory(memory_of((40, 40, 3)), seed=0).save(model)
    memory = tmp_path / "small.manrl"
    memory_of((20, 20, 3)).save(memory)
    argv = ["evaluate", "--model", str(model), "--memory", str(memory)]
    assert main([*argv, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "judge" not in err
    assert f"the checkpoint {model} is for frames of shape (40, 40, 3)" in err
    assert f"the memory {memory} holds frames of shape (20, 20, 3)" in err


def test_type_a_recognize_says_to_use_type_b():
    from man_rl.ltm import TypeA

    model = TypeA.for_memory(memory_of((8, 8, 3)), seed=0)
    with pytest.raises(InvalidTypeError, match=r"Type A model does not recognise.*Type B"):
        model.recognize(np.zeros((1, 8, 8, 3), np.uint8))


def test_info_into_a_closed_pipe_ends_quietly(tmp_path):
    path = tmp_path / "m.manrl"
    memory_of((4, 4)).save(path)
    run = "import sys; from man_rl.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", run, "info", str(path)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader (head) is gone before the first line is printed
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141
    assert err == ""
