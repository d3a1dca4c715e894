from __future__ import annotations

import logging

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from support import blocks_from_arrays, embed

from kmeans_spark.errors import UsageError
from kmeans_spark.lloyd import fit_lloyd, fit_lloyd_batch


def test_two_clear_clusters_in_two_dimensions(spark) -> None:
    points = embed([[0, 0], [0, 2], [10, 0], [10, 2]])
    blocks = blocks_from_arrays(spark, points)
    result = fit_lloyd(blocks, points[[0, 2]].astype(float))
    assert_allclose(result.centroids[:, :2], [[0, 1], [10, 1]])
    assert_allclose(result.centroids[:, 2:], 0)
    assert result.converged
    # Iteration 1 moves the centroids; iteration 2 confirms that no point moved.
    assert result.iterations == 2
    assert [s.moved for s in result.history] == [4, 0]
    assert result.inertia == pytest.approx(4.0)  # each point at distance 1
    assert_array_equal(result.cluster_sizes, [2, 2])
    assert result.history[0].max_shift == pytest.approx(1.0)


def test_k1_gives_the_mean(spark) -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (37, 784)).astype(np.uint8)
    result = fit_lloyd(blocks_from_arrays(spark, pixels, partitions=3), pixels[:1].astype(float))
    mean = pixels.astype(np.float64).mean(axis=0)
    assert_allclose(result.centroids[0], mean, rtol=1e-15)
    assert result.inertia == pytest.approx(((pixels - mean) ** 2).sum(), rel=1e-12)
    assert result.converged and result.iterations == 2


def test_duplicate_points_form_exact_clusters(spark) -> None:
    base = embed([[0, 0], [50, 50], [100, 0]])
    pixels = base[[0, 0, 0, 1, 1, 2, 2, 2, 2]]
    result = fit_lloyd(blocks_from_arrays(spark, pixels), base.astype(float))
    assert_allclose(result.centroids, base.astype(float))
    assert_array_equal(result.cluster_sizes, [3, 2, 4])
    assert result.inertia == 0.0


def test_empty_cluster_is_reseeded_at_the_farthest_point(spark, caplog) -> None:
    points = embed([[0, 0], [0, 2], [0, 30], [10, 0]])
    init = embed([[0, 1], [10, 0], [255, 255]]).astype(float)  # centroid 2 attracts nothing
    with caplog.at_level(logging.WARNING, logger="kmeans_spark.lloyd"):
        result = fit_lloyd(blocks_from_arrays(spark, points), init)
    assert "cluster 2 was empty" in caplog.text
    assert result.history[0].empty_clusters == (2,)
    # Iteration 1: (0,30) is farthest from its centroid (0,1) and re-seeds cluster 2.
    assert_allclose(result.centroids[:, :2], [[0, 1], [10, 0], [0, 30]])
    assert_array_equal(result.cluster_sizes, [2, 1, 1])
    assert result.converged


def test_empty_cluster_kept_in_place(spark, caplog) -> None:
    points = embed([[0, 0], [0, 2], [10, 0]])
    init = embed([[0, 1], [10, 0], [255, 255]]).astype(float)
    with caplog.at_level(logging.WARNING, logger="kmeans_spark.lloyd"):
        result = fit_lloyd(blocks_from_arrays(spark, points), init, empty_cluster="keep")
    assert "cluster 2 is empty" in caplog.text
    assert_allclose(result.centroids[2], init[2])
    assert_array_equal(result.cluster_sizes, [2, 1, 0])


def test_matches_scikit_learn_from_the_same_centroids(spark) -> None:
    rng = np.random.default_rng(11)
    centers = rng.integers(30, 220, (5, 784))
    pixels = np.clip(centers[rng.integers(0, 5, 600)] + rng.normal(0, 150, (600, 784)), 0, 255)
    pixels = pixels.astype(np.uint8)
    init = pixels[rng.choice(600, 8, replace=False)].astype(np.float64)
    result = fit_lloyd(blocks_from_arrays(spark, pixels, partitions=3), init)
    reference = KMeans(8, init=init, n_init=1, algorithm="lloyd", tol=0.0, max_iter=300)
    reference.fit(pixels.astype(np.float64))
    # Re-seeding empty clusters is compared separately: no cluster may empty here.
    assert all(not stats.empty_clusters for stats in result.history)
    assert result.converged and result.iterations > 3
    assert result.iterations == reference.n_iter_
    assert_allclose(result.centroids, reference.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert result.inertia == pytest.approx(reference.inertia_, rel=1e-9)


def test_partitioning_does_not_change_the_model(spark) -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (500, 784)).astype(np.uint8)
    init = pixels[:6].astype(np.float64)
    results = [fit_lloyd(blocks_from_arrays(spark, pixels, partitions=p), init) for p in (1, 2, 7)]
    for other in results[1:]:
        assert_array_equal(other.centroids, results[0].centroids)
        assert other.inertia == results[0].inertia
        assert [s.moved for s in other.history] == [s.moved for s in results[0].history]


