"""Nearest-centroid predictions on cached blocks: exact, partition-free, scored as in training."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from readers_support import make_digits, write_idx
from support import blocks_from_arrays, embed

from kmeans_spark.blocks import squared_norms, to_blocks
from kmeans_spark.distances import PreparedCentroids, assign_nearest
from kmeans_spark.errors import UsageError
from kmeans_spark.evaluation import evaluate as evaluate_training
from kmeans_spark.predict import PREDICTIONS_SCHEMA, evaluate, metrics_record, predict, read_input
from kmeans_spark.schema import N_PIXELS


def _collect(frame) -> list[tuple]:
    return [tuple(row) for row in frame.orderBy("id").collect()]


def test_hand_computed_predictions(spark) -> None:
    # Centroids at (0, 0), (10, 0) and (0, 10) in the first two pixels; the
    # second has no label.
    centroids = embed([[0, 0], [10, 0], [0, 10]]).astype(np.float64)
    centroid_labels = [7, -1, 2]
    points = embed([[1, 1], [9, 0], [3, 4], [0, 7], [5, 0]])
    labels = [7, 3, 7, 1, 0]
    blocks = blocks_from_arrays(spark, points, labels)
    frame = predict(spark, blocks, centroids, centroid_labels)
    assert frame.schema == PREDICTIONS_SCHEMA
    # (5, 0) is as far from (0, 0) as from (10, 0): the tie goes to the smaller index.
    assert _collect(frame) == [
        (0, 7, 7, 0, math.sqrt(2)),
        (1, 3, -1, 1, 1.0),
        (2, 7, 7, 0, 5.0),
        (3, 1, 2, 2, 3.0),
        (4, 0, 7, 0, 5.0),
    ]
    evaluation = evaluate(blocks, centroids, centroid_labels)
    assert evaluation is not None
    # Right: digits 0 and 2. Wrong: 1 (a 3 in the unlabelled cluster), 3 (a 1 called 2), 4.
    assert (evaluation.size, evaluation.errors, evaluation.unlabelled) == (5, 3, 0)
    assert evaluation.confusion[3, 10] == 1 and evaluation.confusion[1, 2] == 1
    assert evaluation.cluster_sizes.tolist() == [3, 1, 1]
    record = metrics_record(evaluation, "model", "points", 5)
    assert record["error_rate"] == 0.6 and record["confusion"] == evaluation.confusion.tolist()
    assert {"size", "errors", "unlabelled", "cluster_sizes", "model", "input", "digits"} <= set(
        record
    )
    blocks.unpersist()


def test_unlabelled_digits_are_predicted_but_not_scored(spark) -> None:
    centroids = embed([[0, 0], [10, 0]]).astype(np.float64)
    blocks = blocks_from_arrays(spark, embed([[1, 0], [8, 0], [2, 0]]))
    rows = _collect(predict(spark, blocks, centroids, [4, 6]))
    assert [(r[1], r[2], r[3]) for r in rows] == [(None, 4, 0), (None, 6, 1), (None, 4, 0)]
    assert evaluate(blocks, centroids, [4, 6]) is None
    blocks.unpersist()


def test_predictions_do_not_depend_on_partitioning(spark) -> None:
    digits = make_digits(60, seed=3, unlabelled_every=7)
    rng = np.random.default_rng(4)
    centroids = digits.images[[0, 9, 17, 33, 41]].astype(np.float64) + rng.random((5, N_PIXELS))
    centroid_labels = [1, 1, -1, 5, 9]
    prepared = PreparedCentroids.of(centroids)
    expected_clusters = assign_nearest(digits.images, squared_norms(digits.images), prepared)
    results = []
    for partitions in (1, 2, 7):
        blocks = blocks_from_arrays(spark, digits.images, digits.labels, partitions)
        rows = _collect(predict(spark, blocks, centroids, centroid_labels))
        evaluation = evaluate(blocks, centroids, centroid_labels)
        assert evaluation is not None
        assert (
            evaluation.error_rate
            == evaluate_training(blocks, centroids, centroid_labels).error_rate
        )
        results.append((rows, evaluation.confusion.tolist()))
        blocks.unpersist()
    assert results[1] == results[0] and results[2] == results[0]
    rows = results[0][0]
    assert [r[0] for r in rows] == list(range(60))
    assert [r[1] for r in rows] == [digits.label(i) for i in range(60)]
    assert_array_equal([r[3] for r in rows], expected_clusters)
    assert [r[2] for r in rows] == [centroid_labels[c] for c in expected_clusters]
    distances = np.linalg.norm(digits.images - centroids[expected_clusters], axis=1)
    np.testing.assert_allclose([r[4] for r in rows], distances, rtol=1e-12)


@pytest.mark.parametrize(
    ("centroids", "labels", "message"),
    [
        (np.zeros((2, 10)), [0, 1], "shape"),
        (np.zeros((2, N_PIXELS)), [0], "one label each"),
        (np.zeros((2, N_PIXELS)), [0, 10], "-1 \\(none\\) or 0..9"),
    ],
)
def test_predict_rejects_bad_models(spark, centroids, labels, message) -> None:
    blocks = blocks_from_arrays(spark, embed([[1, 0]]))
    with pytest.raises(UsageError, match=message):
        predict(spark, blocks, centroids, labels)
    with pytest.raises(UsageError, match=message):
        evaluate(blocks, centroids, labels)
    blocks.unpersist()


def test_an_mnist_folder_gives_its_test_set(spark, tmp_path) -> None:
    train, test = make_digits(12, seed=1), make_digits(5, seed=2)
    write_idx(tmp_path, train, "train")
    write_idx(tmp_path, test, "t10k")
    rows, source = read_input(spark, str(tmp_path))
    assert "t10k-images" in source
    blocks = to_blocks(rows, 2)
    assert blocks.num_digits == 5 and blocks.summary.labelled == 5
    blocks.unpersist()
    rows, source = read_input(spark, str(tmp_path / "train-images-idx3-ubyte.gz"))
    assert "train-labels" in source and len(rows.collect()) == 12
