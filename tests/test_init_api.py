from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays, embed

from kmeans_spark.errors import UsageError
from kmeans_spark.hashing import STREAM_INIT, uniform_by_id
from kmeans_spark.init import (
    INIT_KMEANS_PARALLEL,
    INIT_KMEANS_PP,
    INIT_METHODS,
    INIT_RANDOM,
    InitSpec,
    initial_centroids,
    random_centroids,
)


def direct_random(pixels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The first k distinct patterns in ascending order of the draws (ids are row numbers)."""
    draws = uniform_by_id(np.arange(len(pixels)), seed, STREAM_INIT)
    chosen: list[bytes] = []
    for row in np.lexsort((np.arange(len(pixels)), draws)):
        if pixels[row].tobytes() not in chosen:
            chosen.append(pixels[row].tobytes())
    assert len(chosen) >= k
    return np.frombuffer(b"".join(chosen[:k]), dtype=np.uint8).reshape(k, -1).astype(np.float64)


def test_methods() -> None:
    assert INIT_METHODS == ("random", "k-means++", "k-means||")


def test_random_batch_is_each_spec_alone_in_one_pass(spark) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (80, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=3)
    specs = [InitSpec(3, 1), InitSpec(6, 1), InitSpec(4, 2)]
    results = initial_centroids(blocks, specs, INIT_RANDOM)
    for spec, result in zip(specs, results, strict=True):
        assert_array_equal(result.centroids, random_centroids(blocks, spec.k, spec.seed))
        assert (result.method, result.seed, result.passes) == (INIT_RANDOM, spec.seed, 1)


def test_random_with_many_repeats_is_the_same_for_any_partitioning(spark) -> None:
    pixels = embed(np.random.default_rng(1).integers(0, 3, (60, 2)))  # at most 9 patterns
    specs = [InitSpec(k, seed) for k in (2, 6) for seed in range(6)]
    for partitions in (1, 2, 7):
        blocks = blocks_from_arrays(spark, pixels, partitions=partitions)
        for spec, result in zip(specs, initial_centroids(blocks, specs), strict=True):
            assert_array_equal(result.centroids, direct_random(pixels, spec.k, spec.seed))


def test_random_skips_repeats_in_the_global_order_of_the_draws(spark) -> None:
    # In draw order the patterns are 0 2 2 0 2 0 1 3 ...: the third distinct one is 1.
    # With 2 partitions, the even ids' 3 smallest draws hold only patterns 2 and 0,
    # and their 5th smallest (pattern 1) comes before the odd ids' 3rd (pattern 3):
    # merging each partition's k smallest draws alone would wrongly take pattern 3.
    pixels = embed(np.array([[0, 3, 1, 0, 2, 0, 3, 1, 0, 2, 0, 3, 2, 1]]).T)
    expected = direct_random(pixels, 3, 0)
    for partitions in (1, 2, 7):
        blocks = blocks_from_arrays(spark, pixels, partitions=partitions)
        assert_array_equal(random_centroids(blocks, 3, 0), expected)


def test_no_specs_no_passes(spark) -> None:
    blocks = blocks_from_arrays(spark, embed([[0, 0], [1, 1]]))
    assert initial_centroids(blocks, [], INIT_KMEANS_PP) == []


@pytest.mark.parametrize(
    ("specs", "options", "message"),
    [
        ([InitSpec(0, 1)], {}, "k must be >= 1, got 0"),
        ([InitSpec(2, 1), InitSpec(4, 1)], {}, r"k=4 is larger than the number of .* \(3\)"),
        ([InitSpec(2, 1)], {"method": "kmeans++"}, "unknown initialisation method 'kmeans\\+\\+'"),
        ([InitSpec(2, 1)], {"method": INIT_KMEANS_PP, "trials": 0}, "trials must be >= 1"),
        ([InitSpec(2, 1)], {"method": INIT_KMEANS_PARALLEL, "oversampling": 0.0}, "oversampling"),
        ([InitSpec(2, 1)], {"oversampling": float("nan")}, "oversampling must be > 0"),
        ([InitSpec(2, 1)], {"method": INIT_KMEANS_PARALLEL, "steps": 0}, "steps must be >= 1"),
    ],
)
def test_invalid_requests(spark, specs, options, message) -> None:
    blocks = blocks_from_arrays(spark, embed([[0, 0], [1, 1], [2, 2]]))
    with pytest.raises(UsageError, match=message):
        initial_centroids(blocks, specs, **options)


def test_random_needs_k_distinct_digits(spark) -> None:
    blocks = blocks_from_arrays(spark, np.repeat(embed([[0, 0], [9, 9]]), 5, axis=0))
    with pytest.raises(UsageError, match="only 2 distinct digits"):
        initial_centroids(blocks, [InitSpec(2, 1), InitSpec(3, 1)], INIT_RANDOM)
