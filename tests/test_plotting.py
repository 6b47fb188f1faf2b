"""Tests of man_rl.plotting: figures come back laid out, labelled and marked as asked."""

from __future__ import annotations

import os

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Circle, Rectangle

from man_rl.errors import EmptyMemoryError, InvalidTypeError, InvalidValueError, ManRLError
from man_rl.layout import Layout, flat_layout
from man_rl.plotting import (
    class_balance,
    class_balance_from_memory,
    digit_grid,
    latent_scatter,
    recall_grid,
    save_figure,
    side_by_side,
    training_curves,
)
from man_rl.stm.memory import ShortTermMemory

DIRECTIONS = ("right", "down", "left", "up")


def minigrid_layout(size: int = 5) -> tuple[list[tuple[int, int, int]], Layout]:
    """Free cells x 4 directions, as the MiniGrid adapter builds it."""
    keys = [(x, y, d) for d in range(4) for y in range(1, size - 1) for x in range(1, size - 1)]
    base = Layout.from_keys(keys, row_of=lambda k: k[2], col_of=lambda k: k[:2])
    layout = Layout(
        cells=base.cells,
        row_labels=DIRECTIONS,
        col_labels=base.col_labels,
        row_title="direction",
        col_title="position (x, y)",
    )
    return keys, layout


def frames_for(keys, shape=(12, 12, 3), seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.integers(0, 256, size=shape, dtype=np.uint8) for k in keys}


def cell(fig: Figure, row: int, col: int):
    (ax,) = [ax for ax in fig.axes if ax.get_label() == f"cell {row} {col}"]
    return ax


def texts(ax) -> list[str]:
    return [" ".join(t.get_text().split()) for t in ax.texts]


def images(ax) -> list[AxesImage]:
    return [a for a in ax.get_children() if isinstance(a, AxesImage)]


def hatched(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]


# ---------------------------------------------------------------------- recall grid
@pytest.fixture(scope="module")
def grid_5x5():
    keys, layout = minigrid_layout(5)
    unseen = [(3, 3, 1), (3, 3, 2)]
    recalled = frames_for(keys)
    fig = recall_grid(recalled, layout, unseen=unseen, title="recall")
    return keys, layout, unseen, fig


def test_recall_grid_has_one_axes_per_cell_with_layout_labels(grid_5x5):
    _keys, layout, _, fig = grid_5x5
    assert isinstance(fig, Figure)
    assert layout.shape == (4, 9)
    assert len(fig.axes) == 4 * 9
    # Row labels (directions) on the first column, column labels (positions) on the last row.
    assert [cell(fig, r, 0).get_ylabel() for r in range(4)] == list(DIRECTIONS)
    assert [cell(fig, 3, c).get_xlabel() for c in range(9)] == list(layout.col_labels)
    assert layout.col_labels[0] == "(1, 1)"
    assert cell(fig, 1, 4).get_xlabel() == "" and cell(fig, 1, 4).get_ylabel() == ""
    # Cells sit in a grid: same row -> same height on the page, columns left to right.
    x0 = [cell(fig, 2, c).get_position().x0 for c in range(9)]
    y0 = [cell(fig, r, 5).get_position().y0 for r in range(4)]
    assert x0 == sorted(x0) and y0 == sorted(y0, reverse=True)
    assert {"direction", "position (x, y)"} <= {t.get_text() for t in fig.texts}
    assert fig.get_suptitle() == "recall"


def test_recall_grid_places_each_state_by_the_layout(grid_5x5):
    keys, layout, _unseen, fig = grid_5x5
    recalled = frames_for(keys)
    for key in [(1, 1, 0), (2, 3, 1), (3, 2, 3)]:
        row, col = layout.cells[key]
        (image,) = images(cell(fig, row, col))
        np.testing.assert_array_equal(np.asarray(image.get_array()), recalled[key])


