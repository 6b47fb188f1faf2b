from __future__ import annotations

import json

import matplotlib.image as mpimg
import pytest

from man_rl import ShortTermMemory, TypeB
from man_rl.cli import main
from man_rl.cli.common import env_layout
from man_rl.envs import random_walk_memory
from man_rl.plotting.recall import infer_layout, recall_grid_figure


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    code = main(
        ["demo", "--quiet", "--out", str(out), "--collect-steps", "400", "--train-steps", "30"]
    )
    assert code == 0
    return out


def test_demo_writes_every_artefact(demo_out, capsys):
    for name in [
        "memory.manrl",
        "model_b.manrl",
        "metrics.json",
        "recall_grid.png",
        "training_curves.png",
        "class_balance.png",
    ]:
        assert (demo_out / name).stat().st_size > 0, name
    metrics = json.loads((demo_out / "metrics.json").read_text())
    assert metrics["env"] == "MiniGrid-Empty-5x5-v0" and metrics["train_steps"] == 30
    assert 0.0 <= metrics["recall_accuracy"] <= 1.0
    assert len(ShortTermMemory.load(demo_out / "memory.manrl")) > 0


def test_demo_recall_grid_png_is_a_wide_grid(demo_out):
    image = mpimg.imread(demo_out / "recall_grid.png")
    height, width = image.shape[:2]
    assert width > 2 * height  # 9 positions wide, 4 directions high


def test_grid_layout_is_position_by_direction():
    memory = random_walk_memory("MiniGrid-Empty-5x5-v0", steps=400, capacity=5)
    model = TypeB.for_memory(memory, seed=0)
    layout, reachable = env_layout("MiniGrid-Empty-5x5-v0")
    fig = recall_grid_figure(model, memory=memory, layout=layout, reachable=reachable)
    cells = {ax.get_label() for ax in fig.axes if ax.get_label().startswith("cell ")}
    assert cells == {f"cell {r} {c}" for r in range(4) for c in range(9)}
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "direction" in texts and "position" in texts
    all_text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "unreachable" in all_text  # the goal cell facing left / up


def test_infer_layout_from_minigrid_keys():
    layout = infer_layout([(1, 1, 0), (2, 1, 0), (1, 1, 3)])
    assert layout.shape == (2, 2)
    assert layout.row_labels == ("right (0)", "up (3)")
    assert layout.col_title == "position" and layout.row_title == "direction"
    assert infer_layout(["a", "b"]).shape == (1, 2)


def test_recall_cli_draws_the_grid(demo_out, tmp_path, capsys):
    png = tmp_path / "grid.png"
    code = main(
        [
            "recall",
            "--model",
            str(demo_out / "model_b.manrl"),
            "--out",
            str(png),
            "--memory",
            str(demo_out / "memory.manrl"),
            "--env",
            "MiniGrid-Empty-5x5-v0",
        ]
    )
    assert code == 0
    assert mpimg.imread(png).shape[1] > 2 * mpimg.imread(png).shape[0]


def test_demo_refuses_a_file_as_out(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["demo", "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
