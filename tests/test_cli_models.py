"""Tests of ``man-rl train``, ``man-rl recall`` and ``man-rl evaluate``, run in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.ltm import TypeA, TypeB, load_model


@pytest.fixture
def memory_file(tmp_path):
    stm = ShortTermMemory(capacity=5)
    rng = np.random.default_rng(0)
    for i, key in enumerate([(1, 1, 0), (2, 1, 0), (1, 2, 3)]):
        for _ in range(3):
            stm.add(key, (rng.integers(0, 30, (9, 7, 3)) + 100 * i).astype(np.uint8))
    path = tmp_path / "stm.manrl"
    stm.save(path)
    return path


def train(memory_file, out, model="A", steps=3, *extra) -> int:
    argv = ["train", "--memory", str(memory_file), "--model", model, "--steps", str(steps)]
    return main([*argv, "--out", str(out), "--quiet", *extra])


@pytest.mark.parametrize("kind", ["A", "B"])
def test_train_recall_evaluate_pipeline(memory_file, tmp_path, capsys, kind):
    ckpt = tmp_path / "ltm.manrl"
    assert train(memory_file, ckpt, kind, 4, "--seed", "3", "--batch-size", "8") == 0
    model = load_model(ckpt)
    assert type(model) is (TypeA if kind == "A" else TypeB)
    assert model.training_state.step == 4
    assert model.config.seed == 3
    assert f"saved {ckpt}" in capsys.readouterr().out

    png = tmp_path / "pics" / "recall.png"
    assert main(["recall", "--model", str(ckpt), "--out", str(png), "--n", "3"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    report_path = tmp_path / "metrics.json"
    argv = ["evaluate", "--model", str(ckpt), "--memory", str(memory_file)]
    assert main([*argv, "--out", str(report_path), "--n", "2"]) == 0
    report = json.loads(report_path.read_text())
    assert report["model"] == kind and report["states_evaluated"] == 3
    assert 0.0 <= report["recall_accuracy"] <= 1.0
    assert (report["recognition"] is None) == (kind == "A")
    assert "recall accuracy" in capsys.readouterr().out


def test_mixed_precision_from_the_cli(memory_file, tmp_path):
    ckpt = tmp_path / "ltm.manrl"
    assert train(memory_file, ckpt, "B", 3, "--mixed-precision", "bf16", "--device", "cpu") == 0
    model = TypeB.load(ckpt)
    assert model.training_state.step == 3
    assert all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in model.parameters())


def test_help_states_the_training_defaults(capsys):
    from man_rl.ltm.training import DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_WARMUP_STEPS

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {DEFAULT_BATCH_SIZE})" in text and f"(default {DEFAULT_LR:g})" in text
    assert f"(default {DEFAULT_WARMUP_STEPS}; 0: none)" in text


def test_warmup_steps_from_the_cli(memory_file, tmp_path):
    start = TypeA.for_memory(ShortTermMemory.load(memory_file), seed=0)  # what train builds

    def first_step_change(warmup: str) -> float:
        ckpt = tmp_path / f"ltm{warmup}.manrl"
        assert train(memory_file, ckpt, "A", 1, "--lr", "0.01", "--warmup-steps", warmup) == 0
        pairs = zip(TypeA.load(ckpt).parameters(), start.parameters(), strict=True)
        return max(float((after - before).detach().abs().max()) for after, before in pairs)

    assert first_step_change("0") == pytest.approx(0.01, rel=1e-3)  # Adam's first step: ~lr
    assert first_step_change("10") == pytest.approx(0.001, rel=1e-3)


def test_code_bank_from_the_cli_and_kept_by_resume(memory_file, tmp_path, capsys):
    ckpt = tmp_path / "ltm.manrl"
    assert train(memory_file, ckpt, "B", 3, "--code-bank", "2") == 0
    model = TypeB.load(ckpt)
    assert model.config.code_bank == 2 and model.bank.filled().tolist() == [2, 2, 2]
    assert train(memory_file, ckpt, "B", 1, "--resume") == 0
    assert train(memory_file, ckpt, "B", 1, "--resume", "--code-bank", "2") == 0
    capsys.readouterr()
    assert train(memory_file, ckpt, "B", 1, "--resume", "--code-bank", "5") == 2
    assert "code_bank=2" in capsys.readouterr().err
    assert TypeB.load(ckpt).training_state.step == 5
    assert train(memory_file, tmp_path / "default.manrl", "A", 1) == 0
    assert TypeA.load(tmp_path / "default.manrl").config.code_bank == 64  # the default
    assert train(memory_file, tmp_path / "plain.manrl", "A", 1, "--code-bank", "0") == 0
    assert TypeA.load(tmp_path / "plain.manrl").bank is None


def test_hard_pixels_from_the_cli_and_kept_by_resume(memory_file, tmp_path, capsys):
    ckpt = tmp_path / "ltm.manrl"
    assert train(memory_file, ckpt, "A", 2, "--hard-pixels", "8") == 0
    assert TypeA.load(ckpt).config.hard_pixels == 8
    assert train(memory_file, ckpt, "A", 1, "--resume") == 0
    capsys.readouterr()
    assert train(memory_file, ckpt, "A", 1, "--resume", "--hard-pixels", "4") == 2
    assert "hard_pixels=8" in capsys.readouterr().err
    assert TypeA.load(ckpt).training_state.step == 3


def test_resume_continues_training(memory_file, tmp_path):
    ckpt = tmp_path / "ltm.manrl"
    assert train(memory_file, ckpt, "A", 2) == 0
    assert train(memory_file, ckpt, "A", 3, "--resume", "--lr", "1e-4") == 0
    model = TypeA.load(ckpt)
    assert model.training_state.step == 5
    assert model.training_state.optimizer.param_groups[0]["lr"] == 1e-4
    assert model.training_state.history["step"] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_interrupted_training_saves_what_it_learnt(memory_file, tmp_path, monkeypatch, capsys):
    import man_rl.ltm.base

    real_fit = man_rl.ltm.base.fit

    def fit_then_interrupt(model, memory, steps, **kwargs):
        real_fit(model, memory, 2, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(man_rl.ltm.base, "fit", fit_then_interrupt)
    ckpt = tmp_path / "ltm.manrl"
    assert train(memory_file, ckpt, "B", 50) == 130
    assert TypeB.load(ckpt).training_state.step == 2
    assert "saved the model at step 2" in capsys.readouterr().err


def test_errors_are_one_line_messages(memory_file, tmp_path, capsys):
    assert train(tmp_path / "missing.manrl", tmp_path / "x.manrl") == 2
    assert "missing.manrl" in capsys.readouterr().err
    single = ShortTermMemory(capacity=2)
    single.add("only", np.zeros((4, 4), np.uint8))
    single.save(tmp_path / "single.manrl")
    assert train(tmp_path / "single.manrl", tmp_path / "x.manrl", "B") == 2
    err = capsys.readouterr().err
    assert err.startswith("man-rl train: error:") and "at least two states" in err
    assert not (tmp_path / "x.manrl").exists()
    (tmp_path / "junk.manrl").write_bytes(b"not a checkpoint")
    assert main(["recall", "--model", str(tmp_path / "junk.manrl"), "--out", "x.png"]) == 2
    assert "not a valid man_rl file" in capsys.readouterr().err
    # a memory file is not a checkpoint (and vice versa)
    argv = ["evaluate", "--model", str(memory_file), "--memory", str(memory_file)]
    assert main([*argv, "--out", str(tmp_path / "m.json")]) == 2
    assert "short_term_memory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--memory", "m", "--model", "C", "--steps", "1", "--out", "o"],
        ["train", "--memory", "m", "--model", "A", "--steps", "0", "--out", "o"],
        ["train", "--memory", "m", "--model", "A", "--steps", "1", "--out", "o", "--lr", "-1"],
        [
            "train",
            "--memory",
            "m",
            "--model",
            "A",
            "--steps",
            "1",
            "--out",
            "o",
            "--warmup-steps",
            "-1",
        ],
        ["recall", "--model", "m", "--out", "o", "--n", "0"],
        ["evaluate", "--model", "m", "--memory", "m", "--out", "o", "--classifier", "x"],
    ],
)
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "recall", "evaluate"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "--model" in capsys.readouterr().out