def test_recall_grid_marks_unseen_states_instead_of_drawing_them(grid_5x5):
    _, layout, unseen, fig = grid_5x5
    for key in unseen:
        ax = cell(fig, *layout.cells[key])
        assert images(ax) == []
        assert hatched(ax)
        assert texts(ax) == ["never seen"]
    seen = cell(fig, *layout.cells[(3, 3, 0)])
    assert len(images(seen)) == 1 and not hatched(seen)


def test_recall_grid_with_real_draws_both_and_labels_them():
    keys, layout = minigrid_layout(5)
    recalled = frames_for(keys[:-1], seed=1)  # the last key has no recall
    real = frames_for(keys, seed=2)
    fig = recall_grid(recalled, layout, real=real, unseen={(3, 3, 1): "unreachable"}, title="pairs")
    ax = cell(fig, *layout.cells[(1, 1, 0)])
    left, right = sorted(images(ax), key=lambda im: im.get_extent()[0])
    np.testing.assert_array_equal(np.asarray(left.get_array()), real[(1, 1, 0)])
    np.testing.assert_array_equal(np.asarray(right.get_array()), recalled[(1, 1, 0)])
    assert left.get_extent()[1] < right.get_extent()[0]  # side by side, not overlapping
    assert {"real", "recalled"} <= set(texts(cell(fig, 0, 0)))
    assert any("real (left)" in t.get_text() for t in fig.texts)
    # Unreachable: real screen kept, recall marked with the given reason.
    ax = cell(fig, *layout.cells[(3, 3, 1)])
    assert len(images(ax)) == 1 and texts(ax) == ["unreachable"] and hatched(ax)
    ax = cell(fig, *layout.cells[keys[-1]])
    assert len(images(ax)) == 1 and "not recalled" in texts(ax)


def test_recall_grid_grey_frames_stacks_and_samples():
    keys = ["a", "b", "c"]
    layout = flat_layout(keys, columns=2)  # a 2 x 2 grid with one empty cell
    stacks = {k: np.full((4, 6, 10), 50 * i, dtype=np.uint8) for i, k in enumerate(keys)}
    fig = recall_grid(stacks, layout, samples=3)
    assert len(fig.axes) == 4
    assert len(images(cell(fig, 0, 0))) == 3
    assert np.asarray(images(cell(fig, 0, 1))[0].get_array()).shape == (6, 10)
    assert images(cell(fig, 1, 1)) == [] and texts(cell(fig, 1, 1)) == []  # no state there


def test_recall_grid_wraps_wide_layouts_into_bands():
    keys, layout = minigrid_layout(8)  # 4 x 36
    fig = recall_grid(frames_for(keys, shape=(8, 8)), layout)
    assert len(fig.axes) == 4 * 36
    # Two bands of 18: the first band's last row has labels too, the second band sits below.
    assert cell(fig, 3, 0).get_xlabel() == layout.col_labels[0]
    assert cell(fig, 0, 18).get_ylabel() == "right"
    assert cell(fig, 0, 18).get_position().y0 < cell(fig, 3, 0).get_position().y0
    width, height = fig.get_size_inches()
    assert width < 20 and height < 12


