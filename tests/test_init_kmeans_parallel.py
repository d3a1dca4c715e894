from __future__ import annotations

import logging

import numpy as np
from numpy.testing import assert_array_equal
from support import blocks_from_arrays, embed

from kmeans_spark.hashing import (
    STREAM_KMEANS_PARALLEL,
    STREAM_KMEANS_PARALLEL_REDUCE,
    uniform_by_id,
)
from kmeans_spark.init import INIT_KMEANS_PARALLEL, InitSpec, default_trials, initial_centroids
from kmeans_spark.init.greedy import weighted_kmeans_pp
from kmeans_spark.init.sampling import substream


def direct_kmeans_parallel(
    pixels: np.ndarray, k: int, seed: int, oversampling: float = 2.0, steps: int = 2
) -> tuple[np.ndarray, int]:
    """The same k-means|| on one machine (ids are row numbers): centroids and rounds run."""
    wide = pixels.astype(np.int64)
    norms = (wide**2).sum(axis=1)
    distances = norms[:, None] - 2 * (wide @ wide.T) + norms[None, :]
    ids = np.arange(len(pixels))
    first = int(np.argmin(uniform_by_id(ids, seed, substream(STREAM_KMEANS_PARALLEL, 0, 0))))
    candidates, d2, rounds = [first], distances[:, first], 0
    while rounds < steps or len(candidates) < k:
        phi = int(d2.sum())
        if phi == 0:
            break
        draws = uniform_by_id(ids, seed, substream(STREAM_KMEANS_PARALLEL, rounds + 1, 0))
        patterns = {pixels[c].tobytes() for c in candidates}
        for i in np.flatnonzero(draws * float(phi) < oversampling * k * d2.astype(float)):
            if pixels[i].tobytes() not in patterns:
                patterns.add(pixels[i].tobytes())
                candidates.append(int(i))
        rounds += 1
        d2 = distances[:, candidates].min(axis=1)
    ordered = np.array(sorted(candidates))
    nearest = np.argmin(distances[:, ordered], axis=1)  # ties: the smaller id
    weights = np.bincount(nearest, minlength=len(ordered)).astype(np.int64)
    rng = np.random.default_rng([seed, STREAM_KMEANS_PARALLEL_REDUCE])
    chosen = weighted_kmeans_pp(pixels[ordered], weights, k, default_trials(k), rng)
    return pixels[ordered[chosen]].astype(np.float64), rounds


def _distinct_rows(centroids: np.ndarray) -> int:
    return len({row.tobytes() for row in centroids})


def test_k_distinct_centroids_as_a_direct_implementation(spark) -> None:
    rng = np.random.default_rng(0)
    # Few distinct small coordinates: repeated digits, tied distances and duplicate samples.
    small = embed(rng.integers(0, 5, (90, 3)))
    wide = rng.integers(0, 256, (50, 784)).astype(np.uint8)
    specs = [InitSpec(6, 21), InitSpec(10, 22), InitSpec(1, 23)]
    for pixels in (small, wide):
        blocks = blocks_from_arrays(spark, pixels, partitions=3)
        results = initial_centroids(blocks, specs, INIT_KMEANS_PARALLEL, resident=False)
        for spec, result in zip(specs, results, strict=True):
            expected, rounds = direct_kmeans_parallel(pixels, spec.k, spec.seed)
            assert_array_equal(result.centroids, expected)
            assert _distinct_rows(result.centroids) == spec.k
            assert rounds == 2 and result.passes == 6


