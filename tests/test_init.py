from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays, embed

from kmeans_spark.errors import UsageError
from kmeans_spark.hashing import STREAM_INIT, uniform_by_id
from kmeans_spark.init import random_centroids


def test_random_centroids_are_the_smallest_draws(spark) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (200, 784)).astype(np.uint8)
    centroids = random_centroids(blocks_from_arrays(spark, pixels, partitions=3), 5, seed=9)
    expected = np.argsort(uniform_by_id(np.arange(200), 9, STREAM_INIT))[:5]
    assert_array_equal(centroids, pixels[expected].astype(np.float64))


def test_same_seed_same_centroids_for_any_partitioning(spark) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (120, 784)).astype(np.uint8)
    results = [
        random_centroids(blocks_from_arrays(spark, pixels, partitions=p), 6, seed=3)
        for p in (1, 2, 7)
    ]
    for other in results[1:]:
        assert_array_equal(other, results[0])
    assert not np.array_equal(
        random_centroids(blocks_from_arrays(spark, pixels), 6, seed=4), results[0]
    )


def test_centroids_are_distinct_despite_duplicates(spark) -> None:
    base = embed([[0, 0], [1, 1], [2, 2], [3, 3]])
    pixels = np.repeat(base, [40, 1, 1, 1], axis=0)  # one pattern dominates the draws
    centroids = random_centroids(blocks_from_arrays(spark, pixels), 4, seed=1)
    assert len({row.tobytes() for row in centroids}) == 4


def test_more_clusters_than_distinct_digits_is_an_error(spark) -> None:
    pixels = np.repeat(embed([[0, 0], [9, 9]]), 5, axis=0)
    with pytest.raises(UsageError, match="only 2 distinct digits"):
        random_centroids(blocks_from_arrays(spark, pixels), 3, seed=1)


def test_k_out_of_range(spark) -> None:
    blocks = blocks_from_arrays(spark, embed([[0, 0], [1, 1]]))
    with pytest.raises(UsageError, match="k must be >= 1"):
        random_centroids(blocks, 0, seed=1)
    with pytest.raises(UsageError, match="larger than the number"):
        random_centroids(blocks, 3, seed=1)
