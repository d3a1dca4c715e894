"""Edge cases with documented behaviour (docs/reliability.md, "Edge cases").

Every initialisation method is exercised where its behaviour could differ.
Expected values come from numpy (means, sums) or from comparing runs with each
other, never from the output under test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from support import blocks_from_arrays, embed, load_mnist_numpy, rows_from_arrays, write_jsonl

from kmeans_spark.blocks import to_blocks
from kmeans_spark.errors import EXIT_BAD_INPUT, UsageError
from kmeans_spark.init import (
    INIT_METHODS,
    INIT_RANDOM,
    InitSpec,
    initial_centroids,
    random_centroids,
)
from kmeans_spark.lloyd import fit_lloyd


def _rows(pixels: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in np.asarray(pixels).astype(np.uint8)}


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    """Give the root logger back as it was: the jobs reconfigure it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("method", INIT_METHODS)
def test_k1_is_the_mean_for_every_init(spark, method) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, (37, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=3)
    (init,) = initial_centroids(blocks, [InitSpec(1, 3)], method)
    result = fit_lloyd(blocks, init.centroids)
    mean = pixels.astype(np.float64).mean(axis=0)
    assert_allclose(result.centroids[0], mean, rtol=1e-15)
    assert result.inertia == pytest.approx(((pixels - mean) ** 2).sum(), rel=1e-12)
    assert result.converged and list(result.cluster_sizes) == [37]


@pytest.mark.parametrize("method", INIT_METHODS)
def test_k_equal_to_the_number_of_points(spark, method) -> None:
    pixels = np.random.default_rng(8).integers(0, 256, (12, 784)).astype(np.uint8)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    (init,) = initial_centroids(blocks, [InitSpec(12, 4)], method)
    assert _rows(init.centroids) == _rows(pixels)
    result = fit_lloyd(blocks, init.centroids)
    assert result.converged and result.inertia == 0.0
    assert_array_equal(result.cluster_sizes, np.ones(12))
    assert _rows(result.centroids) == _rows(pixels)
    with pytest.raises(UsageError, match=r"k=13 is larger than the number of training digits"):
        initial_centroids(blocks, [InitSpec(13, 4)], method)


@pytest.mark.parametrize("method", INIT_METHODS)
def test_k_above_the_number_of_distinct_points(spark, caplog, method) -> None:
    patterns = embed([[0, 0], [50, 50], [200, 9]])
    pixels = np.repeat(patterns, [10, 6, 4], axis=0)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    if method == INIT_RANDOM:
        with pytest.raises(UsageError, match="only 3 distinct digits: choose a smaller k"):
            initial_centroids(blocks, [InitSpec(5, 1)], method)
        return
    with caplog.at_level(logging.WARNING):
        (init,) = initial_centroids(blocks, [InitSpec(5, 1)], method)
    assert "only 3 distinct digits, fewer than k=5" in caplog.text
    assert init.centroids.shape == (3, 784) and _rows(init.centroids) == _rows(patterns)
    result = fit_lloyd(blocks, init.centroids)  # trains the 3 centroids found
    assert result.converged and result.inertia == 0.0
    assert sorted(result.cluster_sizes.tolist()) == [4, 6, 10]


@pytest.mark.parametrize("method", INIT_METHODS)
def test_train_job_with_k_above_distinct_points_exits_2_and_writes_nothing(
    spark, tmp_path, restore_logging, capsys, method
) -> None:
    from kmeans_spark.jobs.train import main

    pixels = np.repeat(embed([[0, 0], [50, 50], [200, 9]]), [10, 6, 4], axis=0)
    write_jsonl(tmp_path / "train.jsonl", pixels, np.repeat([1, 2, 3], [10, 6, 4]))
    out = tmp_path / "model"
    argv = ["--input", str(tmp_path / "train.jsonl"), "--k", "5", "--init", method]
    argv += ["--validation-fraction", "0", "--output", str(out)]
    assert main(argv) == EXIT_BAD_INPUT
    assert "only 3 distinct digits: choose a smaller k" in capsys.readouterr().err
    # Refused before training: no model folder, no staging, no checkpoint.
    assert [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]


