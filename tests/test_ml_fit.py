"""KMeans.fit and KMeansModel.transform: hand-computed cases, reproducibility, labels, summary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ml_support import SPARSE, digits_frame
from numpy.testing import assert_allclose, assert_array_equal
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F
from support import blocks_from_arrays, embed, load_mnist_numpy

from kmeans_spark.errors import UsageError
from kmeans_spark.hashing import restart_seeds
from kmeans_spark.init import InitSpec, initial_centroids
from kmeans_spark.lloyd import fit_lloyd
from kmeans_spark.ml import DEFAULT_SEED, KMeans, KMeansModel, KMeansSummary
from kmeans_spark.ml.features import ARRAY, BINARY

# Two groups in the first two pixels. B's labels tie between 4 and 9 (one unlabelled).
# The third initial centre, at (200, 200), is nearest to no point.
HAND_POINTS = [[0, 0], [2, 0], [0, 2], [10, 10], [12, 10], [11, 13]]
HAND_LABELS = [1, 1, 7, 4, None, 9]
HAND_START = embed([[0, 0], [12, 10], [200, 200]]).astype(np.float64)


@pytest.fixture(scope="module")
def hand_frame(spark):
    return digits_frame(spark, embed(HAND_POINTS), HAND_LABELS).cache()


@pytest.fixture(scope="module")
def hand_model(hand_frame) -> KMeansModel:
    return KMeans(
        k=3,
        initialCenters=HAND_START.tolist(),
        emptyCluster="keep",
        labelCol="label",
        distanceCol="distance",
        predictedLabelCol="digit",
    ).fit(hand_frame)


def test_hand_computed_centres_cost_sizes_and_labels(hand_model) -> None:
    centres = np.array(hand_model.clusterCenters())
    # The empty cluster's centre stays where it was (emptyCluster="keep", MLlib's rule).
    assert_allclose(centres[:, :2], [[2 / 3, 2 / 3], [11, 11], [200, 200]], rtol=1e-15)
    assert not centres[:, 2:].any()
    assert hand_model.numFeatures == 784
    summary = hand_model.summary
    assert hand_model.hasSummary and isinstance(summary, KMeansSummary)
    # A: 8/9 + 20/9 + 20/9; B: 2 + 2 + 4.
    assert summary.trainingCost == pytest.approx(40 / 3, rel=1e-14)
    # Iteration 1 is assigned to the initial centres: A 0 + 4 + 4, B 4 + 0 + 10.
    assert summary.costHistory == pytest.approx([22, 40 / 3], rel=1e-14)
    assert summary.clusterSizes == [3, 3, 0]
    # Iteration 2 moves no point: converged.
    assert (summary.numIter, summary.converged, summary.k) == (2, True, 3)
    assert (summary.featuresCol, summary.predictionCol) == ("features", "prediction")
    # B's labels 4 and 9 tie: the smaller wins, the unlabelled row does not count.
    # The empty cluster has no label.
    assert hand_model.hasCentroidLabels and hand_model.centroidLabels() == [1, 4, -1]


def test_hand_computed_transform_and_predict(hand_model, hand_frame) -> None:
    rows = hand_model.transform(hand_frame).collect()
    assert [row.prediction for row in rows] == [0, 0, 0, 1, 1, 1]
    assert [row.digit for row in rows] == [1, 1, 1, 4, 4, 4]
    expected = [math.sqrt(8 / 9), math.sqrt(20 / 9), math.sqrt(20 / 9), math.sqrt(2)]
    assert [row.distance for row in rows] == pytest.approx([*expected, math.sqrt(2), 2.0])
    assert [row.label for row in rows] == HAND_LABELS  # input columns are kept
    summary_rows = hand_model.summary.predictions.select("prediction").collect()
    assert [row.prediction for row in summary_rows] == [0, 0, 0, 1, 1, 1]
    assert hand_model.summary.cluster.columns == ["prediction"]
    pixels = embed([[9, 9]])[0]
    for value in (Vectors.dense(pixels.astype(float)), pixels.tolist(), pixels.tobytes()):
        assert hand_model.predict(value) == 1


def test_an_empty_cluster_is_reseeded_at_the_farthest_point(hand_frame) -> None:
    # The default emptyCluster="farthest": the third centre moves to (11, 13), the
    # point farthest from its centre, which leaves B.
    model = KMeans(k=3, initialCenters=HAND_START.tolist()).fit(hand_frame)
    assert_allclose(model.centers[:, :2], [[2 / 3, 2 / 3], [11, 10], [11, 13]], rtol=1e-15)
    assert model.summary.clusterSizes == [3, 2, 1]
    assert model.summary.trainingCost == pytest.approx(16 / 3 + 2, rel=1e-14)
    # Iteration 2 assigns (11, 13) to the re-seeded cluster, but no centre moves: converged.
    assert (model.summary.numIter, model.summary.converged) == (2, True)
    assert not model.hasCentroidLabels  # labelCol unset
    with pytest.raises(UsageError, match="fitted without labels"):
        model.centroidLabels()


def test_transform_keeps_columns_and_order_and_checks_outputs(spark, hand_model) -> None:
    frame = digits_frame(spark, embed(HAND_POINTS), kind=BINARY, partitions=3)
    frame = frame.withColumn("id", F.monotonically_increasing_id()).withColumn("name", F.lit("x"))
    model = hand_model.copy().setDistanceCol(None).setPredictedLabelCol(None)
    out = model.transform(frame)
    assert out.columns == ["features", "id", "name", "prediction"]
    assert out.schema["prediction"].dataType.simpleString() == "int"
    assert out.drop("prediction").collect() == frame.collect()
    assert [row.prediction for row in out.collect()] == [0, 0, 0, 1, 1, 1]
    with pytest.raises(UsageError, match="output column 'name' exists already"):
        model.copy().setPredictionCol("name").transform(frame)
    with pytest.raises(UsageError, match="different names"):
        model.copy().setDistanceCol("prediction").transform(frame)
    no_labels = KMeansModel(model.centers).setPredictedLabelCol("digit")
    with pytest.raises(UsageError, match="needs centroid labels"):
        no_labels.transform(frame)
    assert not no_labels.hasSummary
    with pytest.raises(RuntimeError, match="No training summary"):
        no_labels.summary  # noqa: B018


def test_k_larger_than_the_number_of_rows(hand_frame) -> None:
    with pytest.raises(UsageError, match=r"k=7 is larger than the number of training digits \(6\)"):
        KMeans(k=7, initMode="random").fit(hand_frame)


# Real digits: reproducibility across column kinds, partitionings and seeds. The
# random initialisation keeps these fits short; it depends on every row's id, as
# the other methods do, so it shows that ids are positions, not partition places.
N_DIGITS = 400
REAL_PARAMS = {
    "k": 6,
    "maxIter": 3,
    "seed": 11,
    "initMode": "random",
    "labelCol": "label",
    "distanceCol": "distance",
}


@pytest.fixture(scope="module")
def digits(mnist_dir) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist_numpy(mnist_dir)
    return images[:N_DIGITS], labels[:N_DIGITS]


@pytest.fixture(scope="module")
def reference(spark, digits) -> KMeansModel:
    """Dense vectors in 2 partitions, Spark's default parallelism for the blocks."""
    return KMeans(**REAL_PARAMS).fit(digits_frame(spark, *digits))


