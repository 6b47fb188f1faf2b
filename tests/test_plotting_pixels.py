"""Pictures show pixels: nearest-neighbour screens, legible text, every state's encodings."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.image import AxesImage
from matplotlib.text import Text

from man_rl.errors import InvalidValueError
from man_rl.layout import Layout, flat_layout
from man_rl.plotting import (
    digit_grid,
    latent_by_state,
    latent_scatter,
    recall_grid,
    side_by_side,
)
from man_rl.plotting import grids as grids_module
from man_rl.plotting import table as table_module
from man_rl.plotting.latent import state_coordinates


def checkerboard(size: int = 32) -> np.ndarray:
    return np.where((np.indices((size, size)).sum(0) % 2) == 0, 0, 255).astype(np.uint8)


def images_of(fig) -> list[AxesImage]:
    return [a for ax in fig.axes for a in ax.get_children() if isinstance(a, AxesImage)]


def every_figure():
    frames = {k: checkerboard() for k in range(3)}
    grid = recall_grid(
        frames, flat_layout(range(4), columns=4), real=frames, unseen={3: "unreachable"}
    )
    digits = digit_grid(np.stack([np.stack([checkerboard(8)] * 3)] * 2))
    pairs = side_by_side(np.stack([checkerboard()] * 2), np.stack([checkerboard()] * 2))
    return {"recall_grid": grid, "digit_grid": digits, "side_by_side": pairs}


@pytest.mark.parametrize("name", ["recall_grid", "digit_grid", "side_by_side"])
def test_screens_are_upscaled_nearest_neighbour(name):
    fig = every_figure()[name]
    found = images_of(fig)
    assert found and {image.get_interpolation() for image in found} == {"nearest"}


@pytest.mark.parametrize("name", ["recall_grid", "digit_grid", "side_by_side"])
def test_every_text_is_at_least_8_points(name):
    fig = every_figure()[name]
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    assert sizes and min(sizes) >= grids_module.MIN_FONT == 8.0


def rendered_levels(fig, dpi: float) -> set[int]:
    """Grey levels inside the drawn screen of a one-cell grid, as saved at ``dpi``."""
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., 0]
    (ax,) = fig.axes
    box = ax.get_window_extent()
    height = pixels.shape[0]
    top, bottom = int(height - box.y1) + 2, int(height - box.y0) - 2
    inner = pixels[top:bottom, int(box.x0) + 2 : int(box.x1) - 2]
    return set(np.unique(inner).tolist())


def one_cell(monkeypatch=None, interpolation=None):
    if interpolation is not None:
        monkeypatch.setattr(table_module, "INTERPOLATION", interpolation)
    return recall_grid({0: checkerboard()}, flat_layout([0]), cell_size=0.5)


def test_a_sharp_screen_stays_sharp_when_saved(monkeypatch):
    # 32 pixels drawn 1.5x: nearest keeps pure black and white; smoothing (the negative
    # control, the old "antialiased") invents greys, so the test can tell them apart
    assert rendered_levels(one_cell(), dpi=96) <= {0, 255}
    smoothed = rendered_levels(one_cell(monkeypatch, "antialiased"), dpi=96)
    assert len(smoothed - {0, 255}) > 3


def test_mark_words_too_long_for_a_cell_are_hyphenated_not_shrunk():
    fig = recall_grid(
        {0: checkerboard()}, flat_layout([0, 1]), unseen={1: "unreachable"}, cell_size=0.45
    )
    (ax,) = [ax for ax in fig.axes if ax.get_label() == "cell 0 1"]
    (text,) = ax.texts
    assert text.get_fontsize() >= 8 and "-\n" in text.get_text()


# ---------------------------------------------------------------------- latent pictures
def latent_points(k: int = 5, per_state: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), per_state)
    means = rng.normal(0, 0.3, (len(labels), k + 3))
    means[np.arange(len(labels)), labels] += 6.0
    return means, labels


def test_state_coordinates_give_the_distance_to_the_own_prior_exactly():
    means, labels = latent_points()
    along, off = state_coordinates(means, labels, 5)
    prior = np.zeros((len(labels), 5))
    prior[np.arange(len(labels)), labels] = 6.0
    exact = np.linalg.norm(means[:, :5] - prior, axis=1)
    np.testing.assert_allclose(np.hypot(along - 6.0, off), exact)


def test_latent_by_state_draws_every_state_with_its_encodings_and_prior():
    means, labels = latent_points(k=5, per_state=4)
    means[0, 1] = 6.0  # one encoding of state 0 sits on state 1's axis: outside its ball
    fig = latent_by_state(means, labels, lam=6.0, num_states=5, keys=list("abcde"))
    assert len(fig.axes) == 5
    for index, ax in enumerate(fig.axes):
        collections = [c for c in ax.collections if isinstance(c, PathCollection)]
        points = [c for c in collections if len(c.get_offsets()) == 4]
        assert len(points) == 1  # this state's 4 encodings
        priors = [tuple(c.get_offsets()[0]) for c in collections if len(c.get_offsets()) == 1]
        assert sorted(priors) == [(0.0, 6.0), (6.0, 0.0)]  # its own prior, the others'
        others = [c.get_zorder() for c in collections if c is not points[0]]
        assert points[0].get_zorder() > max(others)
        assert ax.get_title().startswith("abcde"[index])
    assert fig.axes[0].get_title().endswith("3/4 in 3σ")
    assert fig.axes[1].get_title().endswith("4/4 in 3σ")


def test_latent_by_state_places_panels_by_the_layout():
    keys = [("p", 0), ("p", 1), ("q", 0), ("q", 1)]
    layout = Layout.from_keys(keys, row_of=lambda k: k[1], col_of=lambda k: k[0])
    means, labels = latent_points(k=4, per_state=2)
    fig = latent_by_state(means, labels, lam=6.0, num_states=4, keys=keys, layout=layout)
    where = {
        ax.get_title().split("\n")[0]: (
            ax.get_subplotspec().rowspan.start,
            ax.get_subplotspec().colspan.start,
        )
        for ax in fig.axes
    }
    assert where == {str(k): layout.cells[k] for k in keys}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_states": 9}, "fewer than"),
        ({"num_states": 5, "keys": list("abc")}, "keys has 3"),
        ({"num_states": 5, "layout": flat_layout(range(5))}, "pass keys"),
    ],
)
def test_latent_by_state_rejects_bad_input(kwargs, match):
    means, labels = latent_points()
    with pytest.raises(InvalidValueError, match=match):
        latent_by_state(means, labels, lam=6.0, **kwargs)


def test_latent_scatter_draws_priors_hollow_under_the_encodings():
    means, labels = latent_points(k=5)
    prior = np.zeros((5, means.shape[1]))
    prior[np.arange(5), np.arange(5)] = 6.0
    fig = latent_scatter(means, labels, prior)
    (ax,) = fig.axes
    points, priors = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points.get_offsets()) == len(means) and len(priors.get_offsets()) == 5
    assert (priors.get_facecolors()[:, 3] == 0).all()  # hollow: what is inside shows
    assert points.get_zorder() > priors.get_zorder()
