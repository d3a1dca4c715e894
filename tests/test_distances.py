from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kmeans_spark.blocks import squared_norms
from kmeans_spark.distances import (
    PreparedCentroids,
    assign_batch,
    assign_nearest,
    assign_with_bounds,
    reference_sq_distance,
    sq_distances_to_assigned,
    update_assignment,
)


def brute_force(pixels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """argmin of the reference distance, ties to the smaller index, one pair at a time."""
    labels = []
    for row in pixels:
        distances = [reference_sq_distance(row, c) for c in centroids]
        labels.append(int(np.argmin(distances)))
    return np.array(labels)


def test_reference_distance_is_correctly_rounded() -> None:
    rng = np.random.default_rng(3)
    point = rng.integers(0, 256, 784).astype(np.uint8)
    centroid = rng.random(784) * 255
    pairs = zip(point, centroid, strict=True)
    exact = sum((Fraction(int(p)) - Fraction(float(c))) ** 2 for p, c in pairs)
    # fsum of rounded squares: within a few ulps of the exact rational value.
    assert math.isclose(reference_sq_distance(point, centroid), float(exact), rel_tol=1e-14)


def test_assign_nearest_matches_brute_force_on_random_digits() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (300, 784)).astype(np.uint8)
    centroids = rng.random((7, 784)) * 255
    labels = assign_nearest(pixels, squared_norms(pixels), PreparedCentroids.of(centroids), 64)
    assert_array_equal(labels, brute_force(pixels, centroids))


def test_exact_ties_go_to_the_smaller_index() -> None:
    pixels = np.zeros((3, 784), dtype=np.uint8)
    pixels[:, 0] = [0, 10, 20]
    centroids = np.zeros((3, 784))
    centroids[0, 0] = 15.0  # equidistant from 10 and 20 with centroid 2 for the points below
    centroids[1, 0] = 5.0
    centroids[2, 0] = 5.0  # a duplicate of centroid 1
    labels = assign_nearest(pixels, squared_norms(pixels), PreparedCentroids.of(centroids))
    # 0 -> 5 (centroid 1, tie with its duplicate 2); 10 -> tie 5 vs 15: smaller index 0;
    # 20 -> 15 (centroid 0).
    assert_array_equal(labels, [1, 0, 0])


def test_near_ties_that_float32_gets_wrong_are_rechecked() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (400, 784)).astype(np.uint8)
    base = rng.random((1, 784)) * 255
    # Centroids a hair apart: their float32 distances are dominated by rounding.
    centroids = np.vstack([base + 1e-6 * rng.standard_normal((1, 784)) for _ in range(4)])
    expected = brute_force(pixels, centroids)
    float32_only = np.argmin(
        (centroids.astype(np.float32) ** 2).sum(1)
        - 2 * (pixels.astype(np.float32) @ centroids.astype(np.float32).T),
        axis=1,
    )
    assert (float32_only != expected).any(), "the case must be hard for plain float32"
    labels = assign_nearest(pixels, squared_norms(pixels), PreparedCentroids.of(centroids))
    assert_array_equal(labels, expected)


def test_assignment_does_not_depend_on_chunking() -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (257, 784)).astype(np.uint8)
    prepared = PreparedCentroids.of(rng.random((5, 784)) * 255)
    norms = squared_norms(pixels)
    whole = assign_nearest(pixels, norms, prepared, 1000)
    for chunk in (1, 16, 100):
        assert_array_equal(assign_nearest(pixels, norms, prepared, chunk), whole)
    halves = np.concatenate(
        [
            assign_nearest(pixels[:100], norms[:100], prepared),
            assign_nearest(pixels[100:], norms[100:], prepared),
        ]
    )
    assert_array_equal(halves, whole)


def test_empty_block() -> None:
    pixels = np.zeros((0, 784), dtype=np.uint8)
    labels = assign_nearest(pixels, squared_norms(pixels), PreparedCentroids.of(np.ones((2, 784))))
    assert labels.shape == (0,)


def test_sq_distances_to_assigned() -> None:
    pixels = np.zeros((2, 784), dtype=np.uint8)
    pixels[0, :2] = [3, 4]
    pixels[1, 0] = 1
    centroids = np.zeros((2, 784))
    centroids[1, 0] = 2.0
    distances = sq_distances_to_assigned(pixels, np.array([0, 1]), centroids)
    np.testing.assert_allclose(distances, [25.0, 1.0])


