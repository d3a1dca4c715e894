from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from kmeans_spark.blocks import squared_norms
from kmeans_spark.partials import ClusterTotals, partial_changes, partial_sums


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


def test_changes_added_to_the_previous_totals_give_the_new_totals() -> None:
    rng = np.random.default_rng(6)
    pixels = rng.integers(0, 256, (300, 784)).astype(np.uint8)
    norms = squared_norms(pixels)
    true_labels = rng.integers(-1, 10, 300).astype(np.int8)
    before = rng.integers(0, 7, 300).astype(np.int32)
    after = before.copy()
    moving = rng.choice(300, 40, replace=False)
    after[moving] = rng.integers(0, 8, 40)  # cluster 7 is new, some clusters lose points
    old = ClusterTotals.from_partials(8, partial_sums(pixels, norms, true_labels, before, None))
    expected = ClusterTotals.from_partials(
        8, partial_sums(pixels, norms, true_labels, after, before)
    )
    changes = partial_changes(pixels, norms, true_labels, after, before)
    updated = old.with_changes(changes)
    for field in ("sums", "counts", "sq_norms", "moved", "label_counts"):
        assert_array_equal(getattr(updated, field), getattr(expected, field))
    moved = after != before
    changed = set(after[moved].tolist()) | set(before[moved].tolist())
    assert {cluster for cluster, _ in changes} == changed


def test_no_moves_no_changes() -> None:
    pixels = np.zeros((3, 784), dtype=np.uint8)
    labels = np.array([0, 1, 1], dtype=np.int32)
    norms = squared_norms(pixels)
    assert partial_changes(pixels, norms, np.zeros(3, np.int8), labels, labels) == []
