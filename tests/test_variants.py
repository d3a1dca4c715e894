"""k-medians, spherical k-means and per-class centres (kmeans_spark.variants)."""

from __future__ import annotations

import numpy as np
import pytest
from ml_support import mllib_kmeans, mllib_points
from numpy.testing import assert_allclose, assert_array_equal
from support import blocks_from_arrays

from kmeans_spark.errors import UsageError
from kmeans_spark.experiment import TrainParams, experiment_data
from kmeans_spark.variants import KMEANS, KMEDIANS, SPHERICAL, VariantParams, train_variants
from kmeans_spark.variants.algorithms import assign, unit_rows
from kmeans_spark.variants.features import FeatureSpace, feature_blocks
from kmeans_spark.variants.training import VariantModel, fit_variants


def clustered_digits(seed: int, n: int = 300, groups: int = 5, spread: float = 40.0):
    rng = np.random.default_rng(seed)
    centres = rng.integers(20, 236, (groups, 784))
    member = rng.integers(0, groups, n)
    pixels = np.clip(centres[member] + rng.normal(0, spread, (n, 784)), 0, 255).astype(np.uint8)
    return pixels, member


def fit_in_space(spark, pixels, algorithm, initial, labels=None, max_iter=50, preprocess=()):
    blocks = blocks_from_arrays(spark, pixels, labels, partitions=3)
    space = FeatureSpace(algorithm, preprocess)
    features = feature_blocks(blocks, space)
    try:
        start = np.asarray(space.transform(initial), dtype=np.float64)
        (result,) = fit_variants(features, space, [VariantModel(start)], max_iter=max_iter)
    finally:
        features.unpersist()
        blocks.unpersist()
    return result, space


def direct_lloyd(features, centres, algorithm, max_iter):
    """The same algorithm on one machine, iteration by iteration."""
    centres = centres.astype(np.float64)
    for _ in range(max_iter):
        assignment, _ = assign(algorithm, features, centres)
        updated = centres.copy()
        for j in range(len(centres)):
            members = features[assignment == j].astype(np.float64)
            if len(members) == 0:
                continue
            if algorithm == KMEDIANS:
                updated[j] = np.median(members, axis=0)
            elif algorithm == SPHERICAL:
                mean = members.mean(axis=0)
                updated[j] = mean / np.linalg.norm(mean)
            else:
                updated[j] = members.mean(axis=0)
        if np.array_equal(updated, centres):
            break
        centres = updated
    return centres


def test_k_medians_centres_are_the_exact_medians_of_their_clusters(spark) -> None:
    pixels, _ = clustered_digits(1)
    initial = pixels[[0, 7, 19, 40, 77]].astype(np.float64)
    result, _ = fit_in_space(spark, pixels, KMEDIANS, initial)
    assert result.converged
    assignment, cost = assign(KMEDIANS, pixels, result.centroids)
    for j in range(5):
        assert_array_equal(result.centroids[j], np.median(pixels[assignment == j], axis=0))
    assert result.inertia == pytest.approx(cost.sum())
    assert_array_equal(result.cluster_sizes, np.bincount(assignment, minlength=5))
    assert_array_equal(result.centroids, direct_lloyd(pixels, initial, KMEDIANS, 50))


def test_k_medians_assigns_by_l1_not_euclidean_distance() -> None:
    # Point (0, 10): L1 3+3=6 to (3, 13)... built so that L1 and L2 disagree.
    centres = np.zeros((2, 784))
    centres[0, :2] = [4, 4]  # L1 8, L2^2 32 from the origin
    centres[1, :2] = [7, 0]  # L1 7, L2^2 49
    origin = np.zeros((1, 784), dtype=np.uint8)
    assert assign(KMEDIANS, origin, centres)[0].tolist() == [1]
    assert assign(KMEANS, origin, centres)[0].tolist() == [0]