def true_distances(pixels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    diff = pixels[:, None, :].astype(np.float64) - centroids[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def assert_bounds_hold(assignment, distances: np.ndarray, prepared: PreparedCentroids) -> None:
    """Upper bound >= own distance; each group's bound <= distance to its other centroids."""
    rows = np.arange(distances.shape[0])
    assert np.all(assignment.upper >= distances[rows, assignment.labels])
    others = distances.copy()
    others[rows, assignment.labels] = np.inf
    assert assignment.lower.shape == (distances.shape[0], prepared.groups)
    for group, start in enumerate(prepared.group_starts):
        stop = ([*prepared.group_starts[1:], prepared.k])[group]
        assert np.all(assignment.lower[:, group] <= others[:, start:stop].min(axis=1))


@pytest.mark.parametrize("step", [0.01, 1.0, 30.0])
def test_update_equals_full_assignment_and_bounds_hold(step) -> None:
    rng = np.random.default_rng(7)
    centers = rng.integers(0, 256, (6, 784))
    pixels = np.clip(centers[rng.integers(0, 6, 300)] + rng.normal(0, 40, (300, 784)), 0, 255)
    pixels = pixels.astype(np.uint8)
    norms = squared_norms(pixels)
    old = centers + rng.normal(0, 20, centers.shape)
    first = assign_with_bounds(pixels, norms, PreparedCentroids.of(old))
    new = old + rng.normal(0, step, old.shape)
    prepared = PreparedCentroids.of(new, previous=old)
    updated = update_assignment(pixels, norms, prepared, first)
    assert_array_equal(updated.labels, assign_nearest(pixels, norms, PreparedCentroids.of(new)))
    assert_bounds_hold(updated, true_distances(pixels, new), prepared)


def count_products(monkeypatch) -> list[tuple[int, int]]:
    """Record the shape (rows, centroids) of every float32 product."""
    import kmeans_spark.distances as distances

    shapes: list[tuple[int, int]] = []
    products = distances._float32_products

    def counting(rows, transposed):
        shapes.append((rows.shape[0], transposed.shape[1]))
        return products(rows, transposed)

    monkeypatch.setattr(distances, "_float32_products", counting)
    return shapes


def test_bounds_skip_rows_that_cannot_move(monkeypatch) -> None:
    rng = np.random.default_rng(8)
    pixels = rng.integers(0, 256, (200, 784)).astype(np.uint8)
    norms = squared_norms(pixels)
    old = pixels[:4].astype(np.float64)
    first = assign_with_bounds(pixels, norms, PreparedCentroids.of(old))
    shapes = count_products(monkeypatch)
    prepared = PreparedCentroids.of(old, previous=old)  # nothing moved
    updated = update_assignment(pixels, norms, prepared, first)
    assert sum(rows for rows, _ in shapes) <= 0.02 * 200
    assert_array_equal(updated.labels, first.labels)


def clustered_digits(seed: int, n: int = 400, centers: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middles = rng.integers(0, 256, (centers, 784))
    pixels = middles[rng.integers(0, centers, n)] + rng.normal(0, 40, (n, 784))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def test_batch_assignment_equals_each_model_alone() -> None:
    pixels = clustered_digits(9)
    norms = squared_norms(pixels)
    rng = np.random.default_rng(10)
    olds = [pixels[rng.choice(400, k, replace=False)].astype(np.float64) for k in (1, 3, 7, 20)]
    news = [
        old + rng.normal(0, step, old.shape)
        for old, step in zip(olds, (0, 0.5, 5, 60), strict=True)
    ]
    firsts = [assign_with_bounds(pixels, norms, PreparedCentroids.of(old)) for old in olds]
    prepared = [
        PreparedCentroids.of(new, previous=old) for new, old in zip(news, olds, strict=True)
    ]
    # Two models continue from a previous assignment, two start afresh.
    previous = [firsts[0], None, firsts[2], firsts[3]]
    batch = assign_batch(pixels, norms, prepared, previous, chunk_rows=97)
    for model, result in enumerate(batch):
        expected = brute_force(pixels, news[model])
        assert_array_equal(result.labels, expected)
        assert_bounds_hold(result, true_distances(pixels, news[model]), prepared[model])


def test_batch_shares_one_product_between_models(monkeypatch) -> None:
    pixels = clustered_digits(11, n=300)
    norms = squared_norms(pixels)
    models = [PreparedCentroids.of(pixels[:k].astype(np.float64)) for k in (2, 5, 9)]
    shapes = count_products(monkeypatch)
    batch = assign_batch(pixels, norms, models, [None, None, None], chunk_rows=200)
    assert shapes == [(200, 16), (100, 16)]  # per chunk, every row and all 16 centroids
    for result, model in zip(batch, models, strict=True):
        assert_array_equal(result.labels, assign_nearest(pixels, norms, model))


def test_batch_of_settled_models_recomputes_only_near_ties(monkeypatch) -> None:
    pixels = np.random.default_rng(12).integers(0, 256, (200, 784)).astype(np.uint8)
    norms = squared_norms(pixels)
    olds = [pixels[:k].astype(np.float64) for k in (3, 4)]
    firsts = [assign_with_bounds(pixels, norms, PreparedCentroids.of(old)) for old in olds]
    shapes = count_products(monkeypatch)
    prepared = [PreparedCentroids.of(old, previous=old) for old in olds]  # nothing moved
    batch = assign_batch(pixels, norms, prepared, firsts)
    # Only rows whose two nearest centroids lie within the bounds' error are redone.
    assert sum(rows for rows, _ in shapes) <= 0.02 * 400
    for result, first in zip(batch, firsts, strict=True):
        assert_array_equal(result.labels, first.labels)