@pytest.mark.parametrize("method", INIT_METHODS)
def test_every_point_identical(spark, caplog, method) -> None:
    image = np.random.default_rng(2).integers(0, 256, (1, 784)).astype(np.uint8)
    pixels = np.repeat(image, 25, axis=0)
    blocks = blocks_from_arrays(spark, pixels, partitions=3)
    (init,) = initial_centroids(blocks, [InitSpec(1, 7)], method)
    result = fit_lloyd(blocks, init.centroids)
    assert result.centroids.tobytes() == image.astype(np.float64).tobytes()
    assert result.converged and result.inertia == 0.0 and list(result.cluster_sizes) == [25]
    if method == INIT_RANDOM:
        with pytest.raises(UsageError, match="only 1 distinct digits"):
            initial_centroids(blocks, [InitSpec(2, 7)], method)
    else:
        with caplog.at_level(logging.WARNING):
            (two,) = initial_centroids(blocks, [InitSpec(2, 7)], method)
        assert "only 1 distinct digits" in caplog.text
        assert two.centroids.tobytes() == image.astype(np.float64).tobytes()


@pytest.mark.parametrize("method", INIT_METHODS)
def test_all_zero_images(spark, method) -> None:
    zeros = np.zeros((30, 784), dtype=np.uint8)
    blocks = blocks_from_arrays(spark, zeros, partitions=2)
    (init,) = initial_centroids(blocks, [InitSpec(1, 1)], method)
    result = fit_lloyd(blocks, init.centroids)
    assert not result.centroids.any() and result.inertia == 0.0 and result.converged
    # One non-zero image among zeros: two exact clusters.
    one = zeros.copy()
    one[17, :10] = 255
    blocks = blocks_from_arrays(spark, one, partitions=2)
    (init,) = initial_centroids(blocks, [InitSpec(2, 1)], method)
    result = fit_lloyd(blocks, init.centroids)
    assert _rows(result.centroids) == _rows(one[[0, 17]])
    assert sorted(result.cluster_sizes.tolist()) == [1, 29] and result.inertia == 0.0


@pytest.mark.parametrize("method", INIT_METHODS)
def test_empty_partitions_give_the_same_model(spark, method) -> None:
    pixels = np.random.default_rng(4).integers(0, 40, (40, 784)).astype(np.uint8)
    # Ids 0, 4, 8, ...: with 4 blocks every digit lands in block 0 (blocks are id % 4).
    rows = [(4 * i, label, data) for i, (_, label, data) in enumerate(rows_from_arrays(pixels))]
    sc = spark.sparkContext
    balanced = to_blocks(sc.parallelize(rows, 3), 5)
    # Every row in one input partition, the five others empty.
    skewed_rows = sc.parallelize(rows, 3).keyBy(lambda row: 0).partitionBy(6).values()
    assert sorted(skewed_rows.glom().map(len).collect()) == [0, 0, 0, 0, 0, 40]
    skewed = to_blocks(skewed_rows, 4)
    assert skewed.rdd.mapValues(len).collect() == [(0, 40), (1, 0), (2, 0), (3, 0)]
    assert sorted(balanced.rdd.mapValues(len).values().collect()) == [8, 8, 8, 8, 8]
    assert skewed.fingerprint == balanced.fingerprint
    models = []
    for blocks in (balanced, skewed):
        (init,) = initial_centroids(blocks, [InitSpec(4, 9)], method)
        models.append((init, fit_lloyd(blocks, init.centroids)))
        blocks.unpersist()
    (init_a, a), (init_b, b) = models
    assert init_a.centroids.tobytes() == init_b.centroids.tobytes()
    assert a.centroids.tobytes() == b.centroids.tobytes()
    assert (a.iterations, a.inertia) == (b.iterations, b.inertia) and a.converged
    assert_array_equal(a.cluster_sizes, b.cluster_sizes)
    assert int(a.cluster_sizes.sum()) == 40


@pytest.mark.slow
def test_k5000_on_the_60000_training_digits(spark, mnist_dir) -> None:
    """Measured here: about 4 s an iteration, 15 s in all (docs/reliability.md)."""
    images, labels = load_mnist_numpy(mnist_dir)
    blocks = blocks_from_arrays(spark, images, labels, partitions=2)
    try:
        init = random_centroids(blocks, 5000, seed=1)
        assert len(_rows(init)) == 5000
        result = fit_lloyd(blocks, init, max_iter=2)
    finally:
        blocks.unpersist()
    assert result.centroids.shape == (5000, 784) and result.iterations == 2
    assert not result.converged
    assert int(result.cluster_sizes.sum()) == 60_000
    assert_array_equal(result.label_counts.sum(axis=1), result.cluster_sizes)
    assert_array_equal(result.label_counts.sum(axis=0), np.bincount(labels, minlength=10))
    # Lloyd never increases the inertia; the final one is of the final centroids.
    first, second = result.history[0].inertia, result.history[1].inertia
    assert result.inertia <= second <= first
    assert np.isfinite(result.centroids).all()