def test_recall_grid_mixes_grey_and_colour_and_accepts_floats():
    layout = flat_layout([0, 1], columns=2)
    fig = recall_grid(
        {0: np.zeros((5, 5), np.uint8), 1: np.ones((5, 5, 3), np.float32) * 0.5}, layout
    )
    arrays = [np.asarray(images(ax)[0].get_array()) for ax in fig.axes]
    assert [a.shape for a in arrays] == [(5, 5, 3), (5, 5, 3)]
    assert arrays[1].dtype == np.uint8 and arrays[1].max() == 128


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"recalled": {}}, InvalidValueError, "recalled is empty"),
        ({"recalled": {(9, 9, 0): np.zeros((4, 4), np.uint8)}}, InvalidValueError, "not in the"),
        ({"unseen": [(9, 9, 9)]}, InvalidValueError, "unseen key"),
        ({"unseen": "abc"}, InvalidTypeError, "not a string"),
        ({"real": {(1, 1, 0): np.zeros((5, 4), np.uint8)}}, InvalidValueError, "one height"),
        ({"recalled": {(1, 1, 0): [[0]]}}, InvalidTypeError, "numpy array"),
        ({"recalled": {(1, 1, 0): np.zeros((4, 4), np.int8) - 1}}, InvalidValueError, "0..255"),
        ({"recalled": {(1, 1, 0): np.full((4, 4), 2.0)}}, InvalidValueError, r"\[0, 1\]"),
        (
            {"recalled": {(1, 1, 0): np.zeros((2, 2, 4, 4, 3), np.uint8)}},
            InvalidValueError,
            "shape",
        ),
        ({"layout": {"a": (0, 0)}}, InvalidTypeError, "Layout"),
        ({"samples": 0}, InvalidValueError, "samples"),
        ({"cell_size": -1.0}, InvalidValueError, "cell_size"),
    ],
)
def test_recall_grid_rejects_bad_input(kwargs, error, match):
    _keys, layout = minigrid_layout(5)
    args = {"recalled": {(1, 1, 0): np.zeros((4, 4), np.uint8)}, "layout": layout}
    args.update(kwargs)
    with pytest.raises(error, match=match) as info:
        recall_grid(args.pop("recalled"), args.pop("layout"), **args)
    assert isinstance(info.value, ManRLError)


def test_recall_grid_accepts_numpy_scalar_keys():
    layout = flat_layout([0, 1, 2], columns=3)
    fig = recall_grid({np.int64(1): np.zeros((3, 3), np.uint8)}, layout)
    assert len(images(cell(fig, 0, 1))) == 1


# ---------------------------------------------------------------------- saving
def test_save_figure_writes_a_png_atomically(tmp_path, grid_5x5):
    fig = grid_5x5[3]
    path = save_figure(fig, tmp_path / "sub" / "grid.png", dpi=50)
    assert path == tmp_path / "sub" / "grid.png"
    assert os.listdir(tmp_path / "sub") == ["grid.png"]  # no temporary file left
    image = mpimg.imread(path)
    width, height = fig.get_size_inches() * 50
    assert image.shape[2] in (3, 4)
    assert abs(image.shape[1] - width) <= 2 and abs(image.shape[0] - height) <= 2
    assert image.shape[1] > image.shape[0]  # 9 columns x 4 rows: wider than tall
    assert image[..., :3].std() > 0.05  # not a blank page


def test_save_figure_rejects_bad_paths_and_objects(tmp_path, grid_5x5):
    with pytest.raises(InvalidValueError, match=r"\.png"):
        save_figure(grid_5x5[3], tmp_path / "grid.jpg")
    with pytest.raises(InvalidTypeError, match="Figure"):
        save_figure("not a figure", tmp_path / "grid.png")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- training curves
def test_training_curves_one_panel_per_term_log_scale_when_positive():
    steps = list(range(0, 200, 2))
    history = {
        "step": steps,
        "loss": [100.0 / (1 + s) + 1 for s in steps],
        "reconstruction": [50.0 / (1 + s) + 1 for s in steps],
        "kl": [1.0 - s / 100 for s in steps],  # crosses zero: linear scale
        "root": [0.5] * len(steps),
    }
    fig = training_curves(history)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["loss", "reconstruction", "kl", "root"]
    assert [ax.get_yscale() for ax in panels] == ["log", "log", "linear", "log"]
    assert all(ax.lines for ax in panels)
    assert panels[-1].get_xlabel() == "step"
    np.testing.assert_array_equal(panels[0].lines[0].get_xdata(), steps)