def test_spherical_agrees_with_mllib_cosine_from_the_same_centres(spark) -> None:
    pixels, _ = clustered_digits(2, n=400, groups=6, spread=60.0)
    initial = pixels[[1, 50, 99, 150, 200, 333]].astype(np.float64)
    result, space = fit_in_space(spark, pixels, SPHERICAL, initial, max_iter=8)
    theirs = mllib_kmeans(
        spark, mllib_points(spark, pixels), unit_rows(initial), 8, 0.0, distance_measure="cosine"
    )
    # Our features are unit rows stored as float32, MLlib's float64: equal to float32 precision.
    assert_allclose(result.centroids, theirs.centers, rtol=1e-6, atol=1e-9)
    features = np.asarray(space.transform(pixels), dtype=np.float64)
    assert_array_equal(assign(SPHERICAL, features, result.centroids)[0], theirs.assignments)
    assert_allclose(np.linalg.norm(result.centroids, axis=1), 1.0, rtol=1e-12)


def test_k_means_of_preprocessed_digits_matches_a_direct_implementation(spark) -> None:
    pixels, _ = clustered_digits(3, n=200, groups=4)
    initial = pixels[:4].astype(np.float64)
    result, space = fit_in_space(spark, pixels, KMEANS, initial, preprocess=("normalize",))
    features = np.asarray(space.transform(pixels), dtype=np.float64)
    start = np.asarray(space.transform(initial), dtype=np.float64)
    assert_allclose(result.centroids, direct_lloyd(features, start, KMEANS, 50), atol=1e-9)


def small_experiment(spark, pixels, labels, variant, k, ids=None, validation_fraction=0.25):
    ids = np.arange(len(pixels)) if ids is None else ids
    rows = spark.sparkContext.parallelize(
        [(int(ids[i]), int(labels[i]), pixels[i].tobytes()) for i in range(len(pixels))], 2
    )
    train_params = TrainParams(
        k=k, validation_fraction=validation_fraction, partitions=3, max_iter=30
    )
    with experiment_data(rows, None, train_params) as data:
        return train_variants(data, train_params, variant, [k]).experiments[0]


def test_per_class_centres_equal_ten_separate_trainings(spark) -> None:
    pixels, labels = clustered_digits(4, n=500, groups=10, spread=50.0)
    variant = VariantParams(KMEDIANS, (), per_class=True)
    together = small_experiment(spark, pixels, labels, variant, 3, validation_fraction=0.0)
    assert together.model.centroids.shape == (30, 784)
    assert_array_equal(together.centroid_labels, np.repeat(np.arange(10), 3))
    for label in range(10):
        # The class's digits alone, with their ids: the same initial digits are drawn.
        ids = np.flatnonzero(labels == label)
        alone = small_experiment(
            spark, pixels[ids], labels[ids], variant, 3, ids=ids, validation_fraction=0.0
        )
        assert_array_equal(
            together.model.centroids[3 * label : 3 * label + 3], alone.model.centroids
        )
        assert_array_equal(
            together.model.cluster_sizes[3 * label : 3 * label + 3], alone.model.cluster_sizes
        )
        assert together.restarts[0].kept and alone.model.converged
    # Every training digit is counted once, by its own class's model.
    assert together.model.cluster_sizes.sum() == 500
    assert np.all(together.model.label_counts.argmax(axis=1) == np.repeat(np.arange(10), 3))


def test_held_out_digits_are_classified_in_the_variants_space(spark) -> None:
    pixels, labels = clustered_digits(5, n=400, groups=10, spread=30.0)
    result = small_experiment(
        spark, pixels, labels, VariantParams(SPHERICAL, ("normalize",), per_class=True), 2
    )
    # Well separated groups: every validation digit gets its group's label.
    assert result.validation is not None and result.validation.size == 100
    assert result.validation.error_rate == 0.0
    assert result.variant == {
        "algorithm": "spherical",
        "preprocess": ["normalize"],
        "per_class": True,
    }


def test_variant_params_are_validated() -> None:
    with pytest.raises(UsageError, match="unknown algorithm"):
        VariantParams("k-modes")
    assert VariantParams().is_plain
    assert not VariantParams(KMEANS, ("deskew",)).is_plain
    assert not VariantParams(KMEANS, per_class=True).is_plain