def test_max_iter_stops_early_and_reports_not_converged(spark) -> None:
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (300, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels)
    result = fit_lloyd(blocks, pixels[:5].astype(float), max_iter=2)
    assert result.iterations == 2 and not result.converged
    # Sizes and inertia refer to the final centroids, as scikit-learn's final E-step.
    final = KMeans(5, init=pixels[:5].astype(float), n_init=1, max_iter=2, tol=0.0).fit(
        pixels.astype(float)
    )
    assert_allclose(result.centroids, final.cluster_centers_, rtol=1e-9)
    assert_array_equal(result.cluster_sizes, np.bincount(final.labels_, minlength=5))
    assert result.inertia == pytest.approx(final.inertia_, rel=1e-9)


def test_tol_stops_when_no_centroid_moves_far(spark) -> None:
    rng = np.random.default_rng(6)
    pixels = rng.integers(0, 256, (300, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels)
    strict = fit_lloyd(blocks, pixels[:4].astype(float))
    loose = fit_lloyd(blocks, pixels[:4].astype(float), tol=1e6)
    assert loose.iterations == 1 and loose.converged
    assert strict.iterations > 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"empty_cluster": "drop"}, "empty_cluster"),
    ],
)
def test_invalid_parameters_are_rejected(spark, kwargs, message) -> None:
    blocks = blocks_from_arrays(spark, embed([[0, 0], [1, 1]]))
    with pytest.raises(UsageError, match=message):
        fit_lloyd(blocks, embed([[0, 0]]).astype(float), **kwargs)


def test_bad_initial_centroids_are_rejected(spark) -> None:
    blocks = blocks_from_arrays(spark, embed([[0, 0], [1, 1]]))
    with pytest.raises(UsageError, match="shape"):
        fit_lloyd(blocks, np.zeros((2, 5)))
    with pytest.raises(UsageError, match="larger than the number"):
        fit_lloyd(blocks, np.zeros((3, 784)))
    bad = np.zeros((1, 784))
    bad[0, 0] = np.nan
    with pytest.raises(UsageError, match="NaN"):
        fit_lloyd(blocks, bad)


def assert_same_model(left, right) -> None:
    assert_array_equal(left.centroids, right.centroids)
    assert left.inertia == right.inertia
    assert left.iterations == right.iterations and left.converged == right.converged
    assert_array_equal(left.cluster_sizes, right.cluster_sizes)
    assert_array_equal(left.label_counts, right.label_counts)
    strip = [(s.moved, s.max_shift, s.inertia, s.empty_clusters) for s in left.history]
    assert strip == [(s.moved, s.max_shift, s.inertia, s.empty_clusters) for s in right.history]


def test_a_batch_trains_every_model_as_it_would_alone(spark) -> None:
    rng = np.random.default_rng(21)
    centers = rng.integers(30, 220, (6, 784))
    pixels = np.clip(centers[rng.integers(0, 6, 500)] + rng.normal(0, 90, (500, 784)), 0, 255)
    pixels = pixels.astype(np.uint8)
    labels = rng.integers(0, 10, 500)
    blocks = blocks_from_arrays(spark, pixels, labels, partitions=3)
    inits = [pixels[rng.choice(500, k, replace=False)].astype(np.float64) for k in (2, 5, 9, 14)]
    inits.append(embed([[0, 0], [255, 255]]).astype(np.float64))  # empties a cluster
    seen: list[tuple[int, int]] = []
    batch = fit_lloyd_batch(
        blocks, inits, on_iteration=lambda model, stats: seen.append((model, stats.iteration))
    )
    assert len({r.iterations for r in batch}) > 1  # models left the batch at different passes
    for model, (init, result) in enumerate(zip(inits, batch, strict=True)):
        assert_same_model(result, fit_lloyd(blocks, init))
        assert [i for m, i in seen if m == model] == list(range(1, result.iterations + 1))


def test_a_batch_stopped_by_max_iter_and_tol_matches_alone(spark) -> None:
    rng = np.random.default_rng(22)
    pixels = rng.integers(0, 256, (300, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    inits = [pixels[:k].astype(np.float64) for k in (3, 6)]
    for kwargs in ({"max_iter": 2}, {"tol": 50.0}):
        batch = fit_lloyd_batch(blocks, inits, **kwargs)
        for init, result in zip(inits, batch, strict=True):
            assert_same_model(result, fit_lloyd(blocks, init, **kwargs))


def test_an_empty_batch_trains_nothing(spark) -> None:
    blocks = blocks_from_arrays(spark, embed([[0, 0], [1, 1]]))
    assert fit_lloyd_batch(blocks, []) == []
