"""Saving and loading a :class:`~kmeans_spark.ml.KMeansModel` the Spark ML way.

A saved model is a folder, written entirely through Spark, so any Hadoop path
(``file://``, ``hdfs://``, ``s3a://``) works:

* ``<path>/metadata``: Spark ML's JSON metadata (class, uid, Params and their
  defaults) by :class:`pyspark.ml.util.DefaultParamsWriter`, plus ``k``,
  ``numFeatures`` and ``hasCentroidLabels``;
* ``<path>/data``: Parquet, one row per centre: ``cluster`` (int), ``center``
  (array of 784 doubles, exact), ``label`` (int, null when the model has no
  centroid labels).

No pickle: loading a model runs no code from the folder. The training summary
is not saved (as in MLlib): a loaded model has ``hasSummary == False``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter
from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    IntegerType,
    StructField,
    StructType,
)

from kmeans_spark.errors import InputError
from kmeans_spark.schema import N_PIXELS

if TYPE_CHECKING:
    from kmeans_spark.ml.model import KMeansModel

MODEL_CLASS = "kmeans_spark.ml.model.KMeansModel"

CENTRES_SCHEMA = StructType(
    [
        StructField("cluster", IntegerType(), nullable=False),
        StructField("center", ArrayType(DoubleType(), containsNull=False), nullable=False),
        StructField("label", IntegerType(), nullable=True),
    ]
)


class KMeansModelWriter(MLWriter):
    """Writes a model's metadata and centres (see the module's docstring)."""

    def __init__(self, instance: KMeansModel) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        labels = model.centroidLabels() if model.hasCentroidLabels else None
        extra = {
            "k": int(model.centers.shape[0]),
            "numFeatures": model.numFeatures,
            "hasCentroidLabels": labels is not None,
        }
        DefaultParamsWriter.saveMetadata(model, path, self.sparkSession, extraMetadata=extra)
        rows = [
            (cluster, [float(v) for v in centre], None if labels is None else labels[cluster])
            for cluster, centre in enumerate(model.centers)
        ]
        frame = self.sparkSession.createDataFrame(rows, CENTRES_SCHEMA)
        # One small file: k rows of 784 doubles.
        frame.coalesce(1).write.parquet(os.path.join(path, "data"))


class KMeansModelReader(MLReader["KMeansModel"]):
    """Reads a model written by :class:`KMeansModelWriter`."""

    def load(self, path: str) -> KMeansModel:
        # Imported here: the model module imports this one for its write() and read().
        from kmeans_spark.ml.model import KMeansModel

        metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
        if metadata.get("class") != MODEL_CLASS:
            raise InputError(f"{path}: holds a {metadata.get('class')!r}, expected a {MODEL_CLASS}")
        rows = self.sparkSession.read.parquet(os.path.join(path, "data")).collect()
        centres, labels = _centres_of(path, rows, int(metadata["k"]))
        model = KMeansModel(centres, labels if metadata["hasCentroidLabels"] else None)
        model._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(model, metadata)
        return model


def _centres_of(path: str, rows: list[Any], k: int) -> tuple[np.ndarray, list[int]]:
    """Centres ``(k, 784)`` and labels ``(k,)`` from the data rows, checked complete."""
    by_cluster = {row["cluster"]: row for row in rows}
    if sorted(by_cluster) != list(range(k)) or len(rows) != k:
        raise InputError(f"{path}: data holds clusters {sorted(by_cluster)}, expected 0..{k - 1}")
    ordered = [by_cluster[cluster] for cluster in range(k)]
    if any(len(row["center"]) != N_PIXELS for row in ordered):
        raise InputError(f"{path}: a centre does not have {N_PIXELS} values")
    centres = np.array([row["center"] for row in ordered], dtype=np.float64)
    labels = [-1 if row["label"] is None else int(row["label"]) for row in ordered]
    return centres, labels
