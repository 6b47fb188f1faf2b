"""Figures of two sets of feature vectors: k-NN precision, recall, coverage, FID and KID.

- **precision / recall** (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
  for Assessing Generative Models"): each set's manifold is the union of balls around its
  points, each ball reaching the point's ``k``-th nearest neighbour in its own set.
  Precision is the share of generated points inside the real manifold (are samples
  plausible?), recall the share of real points inside the generated manifold (do samples
  cover what is real?). Given each point's state, a ball is capped at half the distance to
  the nearest point of another state of its set (a departure from the paper, for sets with
  one screen per state: see :func:`manifold_figures`).
- **coverage** (Naeem et al. 2020): the share of real points whose own ball holds a sample;
  unlike recall, untouched by how tightly the samples of a state cluster.
- **FID**: the Fréchet distance of Gaussians fitted to both sets,
  ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``.
- **KID**: the unbiased squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets (Bińkowski et al. 2018).

FID and KID are usually computed in the features of an ImageNet Inception network. Here
they are computed in whatever features are given, which for :mod:`man_rl.evaluation` is the
judge's hidden layer: the offline equivalent, needing no download, with values comparable
only between samples judged by the same judge.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 4))
    >>> same, far = rng.normal(size=(200, 4)), rng.normal(5.0, 1.0, size=(200, 4))
    >>> p, r = precision_recall(real, same)
    >>> bool(p > 0.8 and r > 0.8), precision_recall(real, far)
    (True, (0.0, 0.0))
    >>> bool(fid(real, same) < 1.0 < fid(real, far))
    True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from man_rl.errors import InvalidValueError

_ROWS = 1024


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``[len(a), len(b)]`` of float rows (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    squared = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None]
    return np.sqrt(np.maximum(squared, 0.0))


def knn_radii(points: np.ndarray, k: int, labels: np.ndarray | None = None) -> np.ndarray:
    """Distance of each point to its ``k``-th nearest other point of the set.

    With ``k`` or fewer other points, the farthest one; a lone point has radius 0. With
    ``labels``, each radius is at most half the distance to the nearest point of another
    label, so balls of different labels never overlap.
    """
    n = len(points)
    if n <= 1:
        return np.zeros(n)
    kth = min(k, n - 1)
    radii = np.empty(n)
    for start in range(0, n, _ROWS):
        d = _distances(points[start : start + _ROWS], points)
        # the point itself is at distance 0: the k-th other point is the (k+1)-th smallest
        radii[start : start + _ROWS] = np.partition(d, kth, axis=1)[:, kth]
        if labels is not None:
            other = labels[start : start + _ROWS, None] != labels[None]
            gap = np.where(other, d, np.inf).min(axis=1)
            radii[start : start + _ROWS] = np.minimum(radii[start : start + _ROWS], gap / 2)
    return radii


def _covered(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each point lies in some ball ``(centres[j], radii[j])``."""
    inside = np.zeros(len(points), bool)
    for start in range(0, len(points), _ROWS):
        d = _distances(points[start : start + _ROWS], centres)
        inside[start : start + _ROWS] = (d <= radii[None]).any(axis=1)
    return inside


class ManifoldFigures(NamedTuple):
    """What :func:`manifold_figures` returns (each a share in ``[0, 1]``)."""

    precision: float
    recall: float
    coverage: float


def manifold_figures(
    real: np.ndarray,
    generated: np.ndarray,
    k: int = 3,
    *,
    real_labels: np.ndarray | None = None,
    generated_labels: np.ndarray | None = None,
    tolerance: float | None = None,
) -> ManifoldFigures:
    """k-NN precision, recall and coverage of ``generated`` against ``real`` (rows: points).

    ``coverage`` (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
    Models") is the share of real points whose own ball holds a generated point. Unlike
    recall it does not depend on how tightly the samples cluster: samples of one state all
    a hair's breadth from its one real screen have recall 0 (their balls are too small to
    reach it) but coverage 1.

    With labels (the state of each point), every ball is capped at half the distance to the
    nearest point of another state of its set (see :func:`knn_radii`). Without the cap, a
    set with few distinct points per state (one screen per state) has balls as wide as the
    gaps between states, which hold nearly anything. ``tolerance`` widens every ball
    (default: ``1e-5`` x the real points' RMS norm), so that copies of a point computed in
    another batch, equal but for float rounding, count as inside.
    """
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    if len(real) == 0 or len(generated) == 0:
        raise InvalidValueError(
            f"precision and recall need real and generated points, got {len(real)} and "
            f"{len(generated)}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidValueError(f"k must be an int >= 1, got {k!r}")
    if tolerance is None:
        tolerance = 1e-5 * float(np.sqrt((real * real).sum(1).mean()) + 1e-12)
    real_radii = knn_radii(real, k, real_labels) + tolerance
    generated_radii = knn_radii(generated, k, generated_labels) + tolerance
    covered = np.zeros(len(real), bool)
    for start in range(0, len(real), _ROWS):
        d = _distances(real[start : start + _ROWS], generated)
        covered[start : start + _ROWS] = d.min(axis=1) <= real_radii[start : start + _ROWS]
    return ManifoldFigures(
        precision=float(_covered(generated, real, real_radii).mean()),
        recall=float(_covered(real, generated, generated_radii).mean()),
        coverage=float(covered.mean()),
    )


def precision_recall(
    real: np.ndarray,
    generated: np.ndarray,
    k: int = 3,
    *,
    real_labels: np.ndarray | None = None,
    generated_labels: np.ndarray | None = None,
    tolerance: float | None = None,
) -> tuple[float, float]:
    """k-NN ``(precision, recall)`` of ``generated`` against ``real``.

    See :func:`manifold_figures` (which gives coverage too) for the arguments.
    """
    figures = manifold_figures(
        real,
        generated,
        k,
        real_labels=real_labels,
        generated_labels=generated_labels,
        tolerance=tolerance,
    )
    return figures.precision, figures.recall


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def fid(real: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to ``real`` and ``generated`` (>= 0)."""
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    if len(real) < 2 or len(generated) < 2:
        raise InvalidValueError(
            f"FID needs at least two points in each set, got {len(real)} and {len(generated)}"
        )
    mu_r, mu_g = real.mean(0), generated.mean(0)
    cov_r, cov_g = np.cov(real, rowvar=False), np.cov(generated, rowvar=False)
    root = _sqrtm_psd(cov_r)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cov_g @ root), 0.0, None)).sum()
    value = ((mu_r - mu_g) ** 2).sum() + np.trace(cov_r) + np.trace(cov_g) - 2.0 * cross
    return float(max(value, 0.0))


def kid(
    real: np.ndarray,
    generated: np.ndarray,
    rng: np.random.Generator,
    *,
    subsets: int = 10,
    subset_size: int = 1000,
) -> float:
    """Mean unbiased squared MMD (cubic polynomial kernel) over ``subsets`` random subsets.

    Each subset draws ``min(subset_size, len(real), len(generated))`` points of each set
    without replacement from ``rng``.
    """
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    m = min(subset_size, len(real), len(generated))
    if m < 2:
        raise InvalidValueError(
            f"KID needs at least two points in each set, got {len(real)} and {len(generated)}"
        )
    dims = real.shape[1]
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = generated[rng.choice(len(generated), m, replace=False)]
        kxx, kyy, kxy = ((a @ b.T / dims + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        off = m * (m - 1)
        values.append(
            (kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2.0 * kxy.mean()
        )
    return float(np.mean(values))


__all__ = ["ManifoldFigures", "fid", "kid", "knn_radii", "manifold_figures", "precision_recall"]
