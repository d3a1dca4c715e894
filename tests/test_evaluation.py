from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal
from support import blocks_from_arrays, embed

from kmeans_spark.evaluation import evaluate, evaluate_many, majority_labels


def test_majority_labels_ties_go_to_the_smaller_label() -> None:
    counts = np.zeros((3, 10), dtype=np.int64)
    counts[0, [3, 7]] = 5  # tie between 3 and 7
    counts[1, 9] = 2
    counts[1, 1] = 1
    assert_array_equal(majority_labels(counts), [3, 9, -1])


def test_evaluate_counts_errors_over_digits_evaluated(spark) -> None:
    centroids = embed([[0, 0], [100, 100], [200, 0]]).astype(float)
    pixels = embed([[1, 1], [2, 0], [99, 99], [101, 100], [199, 1], [0, 3]])
    true_labels = [4, 4, 7, 1, 2, 4]
    blocks = blocks_from_arrays(spark, pixels, true_labels, partitions=2)
    result = evaluate(blocks, centroids, [4, 7, -1])
    # Predictions: 4, 4, 7, 7, none, 4. Errors: the "1" read as 7, and the "2" that lands in
    # the unlabelled cluster.
    assert result.size == 6
    assert result.errors == 2
    assert result.error_rate == 2 / 6
    assert result.confusion[4, 4] == 3
    assert result.confusion[1, 7] == 1
    assert result.confusion[2, 10] == 1
    assert_array_equal(result.cluster_sizes, [3, 2, 1])


def test_unlabelled_digits_are_classified_but_not_scored(spark) -> None:
    centroids = embed([[0, 0], [100, 100]]).astype(float)
    blocks = blocks_from_arrays(spark, embed([[0, 0], [100, 100], [90, 90]]), None)
    result = evaluate(blocks, centroids, [0, 1])
    assert result.size == 0 and result.unlabelled == 3
    assert np.isnan(result.error_rate)
    assert_array_equal(result.cluster_sizes, [1, 2])


def test_evaluate_many_equals_one_model_at_a_time(spark) -> None:
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (120, 784)).astype(np.uint8)
    true_labels = rng.integers(0, 10, 120)
    blocks = blocks_from_arrays(spark, pixels, true_labels, partitions=3)
    models = [(pixels[:k].astype(np.float64), rng.integers(-1, 10, k)) for k in (1, 4, 9)]
    together = evaluate_many(blocks, models)
    assert len(together) == 3
    for (centroids, labels), result in zip(models, together, strict=True):
        alone = evaluate(blocks, centroids, labels)
        assert_array_equal(result.confusion, alone.confusion)
        assert_array_equal(result.cluster_sizes, alone.cluster_sizes)
    # Each model's first centroids are digits of the set: they classify themselves.
    assert together[0].cluster_sizes.tolist() == [120]
