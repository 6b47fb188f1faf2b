"""The README's Atari section runs as written (a few hundred steps, a short budget)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from matplotlib.image import imread

from man_rl.cli.main import main

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

README = Path(__file__).resolve().parents[1] / "README.md"
SMALLER = {"--steps": "300", "--budget": "20"}


def atari_commands() -> list[list[str]]:
    """The ``man-rl`` lines of the README's bash block that collects Breakout."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    block = next(b for b in blocks if "ALE/Breakout-v5" in b)
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("man-rl ")]


def smaller(argv: list[str]) -> list[str]:
    out = list(argv)
    for i, word in enumerate(out[:-1]):
        if word in SMALLER:
            out[i + 1] = SMALLER[word]
    return out


def test_the_readme_atari_commands_run(tmp_path, monkeypatch, capsys):
    commands = atari_commands()
    assert [argv[0] for argv in commands] == ["collect", "train", "recall"]
    monkeypatch.chdir(tmp_path)
    for argv in commands:
        assert main([*smaller(argv), "--quiet"] if argv[0] != "recall" else argv) == 0, argv
    printed = capsys.readouterr().out
    assert "stopped: " in printed  # train without --steps: until good or the budget
    grid = imread(tmp_path / "breakout-recall.png")
    assert grid.ndim == 3 and grid.shape[0] > 100
    for name in ("breakout.manrl", "breakout-b.manrl"):
        assert (tmp_path / name).stat().st_size > 0
