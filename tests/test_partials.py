from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from kmeans_spark.blocks import squared_norms
from kmeans_spark.partials import ClusterTotals, partial_sums


def test_partials_equal_direct_sums() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (500, 784)).astype(np.uint8)
    true_labels = rng.integers(-1, 10, 500).astype(np.int8)
    assigned = rng.integers(0, 6, 500).astype(np.int32)
    assigned[assigned == 4] = 5  # cluster 4 absent from this block
    previous = rng.integers(0, 6, 500).astype(np.int32)
    totals = ClusterTotals.from_partials(
        6, partial_sums(pixels, squared_norms(pixels), true_labels, assigned, previous)
    )
    for j in range(6):
        members = assigned == j
        assert_array_equal(totals.sums[j], pixels[members].astype(np.int64).sum(axis=0))
        assert totals.counts[j] == members.sum()
        assert totals.sq_norms[j] == (pixels[members].astype(np.int64) ** 2).sum()
        assert totals.moved[j] == (members & (previous != j)).sum()
        known = members & (true_labels >= 0)
        assert_array_equal(totals.label_counts[j], np.bincount(true_labels[known], minlength=10))
    assert totals.counts[4] == 0


def test_first_pass_counts_every_point_as_moved() -> None:
    pixels = np.ones((5, 784), dtype=np.uint8)
    parts = partial_sums(
        pixels,
        squared_norms(pixels),
        np.zeros(5, np.int8),
        np.array([0, 0, 1, 1, 1], np.int32),
        None,
    )
    totals = ClusterTotals.from_partials(2, parts)
    assert_array_equal(totals.moved, [2, 3])


def test_inertia_from_totals_equals_direct_computation() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (200, 784)).astype(np.uint8)
    centroids = rng.random((3, 784)) * 255
    assigned = rng.integers(0, 3, 200).astype(np.int32)
    totals = ClusterTotals.from_partials(
        3, partial_sums(pixels, squared_norms(pixels), np.zeros(200, np.int8), assigned, None)
    )
    direct = ((pixels - centroids[assigned]) ** 2).sum()
    assert_allclose(totals.inertia(centroids), direct, rtol=1e-12)
