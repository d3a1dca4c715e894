"""Choosing the report's digits on Spark: seeded, partition-independent, only what is asked."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from support import blocks_from_arrays, embed, separated_digits

from kmeans_spark.hashing import STREAM_GALLERY, uniform_by_id
from kmeans_spark.report_data import (
    classified_sample,
    cluster_label_counts,
    confusion_examples,
    nearest_of_label,
    top_confusions,
)


def _nearest(pixels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    diffs = pixels[:, None, :].astype(np.float64) - centroids[None, :, :]
    return np.argmin((diffs**2).sum(axis=2), axis=1)


@pytest.fixture(scope="module")
def digits():
    """Three clusters; centroids labelled 3, 3, 8, so the 5s are classified as 3."""
    pixels, labels = separated_digits(per_class=40, seed=4)
    centroids = np.stack([pixels[labels == v].mean(axis=0) for v in (3, 5, 8)])
    return pixels, labels, centroids, np.array([3, 3, 8])


def test_top_confusions_by_count_then_labels() -> None:
    confusion = np.zeros((10, 11), np.int64)
    np.fill_diagonal(confusion, 100)  # right answers never count
    confusion[3, 9] = 12
    confusion[4, 9] = 7
    confusion[7, 10] = 7  # "none": predicted -1
    confusion[2, 1] = 1
    assert top_confusions(confusion, 3) == [(3, 9), (4, 9), (7, -1)]
    assert top_confusions(confusion, 10) == [(3, 9), (4, 9), (7, -1), (2, 1)]
    assert top_confusions(np.eye(10, 11, dtype=np.int64), 3) == []


def test_sample_is_the_smallest_draws_among_digits_classified_as_the_label(spark, digits) -> None:
    pixels, labels, centroids, centroid_labels = digits
    predicted = centroid_labels[_nearest(pixels, centroids)]
    candidates = np.flatnonzero(predicted == 3)
    draws = uniform_by_id(candidates, 7, STREAM_GALLERY)
    expected = candidates[np.lexsort((candidates, draws))[:16]]
    samples = []
    for partitions in (1, 2, 7):
        blocks = blocks_from_arrays(spark, pixels, labels, partitions)
        samples.append(classified_sample(blocks, centroids, centroid_labels, 3, 16, seed=7))
        blocks.unpersist()
    for sample in samples:
        assert_array_equal(sample.ids, expected)
        assert_array_equal(sample.pixels, pixels[expected])
        assert_array_equal(sample.true_labels, labels[expected])
        assert_array_equal(sample.predicted, np.full(16, 3))
        assert set(sample.assigned.tolist()) <= {0, 1}
    assert set(samples[0].true_labels.tolist()) == {3, 5}  # some misclassified 5s among them
    other_seed = classified_sample(
        blocks_from_arrays(spark, pixels, labels, 2), centroids, centroid_labels, 3, 16, seed=8
    )
    assert not np.array_equal(other_seed.ids, expected)


def test_sample_smaller_than_asked_and_empty(spark, digits) -> None:
    pixels, labels, centroids, centroid_labels = digits
    blocks = blocks_from_arrays(spark, pixels, labels, 3)
    eights = classified_sample(blocks, centroids, centroid_labels, 8, 100, seed=1)
    assert sorted(eights.ids.tolist()) == np.flatnonzero(labels == 8).tolist()
    nines = classified_sample(blocks, centroids, centroid_labels, 9, 16, seed=1)
    assert len(nines) == 0 and nines.pixels.shape == (0, 784)
    blocks.unpersist()


def test_confusion_examples_on_a_hand_made_case(spark) -> None:
    centroids = embed([[0, 0], [10, 0], [30, 0], [100, 100]]).astype(np.float64)
    centroid_labels = np.array([1, 2, 1, 3])
    points = [[9, 0], [12, 0], [25, 0], [11, 0], [1, 0], [90, 100], [8, 0]]
    truths = [1, 1, 1, 4, 2, 3, 1]
    # Digits 0, 1 and 6 are 1s claimed by centroid 1 (a 2); the nearest 1 is centroid 0.
    # Digit 3 is a 4 claimed by centroid 1, and no centroid is labelled 4.
    # Digit 4 is a 2 claimed by centroid 0 (a 1); the nearest 2 is centroid 1.
    pixels = embed(points)
    blocks = blocks_from_arrays(spark, pixels, truths, 2)
    pairs = [(1, 2), (4, 2), (2, 1)]
    examples = confusion_examples(blocks, centroids, centroid_labels, pairs, per_pair=2, seed=3)
    ones = np.array([0, 1, 6])
    first_two = ones[np.argsort(uniform_by_id(ones, 3, STREAM_GALLERY))[:2]]
    expected_ids = [*first_two.tolist(), 3, 4]
    assert examples.pairs == pairs
    digits = examples.digits
    assert digits.ids.tolist() == expected_ids
    assert_array_equal(digits.pixels, pixels[expected_ids])
    assert digits.true_labels.tolist() == [1, 1, 4, 2]
    assert digits.predicted.tolist() == [2, 2, 2, 1]
    assert digits.assigned.tolist() == [1, 1, 1, 0]
    x = {0: 9, 1: 12, 6: 8, 3: 11, 4: 1}
    assert_allclose(
        examples.assigned_distance, [abs(x[i] - (0 if i == 4 else 10)) for i in expected_ids]
    )
    assert examples.true_centroid.tolist() == [0, 0, -1, 1]
    assert_allclose(examples.true_distance[[0, 1, 3]], [x[i] for i in first_two.tolist()] + [9])
    assert np.isnan(examples.true_distance[2])
    blocks.unpersist()


def test_confusion_examples_are_the_same_for_any_partitioning(spark, digits) -> None:
    pixels, labels, centroids, centroid_labels = digits
    found = []
    for partitions in (1, 2, 7):
        blocks = blocks_from_arrays(spark, pixels, labels, partitions)
        found.append(
            confusion_examples(blocks, centroids, centroid_labels, [(5, 3)], per_pair=4, seed=2)
        )
        blocks.unpersist()
    fives = np.flatnonzero(labels == 5)
    expected = fives[np.lexsort((fives, uniform_by_id(fives, 2, STREAM_GALLERY)))[:4]]
    for examples in found:
        assert_array_equal(examples.digits.ids, expected)
        assert_array_equal(examples.assigned_distance, found[0].assigned_distance)
        assert examples.true_centroid.tolist() == [-1] * 4  # no centroid is labelled 5


def test_nearest_of_label_breaks_ties_to_the_smaller_index() -> None:
    centroids = embed([[0, 0], [4, 0], [0, 4]]).astype(np.float64)
    point = embed([[2, 2]])[0]
    assert nearest_of_label(point, centroids, np.array([7, 1, 1]), 1) == (
        1,
        pytest.approx(np.sqrt(8)),
    )
    assert nearest_of_label(point, centroids, np.array([7, 1, 1]), 5) is None


def test_cluster_label_counts_match_numpy(spark, digits) -> None:
    pixels, labels, centroids, _ = digits
    blocks = blocks_from_arrays(spark, pixels, labels, 3)
    counts = cluster_label_counts(blocks, centroids)
    expected = np.zeros((3, 10), np.int64)
    np.add.at(expected, (_nearest(pixels, centroids), labels), 1)
    assert_array_equal(counts, expected)
    blocks.unpersist()
