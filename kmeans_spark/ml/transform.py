"""Assigning a DataFrame's rows to centres, exactly as training does, keeping every column.

The centres are prepared once on the driver and broadcast; each partition is
assigned in batches with :func:`~kmeans_spark.distances.assign_nearest` (the
exact nearest centre, ties to the smaller index) and, where asked, the
Euclidean distance of :func:`~kmeans_spark.distances.sq_distances_to_assigned`:
the same functions as the engine's training and prediction
(:func:`~kmeans_spark.predict.predict_block`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark import Broadcast
from pyspark.sql import DataFrame
from pyspark.sql.types import DataType, DoubleType, IntegerType, StructField, StructType

from kmeans_spark.blocks import squared_norms
from kmeans_spark.distances import PreparedCentroids, assign_nearest, sq_distances_to_assigned
from kmeans_spark.errors import UsageError
from kmeans_spark.ml.features import feature_kind, pixel_batches

BATCH_ROWS = 4096
"""Rows assigned together: one float32 matrix product's worth, in bounded memory."""


@dataclass(frozen=True)
class Outputs:
    """The columns a transform appends, and what each task needs to fill them.

    Attributes
    ----------
    prediction_col : str
        Cluster index, int.
    distance_col : str or None
        Euclidean distance to the assigned centre, double.
    label_col : str or None
        The assigned centre's label, int (-1 for none).
    centroid_labels : ndarray of int64, shape (k,), or None
        Needed when ``label_col`` is set.
    """

    prediction_col: str
    distance_col: str | None
    label_col: str | None
    centroid_labels: npt.NDArray[np.int64] | None

    def fields(self) -> list[StructField]:
        """The appended columns' schema, in order."""
        named: list[tuple[str | None, DataType]] = [
            (self.prediction_col, IntegerType()),
            (self.distance_col, DoubleType()),
            (self.label_col, IntegerType()),
        ]
        return [StructField(name, kind, nullable=False) for name, kind in named if name]


def _assign_partition(
    column_index: int,
    column: str,
    kind: str,
    prepared: Broadcast[PreparedCentroids],
    outputs: Outputs,
    partition: int,
    rows: Iterable[Any],
) -> Iterator[tuple[Any, ...]]:
    """Every row of one partition with its appended values."""
    centres = prepared.value
    for batch, pixels in pixel_batches(rows, column_index, column, kind, partition, BATCH_ROWS):
        clusters = assign_nearest(pixels, squared_norms(pixels), centres)
        appended: list[list[Any]] = [clusters.tolist()]
        if outputs.distance_col:
            distances = np.sqrt(sq_distances_to_assigned(pixels, clusters, centres.centroids))
            appended.append(distances.tolist())
        if outputs.label_col:
            assert outputs.centroid_labels is not None
            appended.append(outputs.centroid_labels[clusters].tolist())
        for row, *values in zip(batch, *appended, strict=True):
            yield (*row, *values)


def assign_columns(
    dataset: DataFrame, features_col: str, centres: npt.NDArray[np.float64], outputs: Outputs
) -> DataFrame:
    """``dataset`` with the columns of ``outputs`` appended; lazy.

    Parameters
    ----------
    dataset : DataFrame
    features_col : str
        Checked as in fit: a vector, array or binary column of 784 pixels 0..255.
    centres : ndarray of float64, shape (k, 784)
    outputs : Outputs

    Returns
    -------
    DataFrame
        Every input column, then the appended ones, row for row in the input's
        order and partitioning. A bad row raises InputError (named by partition
        and row within it) when an action evaluates it; wrap the action in
        :func:`~kmeans_spark.errors.raise_input_errors` to see it as one.

    Raises
    ------
    InputError
        The features column is missing or of another type.
    UsageError
        An output column exists already, or two have the same name.
    """
    kind = feature_kind(dataset.schema, features_col)
    appended = outputs.fields()
    names = [field.name for field in appended]
    for name in names:
        if name in dataset.columns:
            raise UsageError(f"output column {name!r} exists already in the DataFrame")
    if len(set(names)) != len(names):
        raise UsageError(f"output columns must have different names, got {names}")
    spark = dataset.sparkSession
    prepared = spark.sparkContext.broadcast(PreparedCentroids.of(centres))
    column_index = dataset.columns.index(features_col)
    assign = partial(_assign_partition, column_index, features_col, kind, prepared, outputs)
    rows = dataset.rdd.mapPartitionsWithIndex(assign, preservesPartitioning=True)
    schema = StructType([*dataset.schema.fields, *appended])
    return spark.createDataFrame(rows, schema, verifySchema=False)