def test_training_curves_leave_out_terms_that_are_off_and_name_them():
    history = {
        "loss": [3.0, 2.0, 1.0],
        "reconstruction": [2.0, 1.5, 1.0],
        "recognition": [0.0, 0.0, 0.0],  # off: lambda 0
        "recall": [0.0, 0.0, 0.0],
        "kl": [0.0, 0.5, 0.0],  # on: zero at some steps only
    }
    fig = training_curves(history)
    panels = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert panels == ["loss", "reconstruction", "kl"]
    assert fig.get_supxlabel() == "off (0 at every step): recognition, recall"
    assert training_curves({"loss": [0.0, 0.0]}).axes[0].get_title() == "loss"  # kept
    assert training_curves({"loss": [1.0], "kl": [0.5]}).get_supxlabel() == ""


def test_training_curves_without_step_and_with_non_finite_values():
    fig = training_curves({"loss": [3.0, float("nan"), 1.0], "extra": [1.0, 2.0, 3.0]})
    loss = fig.axes[0]
    assert loss.get_title() == "loss" and list(loss.lines[0].get_xdata()) == [0.0, 2.0]


@pytest.mark.parametrize(
    ("history", "error"),
    [
        ({"step": [1, 2]}, InvalidValueError),
        ({"step": [1, 2], "loss": [1.0]}, InvalidValueError),
        ({"loss": []}, InvalidValueError),
        ({"loss": "abc"}, InvalidTypeError),
        ({"loss": [1.0, "x"]}, InvalidTypeError),
        ([1.0, 2.0], InvalidTypeError),
    ],
)
def test_training_curves_rejects_bad_history(history, error):
    with pytest.raises(error):
        training_curves(history)


# ---------------------------------------------------------------------- class balance
def test_class_balance_shows_shares_of_held_and_drawn_frames():
    counts = {"common": 90, "rare": 10}
    fig = class_balance(counts, {"common": 50, "rare": 50}, {"common": 91, "rare": 9})
    (ax,) = fig.axes
    heights = [round(p.get_height()) for p in ax.patches]
    assert heights == [90, 10, 50, 50, 91, 9]  # percent, series by series
    assert [t.get_text() for t in ax.get_xticklabels()] == ["common", "rare"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("balanced draws") for t in legend)
    assert any(t.startswith("plain draws") for t in legend)


def test_class_balance_sort_and_missing_draws():
    fig = class_balance({"a": 1, "b": 5}, {"b": 3}, sort=True)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "a"]
    assert [round(p.get_height()) for p in ax.patches] == [83, 17, 100, 0]


def test_class_balance_rejects_bad_counts():
    with pytest.raises(InvalidValueError, match="empty"):
        class_balance({}, {})
    with pytest.raises(InvalidValueError, match="counts lacks"):
        class_balance({"a": 1}, {"z": 3})
    with pytest.raises(InvalidValueError, match="int >= 0"):
        class_balance({"a": -1}, {"a": 3})
    with pytest.raises(InvalidTypeError, match="mapping"):
        class_balance([1, 2], {})  # type: ignore[arg-type]


def test_class_balance_from_memory_balances_a_skewed_memory():
    stm = ShortTermMemory(capacity=100)
    for key, n in [("common", 100), ("rare", 5)]:
        for _ in range(n):
            stm.add(key, np.zeros((2, 2), np.uint8))
    fig = class_balance_from_memory(stm, draws=5000, rng=1)
    (ax,) = fig.axes
    held, balanced, plain = np.array([p.get_height() for p in ax.patches]).reshape(3, 2)
    assert held[1] < 5 and abs(balanced[1] - 50) < 3 and plain[1] < 8
    with pytest.raises(EmptyMemoryError):
        class_balance_from_memory(ShortTermMemory(capacity=2))


