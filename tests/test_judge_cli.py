"""``man-rl evaluate`` with the judge: saved once, reused, refused for another memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.evaluation import Judge


def memory(seed=0) -> ShortTermMemory:
    stm = ShortTermMemory(capacity=6)
    rng = np.random.default_rng(seed)
    for i, key in enumerate([(1, 1, 0), (2, 1, 0), (1, 2, 3)]):
        for _ in range(6):
            stm.add(key, (rng.integers(0, 30, (9, 7, 3)) + 100 * i).astype(np.uint8))
    return stm


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("judge_cli")
    memory().save(folder / "stm.manrl")
    memory(seed=1).save(folder / "other.manrl")
    argv = ["train", "--memory", str(folder / "stm.manrl"), "--model", "B", "--steps", "3"]
    assert main([*argv, "--out", str(folder / "ltm.manrl"), "--quiet"]) == 0
    return folder


def evaluate(files, *extra, memory="stm.manrl"):
    argv = ["evaluate", "--model", str(files / "ltm.manrl"), "--memory", str(files / memory)]
    return main([*argv, "--out", str(files / "metrics.json"), "--n", "3", *extra])


def test_evaluate_saves_and_reuses_a_judge(files, capsys):
    judge_file = files / "judge.manrl"
    assert evaluate(files, "--save-judge", str(judge_file)) == 0
    line = capsys.readouterr().out.strip()
    for words in ["recall accuracy", "judge ceiling", "fidelity", "precision", "FID", "saved"]:
        assert words in line, words
    assert "\n" not in line
    first = json.loads((files / "metrics.json").read_text())
    assert first["recall_accuracy"] == first["accuracy"]
    assert first["judge"]["states_with_held_out"] == 3
    assert Judge.load(judge_file).keys == [(1, 1, 0), (2, 1, 0), (1, 2, 3)]

    assert evaluate(files, "--judge", str(judge_file)) == 0
    again = json.loads((files / "metrics.json").read_text())
    assert again == first  # the same judge and seed: the same figures


def test_a_judge_of_another_memory_is_refused(files, capsys):
    judge_file = files / "judge_other.manrl"
    assert evaluate(files, "--save-judge", str(judge_file), memory="other.manrl") == 0
    capsys.readouterr()
    assert evaluate(files, "--judge", str(judge_file)) == 2
    assert "trained on other frames" in capsys.readouterr().err
    assert evaluate(files, "--judge", str(files / "stm.manrl")) == 2
    assert "not a 'judge'" in capsys.readouterr().err


def test_collect_train_and_evaluate_breakout_from_the_command_line(tmp_path, capsys):
    """The issue's path: Atari frames through the CLI, then the strict judge's figures."""
    pytest.importorskip("ale_py")
    stm, ltm, out = tmp_path / "stm.manrl", tmp_path / "ltm.manrl", tmp_path / "metrics.json"
    collect = ["collect", "--env", "ALE/Breakout-v5", "--preprocess", "atari"]
    assert main([*collect, "--agent", "random", "--steps", "300", "--out", str(stm)]) == 0
    memory = ShortTermMemory.load(stm)
    assert memory.frame_shape == (84, 84) and set(memory.keys) <= set(range(2, 8))
    train = ["train", "--memory", str(stm), "--model", "A", "--steps", "2", "--quiet"]
    assert main([*train, "--out", str(ltm)]) == 0
    capsys.readouterr()
    evaluate = ["evaluate", "--model", str(ltm), "--memory", str(stm), "--n", "2"]
    assert main([*evaluate, "--out", str(out)]) == 0
    assert "judge ceiling" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["states_evaluated"] == memory.num_keys
    assert report["judge"]["states"] == memory.num_keys
    assert 0.0 <= report["accuracy"] <= 1.0
    assert {s["key"] for s in report["per_state"]} == {int(k) for k in memory.keys}
    for figure in ("fidelity", "mean_frame_fidelity", "precision", "recall", "copies", "fid"):
        assert figure in report, figure
