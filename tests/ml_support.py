"""Helpers of the kmeans_spark.ml tests: DataFrames of digits, and MLlib's k-means for reference."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyspark import RDD
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.mllib.clustering import KMeansModel as MllibKMeansModel
from pyspark.mllib.common import callJavaFunc, callMLlibFunc
from pyspark.mllib.linalg import DenseVector as MllibDenseVector
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DoubleType,
    IntegerType,
    LongType,
    StructField,
    StructType,
)

from kmeans_spark.ml.features import ARRAY, BINARY, VECTOR

DOUBLES = "array<double>"
"""A features kind for :func:`digits_frame`: an array of doubles (``ARRAY`` is of longs)."""
SPARSE = "sparse"
"""A features kind for :func:`digits_frame`: sparse vectors (``VECTOR`` is dense)."""


def digits_frame(
    spark: SparkSession,
    pixels: npt.ArrayLike,
    labels: list[int | None] | npt.NDArray[np.integer] | None = None,
    kind: str = VECTOR,
    partitions: int = 2,
) -> DataFrame:
    """A DataFrame ``(features[, label])`` of ``(n, 784)`` pixels, in row order.

    Labels may be None (null).

    ``kind`` chooses the features column's type: a dense or sparse vector
    (``VECTOR``, ``SPARSE``), an array of longs (``ARRAY``) or of doubles
    (``DOUBLES``), or a binary of 784 bytes (``BINARY``).
    """
    matrix = np.asarray(pixels)
    if kind == VECTOR:
        values: list[object] = [Vectors.dense(row.astype(np.float64)) for row in matrix]
        feature_field = StructField("features", VectorUDT(), True)
    elif kind == ARRAY:
        values = [[int(v) for v in row] for row in matrix]
        feature_field = StructField("features", ArrayType(LongType(), False), True)
    elif kind == SPARSE:
        values = [
            Vectors.sparse(len(row), np.flatnonzero(row), row[row != 0].astype(float))
            for row in matrix
        ]
        feature_field = StructField("features", VectorUDT(), True)
    elif kind == DOUBLES:
        values = [[float(v) for v in row] for row in matrix]
        feature_field = StructField("features", ArrayType(DoubleType(), True), True)
    elif kind == BINARY:
        values = [row.astype(np.uint8).tobytes() for row in matrix]
        feature_field = StructField("features", BinaryType(), True)
    else:
        raise ValueError(kind)
    fields = [feature_field]
    if labels is None:
        rows = [(value,) for value in values]
    else:
        label_list = [None if label is None else int(label) for label in labels]
        rows = [(value, label) for value, label in zip(values, label_list, strict=True)]
        fields.append(StructField("label", IntegerType(), True))
    slices = max(1, min(partitions, len(rows)))
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, slices), StructType(fields))


@contextmanager
def jobs_in(spark: SparkSession, group: str) -> Iterator[Callable[[], list[int]]]:
    """Run the block's Spark jobs in a job group; yields a function listing them."""
    context = spark.sparkContext
    context.setJobGroup(group, "jobs counted by a test")
    try:
        yield lambda: list(context.statusTracker().getJobIdsForGroup(group))
    finally:
        for key in ("spark.jobGroup.id", "spark.job.description"):
            context.setLocalProperty(key, None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class MllibRun:
    """What MLlib's k-means (``pyspark.mllib``) found.

    Attributes
    ----------
    centers : ndarray of float64, shape (k, d)
    training_cost : float
        MLlib's ``trainingCost``: the cost of the last iteration's assignment,
        to the centres before that iteration's update.
    num_iter : int
    final_cost : float
        MLlib's ``computeCost`` of the final centres.
    assignments : ndarray of int64, shape (n,)
        MLlib's ``predict`` of every row with the final centres.
    """

    centers: npt.NDArray[np.float64]
    training_cost: float
    num_iter: int
    final_cost: float
    assignments: npt.NDArray[np.int64]

    @property
    def sizes(self) -> list[int]:
        return np.bincount(self.assignments, minlength=self.centers.shape[0]).tolist()


def mllib_points(spark: SparkSession, points: npt.NDArray[np.number]) -> RDD[MllibDenseVector]:
    """Rows of ``points`` as a cached RDD of MLlib dense vectors, for :func:`mllib_kmeans`."""
    vectors = [MllibDenseVector(row.astype(np.float64)) for row in points]
    return spark.sparkContext.parallelize(vectors, 2).cache()


def mllib_kmeans(
    spark: SparkSession,
    points: RDD[MllibDenseVector],
    initial: npt.NDArray[np.float64],
    max_iter: int,
    epsilon: float,
    distance_measure: str = "euclidean",
) -> MllibRun:
    """Train MLlib's k-means from given initial centres, as ``KMeans.train(initialModel=...)``.

    The JVM model is called directly: the Python wrapper of ``KMeans.train``
    keeps only the centres, not the cost and the iteration count.
    """
    context = spark.sparkContext
    java_model = callMLlibFunc(
        "trainKMeansModel",
        points,
        int(initial.shape[0]),
        max_iter,
        "random",
        None,
        2,
        float(epsilon),
        [MllibDenseVector(centre) for centre in initial],
        distance_measure,
    )
    centers = np.array([c.toArray() for c in callJavaFunc(context, java_model.clusterCenters)])
    assignments = np.array(callJavaFunc(context, java_model.predict, points).collect())
    return MllibRun(
        centers,
        float(java_model.trainingCost()),
        int(java_model.numIter()),
        MllibKMeansModel(list(centers)).computeCost(points),
        assignments.astype(np.int64),
    )
