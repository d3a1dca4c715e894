"""Classifying digits with a trained model: nearest centroid, in parallel on cached blocks.

Every digit gets the label of its nearest centroid, decided exactly as in
training and evaluation (:func:`~kmeans_spark.distances.assign_nearest`), so
that the predictions, and the error rate of labelled input, are the ones the
train job reports for the same digits.

The predictions are a Spark DataFrame of :data:`PREDICTIONS_SCHEMA`:

==========  ======  =========  ============================================================
column      type    nullable   meaning
==========  ======  =========  ============================================================
id          long    no         0-based position of the digit in its input
label       int     yes        true digit 0..9, null when the input has none
prediction  int     no         the nearest centroid's label; -1 when that centroid has none
cluster     int     no         index of the nearest centroid (ties to the smaller index)
distance    double  no         Euclidean distance to that centroid
==========  ======  =========  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark import RDD
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DoubleType, IntegerType, LongType, StructField, StructType

from kmeans_spark.blocks import DigitBlock, DigitBlocks, Row
from kmeans_spark.distances import PreparedCentroids, assign_nearest, sq_distances_to_assigned
from kmeans_spark.errors import UsageError
from kmeans_spark.evaluation import Evaluation, evaluate_many
from kmeans_spark.preprocess import parse_preprocess
from kmeans_spark.readers import read_dataset
from kmeans_spark.schema import N_CLASSES, N_PIXELS, UNLABELLED
from kmeans_spark.variants.algorithms import KMEANS, assign
from kmeans_spark.variants.experiment import VariantParams, evaluate_variants
from kmeans_spark.variants.features import FeatureSpace, feature_blocks

PREDICTIONS_SCHEMA = StructType(
    [
        StructField("id", LongType(), nullable=False),
        StructField("label", IntegerType(), nullable=True),
        StructField("prediction", IntegerType(), nullable=False),
        StructField("cluster", IntegerType(), nullable=False),
        StructField("distance", DoubleType(), nullable=False),
    ]
)

PredictionRow = tuple[int, "int | None", int, int, float]


def _checked_model(
    centroids: npt.ArrayLike, centroid_labels: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Centroids ``(k, 784)`` float64 and labels ``(k,)`` int64 in -1..9, or UsageError."""
    values = np.asarray(centroids, dtype=np.float64)
    labels = np.asarray(centroid_labels, dtype=np.int64)
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] != N_PIXELS:
        raise UsageError(f"centroids have shape {values.shape}, expected (k, {N_PIXELS})")
    if labels.shape != (values.shape[0],):
        raise UsageError(
            f"{values.shape[0]} centroids need one label each, got labels of shape {labels.shape}"
        )
    if np.any((labels < UNLABELLED) | (labels >= N_CLASSES)):
        raise UsageError("centroid labels must be -1 (none) or 0..9")
    return values, labels


def predict_block(
    block: DigitBlock, prepared: PreparedCentroids, centroid_labels: npt.NDArray[np.int64]
) -> list[PredictionRow]:
    """Classify the digits of one block by their nearest centroid.

    Parameters
    ----------
    block : DigitBlock
        ``n`` digits.
    prepared : PreparedCentroids
        ``k`` centroids.
    centroid_labels : ndarray of int64, shape (k,)
        ``-1`` for a centroid without a label.

    Returns
    -------
    list of (int, int or None, int, int, float)
        ``(id, label, prediction, cluster, distance)`` per digit, in the block's
        (id) order: rows of :data:`PREDICTIONS_SCHEMA`.
    """
    clusters = assign_nearest(block.pixels, block.sq_norms, prepared)
    distances = np.sqrt(sq_distances_to_assigned(block.pixels, clusters, prepared.centroids))
    predictions = centroid_labels[clusters]
    labels: list[int | None] = [
        None if label == UNLABELLED else label for label in block.labels.tolist()
    ]
    return list(
        zip(
            block.ids.tolist(),
            labels,
            predictions.tolist(),
            clusters.tolist(),
            distances.tolist(),
            strict=True,
        )
    )