# ---------------------------------------------------------------------- latent space
@pytest.mark.parametrize("projection", ["auto", "pca", "ring"])
def test_latent_scatter_marks_prior_means_and_three_sigma_circles(projection):
    rng = np.random.default_rng(0)
    k, d, lam = 8, 10, 6.0
    prior = lam * np.eye(k, d)
    labels = rng.integers(k, size=400)
    means = prior[labels] + rng.normal(0, 0.3, (400, d))
    fig = latent_scatter(
        means, labels, prior, label_names=[f"s{i}" for i in range(k)], projection=projection
    )
    (ax,) = fig.axes
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == k and all(c.get_radius() == pytest.approx(3.0) for c in circles)
    points, crosses = ax.collections
    assert len(points.get_offsets()) == 400 and len(crosses.get_offsets()) == k
    # Each point lies near its own prior mean in the projection (orthonormal views).
    xy, centres = np.asarray(points.get_offsets()), np.asarray(crosses.get_offsets())
    assert np.linalg.norm(xy - centres[labels], axis=1).max() < 3.0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:k] == [f"s{i}" for i in range(k)]


def test_latent_scatter_many_states_low_dims_and_no_prior():
    rng = np.random.default_rng(1)
    labels = rng.integers(30, size=300)
    fig = latent_scatter(rng.normal(size=(300, 40)), labels, 6 * np.eye(30, 40))
    (ax,) = fig.axes
    assert ax.get_legend() is None and not ax.patches  # too many states for circles and legend
    fig = latent_scatter(rng.normal(size=(50, 2)), labels[:50] % 3)
    assert fig.axes[0].get_xlabel() == "z1"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((5, 3)), np.zeros(4, int)), "labels"),
        ((np.zeros((5, 3)), np.zeros(5)), "int array"),
        ((np.zeros((5, 3)), np.zeros(5, int), np.zeros((2, 4))), "dimensions"),
        ((np.zeros((5, 3)), np.full(5, 3), np.zeros((2, 3))), "only 2 rows"),
        ((np.full((5, 3), np.nan), np.zeros(5, int)), "finite"),
        ((np.zeros(5), np.zeros(5, int)), r"\[N, D\]"),
    ],
)
def test_latent_scatter_rejects_bad_input(args, match):
    with pytest.raises(InvalidValueError, match=match):
        latent_scatter(*args)


# ---------------------------------------------------------------------- digits, pairs
def test_digit_grid_rows_are_classes():
    rng = np.random.default_rng(0)
    frames = rng.random((10, 4, 8, 8))
    fig = digit_grid(frames, class_names=[f"digit {i}" for i in range(10)])
    assert len(fig.axes) == 40
    assert [cell(fig, r, 0).get_ylabel() for r in range(10)] == [f"digit {i}" for i in range(10)]
    assert images(cell(fig, 9, 3))[0].get_array().shape == (8, 8)


def test_digit_grid_from_mapping_of_uneven_stacks():
    fig = digit_grid({"a": np.zeros((3, 5, 5), np.uint8), "b": np.zeros((1, 5, 5), np.uint8)})
    assert len(fig.axes) == 6 and cell(fig, 1, 0).get_ylabel() == "b"
    assert images(cell(fig, 1, 2)) == []
    with pytest.raises(InvalidValueError):
        digit_grid(np.zeros((3, 8, 8)))
    with pytest.raises(InvalidValueError):
        digit_grid({})
    with pytest.raises(InvalidValueError, match="class_names"):
        digit_grid(np.zeros((2, 1, 4, 4)), class_names=["only one"])


def test_side_by_side_puts_real_above_recalled():
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (3, 6, 7, 3), dtype=np.uint8)
    recalled = rng.integers(0, 256, (3, 6, 7, 3), dtype=np.uint8)
    fig = side_by_side(real, recalled, ["a", "b", "c"])
    assert len(fig.axes) == 6
    assert [cell(fig, r, 0).get_ylabel() for r in range(2)] == ["real", "recalled"]
    assert [cell(fig, 1, c).get_xlabel() for c in range(3)] == ["a", "b", "c"]
    np.testing.assert_array_equal(images(cell(fig, 1, 2))[0].get_array(), recalled[2])
    with pytest.raises(InvalidValueError, match="one recalled frame per real"):
        side_by_side(real, recalled[:2], ["a", "b", "c"])
    with pytest.raises(InvalidValueError, match="labels"):
        side_by_side(real, recalled, ["a"])
