"""The pieces of the judge's figures: pixel distances, k-NN manifolds, FID and KID."""

from __future__ import annotations

import numpy as np
import pytest

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.evaluation.distances import (
    FLOOR,
    level_rows,
    mean_pairwise_rms,
    nearest_rms,
    nearest_rms_pruned,
    pooled_rows,
    rms_distances,
)
from man_rl.evaluation.manifold import fid, kid, knn_radii, manifold_figures, precision_recall


def frames(n, shape=(7, 5, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def test_rms_distances_are_pixel_rms_in_unit_range():
    a, b = frames(4), frames(6, seed=1)
    expected = np.sqrt(((a[:, None] / 255.0 - b[None] / 255.0) ** 2).mean(axis=(2, 3, 4)))
    assert np.allclose(rms_distances(a, b), expected)
    black, white = np.zeros((1, 3, 3), np.uint8), np.full((1, 3, 3), 255, np.uint8)
    assert rms_distances(black, white)[0, 0] == pytest.approx(1.0)
    one_level = black + np.uint8(1)
    assert rms_distances(black, one_level)[0, 0] == pytest.approx(FLOOR)
    assert nearest_rms(a, np.concatenate([b, a[:1]]))[0] == 0.0  # exact
    with pytest.raises(InvalidTypeError, match="uint8"):
        level_rows(a.astype(np.float32))
    with pytest.raises(InvalidValueError, match="different sizes"):
        rms_distances(a, frames(2, (3, 3)))
    with pytest.raises(InvalidValueError, match="reference"):
        nearest_rms(a, b[:0])


def test_mean_pairwise_rms():
    a = frames(5)
    d = rms_distances(a, a)
    assert mean_pairwise_rms(a) == pytest.approx(d[~np.eye(5, dtype=bool)].mean())
    assert mean_pairwise_rms(a[:1]) == 0.0
    assert mean_pairwise_rms(np.repeat(a[:1], 4, 0)) == 0.0


@pytest.mark.parametrize("shape", [(13, 11, 3), (40, 40), (3, 30, 1)])
def test_pooled_rows_bound_the_distance_from_below(shape):
    a, b = frames(20, shape), frames(15, shape, seed=1)
    bound = np.sqrt(
        np.maximum(((pooled_rows(a)[:, None] - pooled_rows(b)[None]) ** 2).mean(axis=2), 0.0)
    )
    assert (bound <= rms_distances(a, b) + 1e-6).all()


def test_pruned_nearest_search_is_exact_under_the_threshold():
    a, b = frames(12), frames(40, seed=1)
    near = b.copy()
    near[:12] = a
    near[3, 0, 0, 0] ^= 1  # one pixel, one level: still under the floor
    near[5] = np.clip(a[5].astype(int) + 9, 0, 255)  # far over the floor
    got = nearest_rms_pruned(a, near, FLOOR)
    brute = nearest_rms(a, near)
    copies = brute < FLOOR
    assert np.array_equal(np.isfinite(got), copies)
    assert np.allclose(got[copies], brute[copies], atol=1e-6)
    assert not copies[5] and copies[3]
    assert np.isinf(nearest_rms_pruned(a, b[:0], FLOOR)).all()


def test_knn_radii_and_the_cap_between_labels():
    points = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    assert knn_radii(points, 1).tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert knn_radii(points, 2).tolist() == [2.0, 1.0, 2.0, 8.0, 9.0]
    capped = knn_radii(points, 2, labels=np.array([0, 0, 1, 1, 1]))
    assert capped.tolist() == [1.0, 0.5, 0.5, 4.5, 5.0]
    assert knn_radii(points[:1], 3).tolist() == [0.0]
    assert knn_radii(points[:2], 3).tolist() == [1.0, 1.0]  # fewer than k others: farthest


def test_precision_and_recall_catch_outliers_and_collapse():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 8))
    same = rng.normal(size=(300, 8))
    p, r = precision_recall(real, same)
    assert p > 0.8 and r > 0.8
    outliers = rng.normal(6.0, 1.0, size=(300, 8))
    assert precision_recall(real, outliers)[0] == 0.0
    collapsed = np.repeat(real[:1], 300, axis=0)
    p, r = precision_recall(real, collapsed)
    assert p == 1.0 and r < 0.05
    with pytest.raises(InvalidValueError, match="k must"):
        precision_recall(real, same, k=0)
    with pytest.raises(InvalidValueError, match="need real and generated"):
        precision_recall(real, same[:0])


def test_precision_with_one_point_per_state_needs_the_cap():
    # ten states of one screen each: uncapped balls span the gaps and take in anything
    rng = np.random.default_rng(0)
    real = rng.normal(size=(10, 16)) * 5
    labels = np.arange(10)
    between = real.mean(0, keepdims=True) + rng.normal(size=(20, 16))
    assert precision_recall(real, between)[0] > 0.5
    assert precision_recall(real, between, real_labels=labels)[0] == 0.0
    near = real + rng.normal(size=real.shape) * 0.1
    assert precision_recall(real, near, real_labels=labels, generated_labels=labels) == (1.0, 1.0)


def test_coverage_is_untouched_by_tight_clusters_where_recall_is_not():
    # ten one-screen states; each state's samples are tight around a point a bit off it
    rng = np.random.default_rng(0)
    real, labels = rng.normal(size=(10, 16)) * 5, np.arange(10)
    offset = real + rng.normal(size=real.shape) * 0.5
    samples = np.repeat(offset, 10, axis=0) + rng.normal(size=(100, 16)) * 0.01
    figures = manifold_figures(
        real, samples, real_labels=labels, generated_labels=np.repeat(labels, 10)
    )
    assert figures.precision == 1.0 and figures.coverage == 1.0 and figures.recall == 0.0
    collapsed = np.repeat(real[:1], 10, axis=0)
    assert manifold_figures(real, collapsed, real_labels=labels).coverage == pytest.approx(0.1)


def test_fid_and_kid():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(500, 6))
    assert fid(real, real) == pytest.approx(0.0, abs=1e-6)
    shifted = real + 2.0
    assert fid(real, shifted) == pytest.approx(4.0 * 6, rel=1e-6)  # |mean gap|^2
    assert fid(real, real * 2.0) == pytest.approx(6 * (1 - 2) ** 2 * np.var(real, ddof=1), rel=0.1)
    same = rng.normal(size=(500, 6))
    assert abs(kid(real, same, np.random.default_rng(0))) < 0.05
    assert kid(real, shifted, np.random.default_rng(0)) > 1.0
    with pytest.raises(InvalidValueError):
        fid(real[:1], same)
    with pytest.raises(InvalidValueError):
        kid(real[:1], same, np.random.default_rng(0))