@pytest.mark.parametrize(("kind", "partitions"), [(SPARSE, 2), (ARRAY, 1), (BINARY, 7)])
def test_same_model_from_every_column_kind_and_partitioning(
    spark, digits, reference, kind, partitions
) -> None:
    frame = digits_frame(spark, *digits, kind=kind, partitions=3)
    model = KMeans(**REAL_PARAMS, partitions=partitions).fit(frame)
    # Bit for bit, not approximately.
    assert_array_equal(model.centers, reference.centers)
    assert model.centroidLabels() == reference.centroidLabels()
    assert model.summary.trainingCost == reference.summary.trainingCost
    assert model.summary.costHistory == reference.summary.costHistory


def test_default_initialisation_is_the_engines(spark, digits) -> None:
    # k-means|| (the default) through the estimator, on 3 input partitions and 3
    # blocks, is bit for bit the engine's own run on 1 block.
    frame = digits_frame(spark, digits[0], partitions=3)
    model = KMeans(k=3, maxIter=2, initSteps=1, partitions=3).fit(frame)
    blocks = blocks_from_arrays(spark, digits[0], partitions=1)
    try:
        (start,) = initial_centroids(blocks, [InitSpec(3, DEFAULT_SEED)], "k-means||", steps=1)
        engine = fit_lloyd(blocks, start.centroids, max_iter=2, tol=1e-4)
    finally:
        blocks.unpersist()
    assert_array_equal(model.centers, engine.centroids)
    assert model.summary.trainingCost == engine.inertia


def test_restarts_keep_the_lowest_cost(spark, digits, reference) -> None:
    frame = digits_frame(spark, *digits)
    both = KMeans(**REAL_PARAMS, nInit=2).fit(frame)
    second_seed = restart_seeds(REAL_PARAMS["seed"], 2)[1]
    second = KMeans(**{**REAL_PARAMS, "seed": second_seed}).fit(frame)
    # Another seed, another model; the restarts keep the better one.
    assert not np.array_equal(second.centers, reference.centers)
    best = min([reference, second], key=lambda model: model.summary.trainingCost)
    assert_array_equal(both.centers, best.centers)
    assert both.summary.trainingCost == best.summary.trainingCost


def test_labels_summary_and_distances_agree_with_the_predictions(digits, reference) -> None:
    images, labels = digits
    rows = reference.summary.predictions.collect()
    clusters = np.array([row.prediction for row in rows])
    distances = np.array([row.distance for row in rows])
    k = reference.summary.k
    assert k == 6 and len(reference.clusterCenters()) == 6
    assert reference.summary.clusterSizes == np.bincount(clusters, minlength=k).tolist()
    assert reference.summary.trainingCost == pytest.approx((distances**2).sum(), rel=1e-12)
    assert reference.summary.numIter == len(reference.summary.costHistory) <= 3
    centres = reference.centers
    assert_allclose(distances, np.linalg.norm(images - centres[clusters], axis=1), rtol=1e-12)
    # Every row's centre is nearest, and every centre is the mean of its rows or one
    # step behind it (maxIter=3 may stop before convergence).
    all_distances = np.linalg.norm(images[:, None, :] - centres[None], axis=2)
    assert_allclose(distances, all_distances.min(axis=1), rtol=1e-12)
    counts = np.zeros((k, 10), dtype=np.int64)
    np.add.at(counts, (clusters, labels), 1)
    assert reference.centroidLabels() == np.argmax(counts, axis=1).tolist()
    assert [reference.predict(image) for image in images[:20]] == clusters[:20].tolist()