def test_more_rounds_until_k_candidates(spark) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (40, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    # Two digits sampled per round in expectation: one round cannot find 4 candidates.
    options = {"oversampling": 0.5, "steps": 1}
    (result,) = initial_centroids(
        blocks, [InitSpec(4, 2)], INIT_KMEANS_PARALLEL, resident=False, **options
    )
    expected, rounds = direct_kmeans_parallel(pixels, 4, 2, **options)
    assert rounds == 3 and result.passes == 2 + 2 * rounds
    assert_array_equal(result.centroids, expected)
    assert _distinct_rows(result.centroids) == 4


def test_same_centroids_for_any_partitioning(spark) -> None:
    pixels = embed(np.random.default_rng(2).integers(0, 40, (70, 5)))
    specs = [InitSpec(5, 7), InitSpec(3, 7), InitSpec(5, 8)]
    runs = [
        initial_centroids(
            blocks_from_arrays(spark, pixels, partitions=p),
            specs,
            INIT_KMEANS_PARALLEL,
            resident=p == 2,
        )
        for p in (1, 2, 7)
    ]
    for run in runs[1:]:
        for first, other in zip(runs[0], run, strict=True):
            assert_array_equal(other.centroids, first.centroids)
            assert other.passes == first.passes == 6
    assert not np.array_equal(runs[0][0].centroids, runs[0][2].centroids)  # seeds matter


def test_a_model_in_a_batch_gets_the_centroids_it_gets_alone(spark) -> None:
    pixels = embed(np.random.default_rng(4).integers(0, 30, (60, 4)))
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    specs = [InitSpec(3, 1), InitSpec(6, 2), InitSpec(2, 2)]
    batch = initial_centroids(blocks, specs, INIT_KMEANS_PARALLEL, resident=False)
    alone = initial_centroids(blocks, specs[1:2], INIT_KMEANS_PARALLEL, resident=False)[0]
    assert_array_equal(alone.centroids, batch[1].centroids)
    assert alone.passes == batch[1].passes


def test_one_centre_in_each_far_apart_group(spark) -> None:
    rng = np.random.default_rng(3)
    corners = np.array([[0, 0], [0, 240], [240, 0], [240, 240]])
    points = np.repeat(corners, 10, axis=0) + rng.integers(0, 8, (40, 2))
    blocks = blocks_from_arrays(spark, embed(points), partitions=2)
    results = initial_centroids(
        blocks, [InitSpec(4, seed) for seed in range(4)], INIT_KMEANS_PARALLEL, resident=False
    )
    for result in results:
        groups = {(int(c[0]) // 120, int(c[1]) // 120) for c in result.centroids}
        assert len(groups) == 4


def test_fewer_distinct_digits_than_k_gives_fewer_centroids(spark, caplog) -> None:
    patterns = embed([[0, 0], [5, 5], [200, 9], [1, 0]])
    pixels = np.repeat(patterns, [12, 3, 1, 2], axis=0)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    with caplog.at_level(logging.WARNING):
        (result,) = initial_centroids(
            blocks, [InitSpec(6, 1)], INIT_KMEANS_PARALLEL, resident=False
        )
    assert "only 4 distinct digits" in caplog.text
    assert {row.tobytes() for row in result.centroids.astype(np.uint8)} == {
        row.tobytes() for row in patterns
    }


def test_weighted_greedy_reduction() -> None:
    points = embed([[0, 0], [1, 0], [100, 100], [101, 100], [0, 200]])
    weights = np.array([1, 50, 1, 1, 1], dtype=np.int64)
    rng = np.random.default_rng(0)
    for trials in (1, 3):
        for _ in range(20):
            chosen = weighted_kmeans_pp(points, weights, 3, trials, rng)
            groups = {(int(points[i, 0]) // 50, int(points[i, 1]) // 50) for i in chosen}
            assert len(groups) == 3  # one centre near each of the three places
    # Every point is a centre once k reaches their number, and then nothing is left to draw.
    assert sorted(weighted_kmeans_pp(points, weights, 9, 2, rng)) == [0, 1, 2, 3, 4]
    # Nearly all weight on one point: it is the first centre.
    heavy = np.array([1, 10**9, 1, 1, 1], dtype=np.int64)
    assert weighted_kmeans_pp(points, heavy, 1, 1, np.random.default_rng(5)) == [1]
