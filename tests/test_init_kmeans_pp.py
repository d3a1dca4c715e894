from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays, embed, load_mnist_numpy

from kmeans_spark.blocks import squared_norms
from kmeans_spark.hashing import STREAM_KMEANS_PP, uniform_by_id
from kmeans_spark.init import (
    INIT_KMEANS_PARALLEL,
    INIT_KMEANS_PP,
    InitSpec,
    default_trials,
    initial_centroids,
)
from kmeans_spark.init.exact import exact_sq_distances
from kmeans_spark.init.sampling import race_key, substream


def direct_kmeans_pp(pixels: np.ndarray, k: int, seed: int, trials: int) -> np.ndarray:
    """The same k-means++ on one machine, digit by digit (ids are row numbers)."""
    wide = pixels.astype(np.int64)

    def d2_to(row: int) -> np.ndarray:
        return ((wide - wide[row]) ** 2).sum(axis=1)

    ids = np.arange(len(pixels))
    first = int(np.argmin(uniform_by_id(ids, seed, substream(STREAM_KMEANS_PP, 0, 0))))
    chosen, d2 = [first], d2_to(first)
    for step in range(1, k):
        if d2.sum() == 0:
            break
        candidates = []
        for trial in range(trials):
            draws = uniform_by_id(ids, seed, substream(STREAM_KMEANS_PP, step, trial))
            candidates.append(min(ids, key=lambda i: (race_key(draws[i], int(d2[i])), i)))
        costs = [np.minimum(d2, d2_to(c)).sum() for c in candidates]
        best = int(candidates[int(np.argmin(costs))])
        chosen.append(best)
        d2 = np.minimum(d2, d2_to(best))
    return pixels[chosen].astype(np.float64)


def _groups(rng: np.random.Generator, per_group: int) -> np.ndarray:
    """Four tight groups of 2-d points at the corners of a large square."""
    corners = np.array([[0, 0], [0, 240], [240, 0], [240, 240]])
    points = np.repeat(corners, per_group, axis=0) + rng.integers(0, 8, (4 * per_group, 2))
    return embed(points[rng.permutation(len(points))])


def _group_of(centroids: np.ndarray) -> set[tuple[int, int]]:
    return {(int(c[0]) // 120, int(c[1]) // 120) for c in centroids}


def test_one_centre_in_each_far_apart_group(spark) -> None:
    blocks = blocks_from_arrays(spark, _groups(np.random.default_rng(0), 10), partitions=2)
    results = initial_centroids(blocks, [InitSpec(4, seed) for seed in range(4)], INIT_KMEANS_PP)
    for result in results:
        assert result.centroids.shape == (4, 784)
        assert len(_group_of(result.centroids)) == 4
        assert result.passes == 5  # the first centre, its fold, one pass per later centre


def test_same_centres_as_a_direct_implementation(spark) -> None:
    rng = np.random.default_rng(1)
    # Few distinct small coordinates: many repeated digits and tied distances.
    small = embed(rng.integers(0, 6, (80, 3)))
    wide = rng.integers(0, 256, (40, 784)).astype(np.uint8)
    specs = [InitSpec(4, 11), InitSpec(3, 12)]
    for pixels, trials in ((small, 1), (wide, 3)):
        blocks = blocks_from_arrays(spark, pixels, partitions=3)
        results = initial_centroids(blocks, specs, INIT_KMEANS_PP, trials=trials, resident=False)
        for spec, result in zip(specs, results, strict=True):
            assert_array_equal(
                result.centroids, direct_kmeans_pp(pixels, spec.k, spec.seed, trials)
            )


def test_same_centres_for_any_partitioning(spark) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (60, 784)).astype(np.uint8)
    specs = [InitSpec(3, 5), InitSpec(2, 5), InitSpec(3, 6)]
    runs = [
        initial_centroids(
            blocks_from_arrays(spark, pixels, partitions=p), specs, INIT_KMEANS_PP, resident=p == 2
        )
        for p in (1, 2, 7)
    ]
    for run in runs[1:]:
        for first, other in zip(runs[0], run, strict=True):
            assert_array_equal(other.centroids, first.centroids)
            assert other.passes == first.passes
    assert [r.passes for r in runs[0]] == [4, 3, 4]
    assert not np.array_equal(runs[0][0].centroids, runs[0][2].centroids)  # seeds matter
    assert_array_equal(runs[0][1].centroids, runs[0][0].centroids[:2])  # same seed, smaller k


def test_a_model_in_a_batch_gets_the_centres_it_gets_alone(spark) -> None:
    pixels = embed(np.random.default_rng(3).integers(0, 50, (70, 4)))
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    specs = [InitSpec(2, 1), InitSpec(4, 2), InitSpec(3, 3)]
    batch = initial_centroids(blocks, specs, INIT_KMEANS_PP, resident=False)
    alone = initial_centroids(blocks, specs[1:2], INIT_KMEANS_PP, resident=False)[0]
    assert_array_equal(alone.centroids, batch[1].centroids)
    assert alone.passes == batch[1].passes == 5


def test_fewer_distinct_digits_than_k_gives_fewer_centres(spark, caplog) -> None:
    patterns = embed([[0, 0], [5, 5], [200, 9]])
    pixels = np.repeat(patterns, [10, 3, 1], axis=0)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    with caplog.at_level(logging.WARNING):
        (result,) = initial_centroids(blocks, [InitSpec(5, 1)], INIT_KMEANS_PP, resident=False)
    assert "only 3 distinct digits" in caplog.text
    assert {row.tobytes() for row in result.centroids.astype(np.uint8)} == {
        row.tobytes() for row in patterns
    }


def test_one_centre_is_the_smallest_draw(spark) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (30, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels)
    (result,) = initial_centroids(blocks, [InitSpec(1, 4)], INIT_KMEANS_PP, resident=False)
    draws = uniform_by_id(np.arange(30), 4, substream(STREAM_KMEANS_PP, 0, 0))
    assert_array_equal(result.centroids, pixels[[int(np.argmin(draws))]].astype(np.float64))
    assert result.passes == 1


def _inertia(pixels: np.ndarray, centroids: np.ndarray) -> int:
    distances = exact_sq_distances(pixels, squared_norms(pixels), centroids.astype(np.uint8))
    return int(distances.min(axis=1).sum())


@pytest.mark.slow
def test_initial_inertia_on_mnist_is_near_scikit_learns(spark, mnist_dir) -> None:
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    images, _ = load_mnist_numpy(mnist_dir)
    pixels = np.ascontiguousarray(images[-20_000:])
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    k, seeds = 100, (0, 1)
    reference = np.mean(
        [
            _inertia(
                pixels, sklearn_cluster.kmeans_plusplus(pixels.astype(float), k, random_state=s)[0]
            )
            for s in seeds
        ]
    )
    for method in (INIT_KMEANS_PP, INIT_KMEANS_PARALLEL):
        start = time.perf_counter()
        results = initial_centroids(blocks, [InitSpec(k, s) for s in seeds], method)
        elapsed = time.perf_counter() - start
        inertia = np.mean([_inertia(pixels, r.centroids) for r in results])
        ratio = inertia / reference
        print(f"{method}: inertia ratio to scikit-learn {ratio:.4f}, {elapsed:.1f} s")
        assert all(len(np.unique(r.centroids, axis=0)) == k for r in results)
        assert abs(ratio - 1) < 0.10
    assert default_trials(k) == 6