def variant_space(variant: Mapping[str, Any] | None) -> FeatureSpace | None:
    """The feature space of a model's ``variant`` record (model.json); None for plain k-means.

    Raises
    ------
    UsageError
        A record that names an unknown algorithm or preprocessing step.
    """
    if variant is None:
        return None
    try:
        params = VariantParams(
            str(variant["algorithm"]),
            parse_preprocess(",".join(variant.get("preprocess") or [])),
            bool(variant.get("per_class", False)),
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(f"model variant {dict(variant)!r} is not readable ({exc})") from None
    return None if params.is_plain else params.space


def predict_variant_block(
    block: DigitBlock,
    space: FeatureSpace,
    centroids: npt.NDArray[np.float64],
    centroid_labels: npt.NDArray[np.int64],
) -> list[PredictionRow]:
    """:func:`predict_block` for a variant: the digits preprocessed, its own distance.

    ``distance`` is the Euclidean distance (k-means), the L1 distance
    (k-medians) or ``1 - cosine`` (spherical) to the assigned centre, in the
    model's feature space.
    """
    features = space.transform(block.pixels)
    clusters, cost = assign(space.algorithm, features, centroids)
    distances = np.sqrt(cost) if space.algorithm == KMEANS else cost
    labels: list[int | None] = [
        None if label == UNLABELLED else label for label in block.labels.tolist()
    ]
    return list(
        zip(
            block.ids.tolist(),
            labels,
            centroid_labels[clusters].tolist(),
            clusters.tolist(),
            distances.tolist(),
            strict=True,
        )
    )


def predict(
    spark: SparkSession,
    blocks: DigitBlocks,
    centroids: npt.ArrayLike,
    centroid_labels: npt.ArrayLike,
    variant: Mapping[str, Any] | None = None,
) -> DataFrame:
    """Classify cached digits by their nearest centroid, one numpy pass per block.

    Parameters
    ----------
    spark : SparkSession
    blocks : DigitBlocks
        The digits; they stay cached, so that the returned DataFrame can be
        recomputed (by every action on it) without reading the input again.
    centroids : array_like of float, shape (k, 784)
    centroid_labels : array_like of int, shape (k,)
        Label of each centroid, ``-1`` for none.
    variant : mapping, optional
        The model's ``variant`` record (model.json): its preprocessing and
        distance are applied; None or plain k-means: raw pixels, Euclidean.

    Returns
    -------
    DataFrame
        Of :data:`PREDICTIONS_SCHEMA`, one row per digit, in no particular order
        (sort by ``id`` for the input's order). Lazy: the centroids are broadcast
        once, and each action classifies every block again.

    Raises
    ------
    UsageError
        Centroids not of shape (k, 784), or labels not one per centroid in -1..9.
    """
    values, labels = _checked_model(centroids, centroid_labels)
    space = variant_space(variant)
    rows: RDD[Any]
    if space is not None:
        shared = blocks.rdd.context.broadcast(values)
        rows = blocks.rdd.flatMap(
            lambda kv: predict_variant_block(kv[1], space, shared.value, labels)
        )
    else:
        prepared = blocks.rdd.context.broadcast(PreparedCentroids.of(values))
        rows = blocks.rdd.flatMap(lambda kv: predict_block(kv[1], prepared.value, labels))
    return spark.createDataFrame(rows, PREDICTIONS_SCHEMA)


def evaluate(
    blocks: DigitBlocks,
    centroids: npt.ArrayLike,
    centroid_labels: npt.ArrayLike,
    variant: Mapping[str, Any] | None = None,
) -> Evaluation | None:
    """Score the predictions of the labelled digits, as the train job scores held-out sets.

    The same function computes the train job's ``validation`` and ``test``
    records (:func:`~kmeans_spark.evaluation.evaluate_many`), so the error rate of
    a test file is the one the train job reported for it.

    Parameters
    ----------
    blocks : DigitBlocks
    centroids : array_like of float, shape (k, 784)
    centroid_labels : array_like of int, shape (k,)
    variant : mapping, optional
        As for :func:`predict`.

    Returns
    -------
    Evaluation or None
        None when no digit has a label.
    """
    values, labels = _checked_model(centroids, centroid_labels)
    if blocks.summary.labelled == 0:
        return None
    space = variant_space(variant)
    if space is not None:
        features = feature_blocks(blocks, space)
        try:
            (evaluation,) = evaluate_variants(features, space, [(values, labels)])
        finally:
            features.unpersist()
        return evaluation
    (evaluation,) = evaluate_many(blocks, [(values, labels)])
    return evaluation


def metrics_record(
    evaluation: Evaluation, model_path: str, source: str, digits: int
) -> dict[str, Any]:
    """The predict job's ``metrics.json``: the train job's evaluation record and the confusion.

    Parameters
    ----------
    evaluation : Evaluation
    model_path : str
        The model folder.
    source : str
        Where the digits came from (see :func:`read_input`).
    digits : int
        Digits classified, labelled or not.

    Returns
    -------
    dict
        ``model``, ``input``, ``digits``, then the fields of the train job's
        ``validation`` and ``test`` records (``error_rate``, ``size``, ``errors``,
        ``unlabelled``, ``cluster_sizes`` of shape (k,)) and ``confusion``
        (10 x 11 counts, true label x predicted label, column 10 for digits whose
        centroid has no label).
    """
    # Imported here: this module runs on the executors, which need not have
    # matplotlib, and model_io draws figures.
    from kmeans_spark.model_io import evaluation_record

    return {
        "model": model_path,
        "input": source,
        "digits": digits,
        **evaluation_record(evaluation),
        "confusion": evaluation.confusion.tolist(),
    }


def read_input(
    spark: SparkSession, path: str, fmt: str | None = None, labels_path: str | None = None
) -> tuple[RDD[Row], str]:
    """The digits to classify, and a description of where they came from.

    Parameters
    ----------
    spark : SparkSession
    path : str
        An IDX images file (labels found beside it, or ``labels_path``), a JSON
        lines, CSV or Parquet input, labelled or not; or an MNIST folder, of which
        the official test set (the ``t10k`` files) is read.
    fmt, labels_path : str, optional
        As for :func:`~kmeans_spark.readers.read_rows`.

    Returns
    -------
    rows : RDD of (int, int or None, bytes)
        Lazy; malformed records raise InputError when the rows are evaluated
        (:func:`~kmeans_spark.blocks.to_blocks` translates it for the driver).
    source : str

    Raises
    ------
    InputError
        What the readers check on the driver: a missing or unreadable path, an
        unknown format, an incomplete MNIST folder, an empty file.
    """
    dataset = read_dataset(spark, path, fmt=fmt, labels_path=labels_path)
    # Without test_path, only an MNIST folder brings a test set: the digits a
    # model trained on its training set has not seen.
    if dataset.test is not None and dataset.test_source is not None:
        return dataset.test, dataset.test_source
    return dataset.train, dataset.train_source
