"""Tests of ``man-rl agent train`` and ``man-rl agent eval``, run in-process."""

from __future__ import annotations

import pytest

from man_rl.agents import QTableAgent
from man_rl.cli.main import main

EMPTY_4X4 = "ManRL/Empty-4x4-v0"


def test_agent_without_subcommand_prints_help(capsys):
    assert main(["agent"]) == 2
    assert "train" in capsys.readouterr().out


def test_train_tabular_then_eval(tmp_path, capsys):
    out = tmp_path / "q.npz"
    args = ["agent", "train", "--kind", "tabular", "--env", EMPTY_4X4, "--episodes", "300"]
    assert main([*args, "--seed", "0", "--eval-episodes", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "300 episodes" in printed and "success rate: 1.00" in printed
    assert QTableAgent.load(out).env_id == EMPTY_4X4

    assert main(["agent", "eval", "--agent", str(out), "--env", EMPTY_4X4, "--episodes", "3"]) == 0
    printed = capsys.readouterr().out
    assert "success rate: 1.00 over 3 episodes" in printed
    assert "mean episode length: 3.0" in printed


def test_train_dqn_tiny(tmp_path, capsys):
    out = tmp_path / "dqn.zip"
    args = ["agent", "train", "--kind", "dqn", "--steps", "60", "--quiet", "--out", str(out)]
    assert main([*args, "--eval-episodes", "0"]) == 0
    assert "60 steps" in capsys.readouterr().out
    assert out.is_file()
    assert main(["agent", "eval", "--agent", str(out), "--episodes", "1"]) == 0
    assert "success rate:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("agent", "env", "expected"),
    [
        ("pretrained", "MiniGrid-Empty-5x5-v0", "mean episode length: 5.0"),
        ("pretrained:dqn", "MiniGrid-Empty-5x5-v0", "mean episode length: 5.0"),
        ("pretrained", EMPTY_4X4, "mean episode length: 3.0"),
    ],
)
def test_eval_pretrained(agent, env, expected, capsys):
    assert main(["agent", "eval", "--agent", agent, "--env", env, "--episodes", "2"]) == 0
    printed = capsys.readouterr().out
    assert "success rate: 1.00" in printed and expected in printed


def test_eval_random(capsys):
    assert main(["agent", "eval", "--agent", "random", "--episodes", "2", "--seed", "1"]) == 0
    assert "random agent" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--kind", "tabular", "--out", "{tmp}/q.zip"], "saved as .npz"),
        (["train", "--kind", "dqn", "--out", "{tmp}/d.npz"], "saved as .zip"),
        (["train", "--kind", "dqn", "--episodes", "3", "--out", "{tmp}/d.zip"], "--steps"),
        (["train", "--kind", "tabular", "--out", "{tmp}"], "is a folder"),
        (["train", "--kind", "tabular", "--env", "Nope-v0", "--out", "{tmp}/q.npz"], "unknown"),
        (["train", "--kind", "dqn", "--env", "CartPole-v1", "--out", "{tmp}/d.zip"], "MiniGrid"),
        (["eval", "--agent", "{tmp}/missing.npz"], "not 'pretrained'"),
        (["eval", "--env", "CartPole-v1"], "pretrained agents exist for"),
        (["eval", "--agent", "pretrained:dqn", "--env", EMPTY_4X4], "no pretrained dqn"),
    ],
)
def test_errors_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    assert main(["agent", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("man-rl agent: error:")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--kind", "tabular", "--episodes", "0", "--out", "q.npz"],
        ["train", "--kind", "tabular", "--steps", "x", "--out", "q.npz"],
        ["train", "--kind", "tabular", "--alpha", "1.5", "--out", "q.npz"],
        ["train", "--kind", "ppo", "--out", "q.npz"],
        ["train", "--kind", "tabular"],
        ["eval", "--episodes", "-1"],
    ],
)
def test_bad_arguments_are_refused_by_argparse(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["agent", *argv])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
