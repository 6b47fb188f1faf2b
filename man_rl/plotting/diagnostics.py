"""Diagnostic figures: training curves, class balance of the memory, Type B's latent space."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from man_rl.errors import EmptyMemoryError, InvalidTypeError, InvalidValueError
from man_rl.plotting._common import check_mapping, state_colors

if TYPE_CHECKING:
    from man_rl.stm.memory import ShortTermMemory

_TERM_ORDER = ("loss", "reconstruction", "kl", "root")
Projection = Literal["auto", "pca", "ring"]


def training_curves(
    history: Mapping[str, Sequence[float]], *, title: str | None = "Training losses"
) -> Figure:
    """One panel per loss term against ``history["step"]`` (or the update index).

    Each panel shows the raw values faintly and a running mean boldly; the y axis is
    logarithmic when every finite value of the term is positive. Non-finite values are left out.
    A term that was 0 at every step (one that is off, as Type A's ``recognition`` by default)
    gets no panel; the figure's footer names it.

    Args:
        history: ``"step"`` plus one list per loss term (``"loss"``, ``"reconstruction"``,
            ``"kl"``, ``"root"``, ...), all of one length, as ``fit`` returns it.
        title: figure title.
    """
    check_mapping(history, "history")
    terms = [k for k in history if k != "step"]
    terms.sort(key=lambda k: _TERM_ORDER.index(k) if k in _TERM_ORDER else len(_TERM_ORDER))
    if not terms:
        raise InvalidValueError(
            f"history has no loss term (keys: {list(history)}); pass e.g. "
            "{'step': [...], 'loss': [...]}"
        )
    values = {k: _series(history[k], f"history[{k!r}]") for k in terms}
    lengths = {k: len(v) for k, v in values.items()}
    length = lengths[terms[0]]
    if "step" in history:
        steps = _series(history["step"], "history['step']")
        lengths["step"] = len(steps)
    else:
        steps = np.arange(length, dtype=float)
    if len(set(lengths.values())) > 1:
        raise InvalidValueError(f"every list in history must have one length, got {lengths}")
    if length == 0:
        raise InvalidValueError("history is empty: train for at least one step first")
    off = [k for k in terms if k != "loss" and not np.any(values[k])]
    terms = [k for k in terms if k not in off]

    ncols = min(len(terms), 2 if len(terms) == 4 else 3)
    nrows = math.ceil(len(terms) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 2.9 * nrows + (0.4 if title else 0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    window = max(1, length // 25)
    for ax, term, color in zip(axes, terms, state_colors(len(terms)), strict=False):
        y = values[term]
        finite = np.isfinite(y)
        ax.plot(
            steps[finite],
            y[finite],
            color=color,
            alpha=0.35 if window > 1 else 1.0,
            linewidth=0.8,
            label="per update",
        )
        if window > 1 and finite.sum() >= window:
            kernel = np.ones(window) / window
            smooth = np.convolve(y[finite], kernel, mode="valid")
            ax.plot(
                steps[finite][window - 1 :],
                smooth,
                color=color,
                linewidth=1.8,
                label=f"mean of {window}",
            )
            ax.legend(fontsize=7, loc="best", frameon=False)
        if finite.any() and (y[finite] > 0).all():
            ax.set_yscale("log")
        ax.set_title(term, fontsize=10)
        ax.set_ylabel(term + (" (log)" if ax.get_yscale() == "log" else ""), fontsize=8)
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(which="both", labelsize=7.5)
    for ax in axes[: len(terms)][-ncols:]:
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelbottom=True)
    for ax in axes[len(terms) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    if off:
        fig.supxlabel(f"off (0 at every step): {', '.join(off)}", fontsize=8, color="0.4")
    return fig


def class_balance(
    counts: Mapping[Hashable, int],
    sampled_balanced: Mapping[Hashable, int],
    sampled_plain: Mapping[Hashable, int] | None = None,
    *,
    sort: bool = False,
    title: str | None = "Frames per state: held vs drawn",
) -> Figure:
    """Each state's share of the frames held, and of the frames drawn for training.

    The class-imbalance picture of the paper's section 3.1: common states hold many frames,
    yet balanced sampling draws every state about equally often (the dashed line is
    ``1 / states``); plain sampling follows the held shares.

    Args:
        counts: frames held per state (``ShortTermMemory.counts()``).
        sampled_balanced: frames drawn per state by balanced sampling.
        sampled_plain: frames drawn per state by plain (uniform over frames) sampling.
        sort: order states by frames held, most first (default: the order of ``counts``).
        title: figure title.
    """
    series = {"held": _counts(counts, "counts", None)}
    keys = list(series["held"])
    if not keys:
        raise InvalidValueError("counts is empty: the memory holds no state yet")
    if sort:
        keys.sort(key=lambda key: -series["held"][key])
    series["balanced draws"] = _counts(sampled_balanced, "sampled_balanced", keys)
    if sampled_plain is not None:
        series["plain draws"] = _counts(sampled_plain, "sampled_plain", keys)

    k = len(keys)
    width_in = min(18.0, max(6.0, 0.09 * k * len(series) + 1.5))
    fig = Figure(figsize=(width_in, 3.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(k)
    bar = 0.8 / len(series)
    colors = {"held": "#7f7f7f", "balanced draws": "#1f77b4", "plain draws": "#ff7f0e"}
    for i, (name, count) in enumerate(series.items()):
        total = sum(count.values())
        share = np.array([count[key] for key in keys], dtype=float) / max(total, 1) * 100
        ax.bar(
            x - 0.4 + bar * (i + 0.5),
            share,
            width=bar,
            color=colors[name],
            label=f"{name} ({total:,} frames)",
        )
    ax.axhline(100 / k, color="black", linestyle="--", linewidth=0.8, label="equal share")
    ax.set_ylabel("share of frames (%)")
    ax.set_xlabel("state")
    step = max(1, math.ceil(k / 60))
    ax.set_xticks(
        x[::step], [str(key) for key in keys][::step], rotation=90, fontsize=7 if k > 20 else 8
    )
    ax.set_xlim(-0.6, k - 0.4)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def class_balance_from_memory(
    stm: ShortTermMemory,
    *,
    draws: int = 10_000,
    rng: np.random.Generator | int | None = 0,
    sort: bool = False,
    title: str | None = "Frames per state: held vs drawn",
) -> Figure:
    """:func:`class_balance` of a short-term memory, drawing the samples itself.

    ``draws`` labels are sampled balanced and again plain with ``rng`` (a Generator, or a seed;
    the default seed 0 makes the picture reproducible). Only labels are tallied.
    """
    counts = stm.counts()
    if not counts or len(stm) == 0:
        raise EmptyMemoryError("the short-term memory is empty; add frames before plotting it")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise InvalidValueError(f"draws must be an int >= 1, got {draws!r}")
    rng = np.random.default_rng(rng)
    keys = stm.keys
    drawn = {}
    for balanced in (True, False):
        tally = np.zeros(len(keys), dtype=np.int64)
        left = draws
        while left:  # in chunks: only the labels are needed, not a huge frame batch
            chunk = min(left, 4096)
            tally += np.bincount(
                stm.sample(chunk, balanced=balanced, rng=rng).labels, minlength=len(keys)
            )
            left -= chunk
        drawn[balanced] = dict(zip(keys, tally.tolist(), strict=True))
    return class_balance(counts, drawn[True], drawn[False], sort=sort, title=title)


def latent_scatter(
    means: np.ndarray,
    labels: np.ndarray,
    prior_means: np.ndarray | None = None,
    label_names: Sequence[str] | None = None,
    *,
    prior_std: float = 1.0,
    projection: Projection = "auto",
    circles: bool | None = None,
    title: str | None = "Latent space (2-D projection)",
) -> Figure:
    """Encoder means in 2-D, coloured by state, around each state's prior mean.

    ``projection="pca"`` fits a PCA (numpy SVD) on the prior means and the points together.
    lambda-hot prior means are all equally far apart, so PCA's choice among them is arbitrary
    and some states overlap; ``"ring"`` instead takes the orthonormal 2-D view that puts the
    prior means closest to a regular polygon (orthogonal Procrustes), giving each state its
    own direction. Both views are orthonormal, so a prior ``N(lambda c_i, prior_std^2 I)``
    projects to a circle: each prior mean is a hollow ring in the state's colour (the
    encodings are drawn on top, so both stay visible) with its 3-sigma circle (dashed).
    With at most 12 states a legend names them. In 2-D no linear view keeps many states
    apart; expect overlap beyond ~10 states, and use
    :func:`~man_rl.plotting.latent.latent_by_state` (one panel per state) to see each.

    Args:
        means: ``[N, D]`` latent means (Type B's encoder output for N screens).
        labels: ``[N]`` state index of each point (indexes ``prior_means`` rows).
        prior_means: ``[K, D]`` prior mean per state (``lambda * one-hot``), optional.
        label_names: a name per state index (default ``"state i"``).
        prior_std: standard deviation of each prior (1 in the paper).
        projection: ``"pca"``, ``"ring"`` (needs ``prior_means`` of >= 3 states), or
            ``"auto"``: ring when it can, else PCA.
        circles: draw the 3-sigma circles (default: with at most 12 states).
        title: figure title.
    """
    means = _matrix(means, "means")
    labels = np.asarray(labels)
    if labels.shape != (len(means),) or not np.issubdtype(labels.dtype, np.integer):
        raise InvalidValueError(
            f"labels must be an int array of shape ({len(means)},) (one state index per "
            f"point), got {labels.dtype} {labels.shape}"
        )
    if labels.min() < 0:
        raise InvalidValueError(f"labels must be >= 0, got {labels.min()}")
    k = int(labels.max()) + 1
    if prior_means is not None:
        prior_means = _matrix(prior_means, "prior_means")
        if prior_means.shape[1] != means.shape[1]:
            raise InvalidValueError(
                f"prior_means has {prior_means.shape[1]} dimensions but means has "
                f"{means.shape[1]}; both live in the same latent space"
            )
        if k > len(prior_means):
            raise InvalidValueError(
                f"labels go up to {k - 1} but prior_means has only {len(prior_means)} rows"
            )
        k = len(prior_means)
    if not prior_std > 0:
        raise InvalidValueError(f"prior_std must be > 0, got {prior_std}")
    if label_names is not None:
        if isinstance(label_names, str) or len(label_names) < k:
            raise InvalidValueError(f"label_names needs a name for each of the {k} states")
        names = [str(n) for n in label_names]
    else:
        names = [f"state {i}" for i in range(k)]

    if circles is None:
        circles = k <= 12
    center, basis, axis_names = _projection(means, prior_means, projection)
    xy = (means - center) @ basis

    fig = Figure(figsize=(7.2 if k <= 12 else 6.2, 6.0), layout="constrained")
    ax = fig.add_subplot()
    colors = state_colors(k)
    size = float(np.clip(3000 / len(means), 8, 30))
    # the encodings on top of their priors' outlines, so neither hides the other
    ax.scatter(xy[:, 0], xy[:, 1], c=colors[labels], s=size, alpha=0.6, linewidths=0, zorder=4)
    if prior_means is not None:
        prior_xy = (prior_means - center) @ basis
        for i, (px, py) in enumerate(prior_xy if circles else ()):
            ax.add_patch(
                Circle(
                    (px, py),
                    3 * prior_std,
                    fill=False,
                    linestyle="--",
                    linewidth=0.9,
                    edgecolor=colors[i],
                    alpha=0.8,
                    zorder=1,
                )
            )
        ax.scatter(
            prior_xy[:, 0],
            prior_xy[:, 1],
            marker="o",
            s=110 if k <= 12 else 60,
            facecolors="none",
            edgecolors=colors,
            linewidths=1.6,
            zorder=3,
        )
    if k <= 12:
        dot = {"linestyle": "", "markersize": 6}
        handles = [
            Line2D([], [], marker="o", color=colors[i], label=names[i], **dot) for i in range(k)
        ]
        if prior_means is not None:
            ring = " (3σ circle dashed)" if circles else ""
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    color="white",
                    markerfacecolor="none",
                    markeredgecolor="black",
                    label="prior mean (ring)" + ring,
                    **dot,
                )
            )
        ax.legend(
            handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.grid(True, alpha=0.25)
    if title:
        ax.set_title(title, fontsize=11)
    return fig


# ---------------------------------------------------------------------- helpers
def _projection(
    means: np.ndarray, prior_means: np.ndarray | None, method: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Centre, orthonormal ``[D, 2]`` basis and axis names of the 2-D view."""
    dims = means.shape[1]
    if method not in ("auto", "pca", "ring"):
        raise InvalidValueError(f"projection must be 'auto', 'pca' or 'ring', got {method!r}")
    if method == "auto":
        method = "ring" if prior_means is not None and len(prior_means) >= 3 else "pca"
    if dims <= 2:
        return np.zeros(dims), np.eye(dims, 2), ["z1", "z2"]
    if method == "ring":
        if prior_means is None or len(prior_means) < 3:
            raise InvalidValueError("projection='ring' needs prior_means of at least 3 states")
        center = prior_means.mean(axis=0)
        angles = 2 * np.pi * np.arange(len(prior_means)) / len(prior_means)
        ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        # Orthogonal Procrustes: the orthonormal 2-D view closest to a ring of prior means.
        u, _, vt = np.linalg.svd((prior_means - center).T @ ring, full_matrices=False)
        return center, u @ vt, ["ring axis 1", "ring axis 2"]
    points = means if prior_means is None else np.concatenate([prior_means, means])
    center = points.mean(axis=0)
    _, sing, vt = np.linalg.svd(points - center, full_matrices=False)
    var = sing**2 / max(float((sing**2).sum()), 1e-12) * 100
    return center, vt[:2].T, [f"PC{i + 1} ({var[i]:.0f}% of variance)" for i in range(2)]


def _series(value: object, what: str) -> np.ndarray:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise InvalidTypeError(f"{what} must be a list of numbers, got {type(value).__name__}")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidTypeError(f"{what} must hold numbers only") from None
    if array.ndim != 1:
        raise InvalidValueError(f"{what} must be a flat list, got shape {array.shape}")
    return array


def _counts(value: object, what: str, keys: list[Hashable] | None) -> dict[Hashable, int]:
    check_mapping(value, what)
    out = {}
    for key, n in value.items():  # type: ignore[attr-defined]
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InvalidValueError(f"{what}[{key!r}] must be a count (int >= 0), got {n!r}")
        out[key] = int(n)
    if keys is None:
        return out
    extra = [key for key in out if key not in keys]
    if extra:
        raise InvalidValueError(
            f"{what} has states that counts lacks: {extra[:5]}; count every state in counts"
        )
    return {key: out.get(key, 0) for key in keys}


def _matrix(value: object, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise InvalidTypeError(f"{what} must be a numpy array, got {type(value).__name__}")
    if value.ndim != 2 or value.shape[0] < 1 or value.shape[1] < 1:
        raise InvalidValueError(f"{what} must have shape [N, D] with N, D >= 1, got {value.shape}")
    if not np.issubdtype(value.dtype, np.number) or not np.isfinite(value).all():
        raise InvalidValueError(f"{what} must hold finite numbers")
    return value.astype(float)
