"""Type B's latent space state by state: every state's encodings beside its own prior.

A 2-D projection of all states at once cannot keep many lambda-hot priors apart (they are
all equally far from each other), so :func:`latent_by_state` draws one small panel per
state instead, in coordinates where that state's recognition rule is exact:

- x: the encoding mean's coordinate on the state's own axis, ``mu_i`` (its prior mean sits
  at ``x = lam``);
- y: the distance off that axis within the latent's one-hot part,
  ``sqrt(sum_{j != i, j < K} mu_j**2)``.

The distance to the state's own prior mean, ``||mu[:K] - lam e_i||``, is exactly the
distance to ``(lam, 0)`` in this plane, so :meth:`~man_rl.ltm.type_b.TypeB.recognize`'s
3-sigma ball is the dashed circle of radius 3 around it, and every other state's prior mean
lands on the one point ``(0, lam)`` (grey ring). The panels share their axes.

Example:
    >>> import numpy as np
    >>> means = np.array([[6.0, 0, 0, 0.5], [5.5, 0.3, 0, 0], [0, 6.2, 0, 0], [0, 0, 6.0, 0]])
    >>> fig = latent_by_state(means, np.array([0, 0, 1, 2]), lam=6.0, num_states=3)
    >>> [" ".join(ax.get_title().split()) for ax in fig.axes]
    ['state 0 2/2 in 3σ', 'state 1 1/1 in 3σ', 'state 2 1/1 in 3σ']
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.layout import Layout
from man_rl.plotting._common import layout_key

_OWN = "#1f77b4"
_OTHER = "#7f7f7f"


def state_coordinates(
    means: np.ndarray, labels: np.ndarray, num_states: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(along, off)``: each mean's own-axis coordinate and its distance off that axis.

    Example:
        >>> along, off = state_coordinates(np.array([[5.0, 3.0, 4.0]]), np.array([0]), 3)
        >>> float(along[0]), float(off[0])
        (5.0, 5.0)
    """
    part = means[:, :num_states]
    along = part[np.arange(len(part)), labels]
    off = np.sqrt(np.maximum((part**2).sum(axis=1) - along**2, 0.0))
    return along, off


def _check(means: object, labels: object, num_states: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(means, np.ndarray) or means.ndim != 2:
        raise InvalidTypeError(
            f"means must be a numpy array [N, latent_dim] (Type B's encoder means), got "
            f"{getattr(means, 'shape', type(means).__name__)}"
        )
    if not np.isfinite(means).all():
        raise InvalidValueError("means must hold finite numbers")
    labels = np.asarray(labels)
    if labels.shape != (len(means),) or not np.issubdtype(labels.dtype, np.integer):
        raise InvalidValueError(
            f"labels must be an int array of shape ({len(means)},), one state index per mean"
        )
    if means.shape[1] < num_states:
        raise InvalidValueError(
            f"means have {means.shape[1]} dimensions, fewer than the {num_states} states: "
            "pass Type B's encoder means (latent_dim >= number of states)"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= num_states):
        raise InvalidValueError(f"labels must lie in 0..{num_states - 1}")
    return means.astype(float), labels


def latent_by_state(
    means: np.ndarray,
    labels: np.ndarray,
    *,
    lam: float,
    num_states: int,
    keys: Sequence[Hashable] | None = None,
    layout: Layout | None = None,
    radius: float = 3.0,
    title: str | None = "Encodings beside their own prior, state by state",
    panel_size: float = 1.15,
) -> Figure:
    """One panel per state: its encodings' means and its prior mean (see the module doc).

    Args:
        means: ``[N, latent_dim]`` encoder means of real screens (``TypeB.encode``).
        labels: ``[N]`` the state index of each (the model's class index).
        lam: the priors' distance from the origin (``model.config.lam``).
        num_states: ``K``, the number of states (the latent's one-hot part).
        keys: the state key of each index (panel titles; default ``"state i"``).
        layout: where each key's panel sits (e.g. the env's position x direction layout;
            needs ``keys``); default: a grid in index order.
        radius: the recognition radius drawn around the prior mean (3 sigma).
        title: figure title.
        panel_size: width of one panel in inches.

    Every state has a panel, with or without encodings; a panel's title counts the encodings
    inside ``radius`` of its prior mean.
    """
    means, labels = _check(means, labels, num_states)
    if layout is not None and keys is None:
        raise InvalidValueError("a layout places keys: pass keys too (the model's keys)")
    if keys is not None and len(keys) != num_states:
        raise InvalidValueError(f"keys has {len(keys)} entries for {num_states} states")
    names = [f"state {i}" for i in range(num_states)] if keys is None else [str(k) for k in keys]
    if layout is not None:
        place = {i: layout.cells[layout_key(layout, k, "keys")] for i, k in enumerate(keys)}
        rows, cols = layout.shape
    else:
        cols = min(num_states, max(1, math.ceil(math.sqrt(num_states * 2))))
        rows = math.ceil(num_states / cols)
        place = {i: divmod(i, cols) for i in range(num_states)}
    along, off = state_coordinates(means, labels, num_states)
    inside = np.hypot(along - lam, off) <= radius

    fig = Figure(figsize=(cols * panel_size + 0.8, rows * panel_size + 1.0), layout="constrained")
    grid = fig.add_gridspec(rows, cols)
    first = None
    low, high = -0.25 * lam, lam + radius + 0.5
    for index in range(num_states):
        row, col = place[index]
        ax = fig.add_subplot(grid[row, col], sharex=first, sharey=first)
        first = first or ax
        mine = labels == index
        for centre, color in (((lam, 0.0), _OWN), ((0.0, lam), _OTHER)):
            ax.add_patch(Circle(centre, radius, fill=False, ls="--", lw=0.8, ec=color, zorder=1))
        ax.scatter([0.0], [lam], marker="o", s=30, facecolors="none", edgecolors=_OTHER, zorder=2)
        ax.scatter([lam], [0.0], marker="o", s=40, facecolors="none", edgecolors=_OWN, lw=1.4)
        ax.scatter(along[mine], off[mine], s=9, c="#d62728", alpha=0.7, lw=0, zorder=4)
        counted = f"{int(inside[mine].sum())}/{int(mine.sum())} in 3σ"
        ax.set_title(f"{names[index]}\n{counted}", fontsize=8, linespacing=1.1)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=8, length=2)
        ax.label_outer()
    fig.supxlabel("own-axis coordinate mu_i (own prior at lam, blue ring)", fontsize=9)
    fig.supylabel("distance off own axis (other priors at lam, grey ring)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


__all__ = ["latent_by_state", "state_coordinates"]
