"""The fitted model: centres (and their labels) that assign rows exactly as training did."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark.ml.base import Model
from pyspark.ml.util import MLReadable, MLWritable, MLWriter
from pyspark.sql import DataFrame

from kmeans_spark.blocks import squared_norms
from kmeans_spark.distances import PreparedCentroids, assign_nearest
from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.ml.features import pixels_of_any
from kmeans_spark.ml.params import KMeansParams
from kmeans_spark.ml.persistence import KMeansModelReader, KMeansModelWriter
from kmeans_spark.ml.summary import KMeansSummary
from kmeans_spark.ml.transform import Outputs, assign_columns
from kmeans_spark.readers.records import BadRecord
from kmeans_spark.schema import N_CLASSES, N_PIXELS, UNLABELLED


class KMeansModel(Model, KMeansParams, MLWritable, MLReadable["KMeansModel"]):
    """Model fitted by :class:`~kmeans_spark.ml.KMeans`.

    ``transform`` appends ``predictionCol`` (int, the nearest centre's index,
    ties to the smaller index) and, when set, ``distanceCol`` (double, the
    Euclidean distance to it) and ``predictedLabelCol`` (int, that centre's
    majority label, -1 for none). Rows are assigned exactly as in training: the
    same features column kinds and checks as :meth:`KMeans.fit`, and the same
    exact nearest-centre rule.

    Parameters
    ----------
    centers : array_like of float, shape (k, 784)
    centroid_labels : array_like of int, shape (k,), optional
        Majority label of each centre, -1 for a centre without labelled rows;
        None for a model fitted without labels.
    """

    def __init__(
        self, centers: npt.ArrayLike, centroid_labels: npt.ArrayLike | None = None
    ) -> None:
        super().__init__()
        values = np.array(centers, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] != N_PIXELS:
            raise UsageError(f"centres have shape {values.shape}, expected (k, {N_PIXELS})")
        if not np.all(np.isfinite(values)):
            raise UsageError("centres contain NaN or infinite values")
        self._centers = values
        # A model made from centres says how many it has; a fitted one gets the fit's Params.
        self._setDefault(k=values.shape[0])
        self._centroid_labels: npt.NDArray[np.int64] | None = None
        if centroid_labels is not None:
            labels = np.array(centroid_labels, dtype=np.int64)
            if labels.shape != (values.shape[0],):
                raise UsageError(
                    f"{values.shape[0]} centres need one label each, got shape {labels.shape}"
                )
            if np.any((labels < UNLABELLED) | (labels >= N_CLASSES)):
                raise UsageError("centroid labels must be -1 (none) or 0..9")
            self._centroid_labels = labels
        self._summary: KMeansSummary | None = None

    def setFeaturesCol(self, value: str) -> KMeansModel:
        """Sets the value of :py:attr:`featuresCol`."""
        return self._set(featuresCol=value)

    def setPredictionCol(self, value: str) -> KMeansModel:
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setDistanceCol(self, value: str | None) -> KMeansModel:
        """Sets the value of :py:attr:`distanceCol`; None clears it."""
        self._set_params({"distanceCol": value})
        return self

    def setPredictedLabelCol(self, value: str | None) -> KMeansModel:
        """Sets the value of :py:attr:`predictedLabelCol`; None clears it."""
        self._set_params({"predictedLabelCol": value})
        return self

    def clusterCenters(self) -> list[npt.NDArray[np.float64]]:
        """The centres, as a list of k arrays of float64, shape (784,) (as MLlib's)."""
        return [centre.copy() for centre in self._centers]

    @property
    def centers(self) -> npt.NDArray[np.float64]:
        """The centres as one read-only matrix, shape (k, 784)."""
        view = self._centers.view()
        view.flags.writeable = False
        return view

    @property
    def hasCentroidLabels(self) -> bool:
        """Whether the model was fitted with labels (``labelCol`` set and present)."""
        return self._centroid_labels is not None

    def centroidLabels(self) -> list[int]:
        """Majority true label of each centre's training rows, -1 where none had a label.

        Raises
        ------
        UsageError
            The model was fitted without labels.
        """
        if self._centroid_labels is None:
            raise UsageError("the model was fitted without labels (set labelCol to get them)")
        return [int(label) for label in self._centroid_labels]

    @property
    def numFeatures(self) -> int:
        """Number of features a row must have: 784."""
        return N_PIXELS

    def predict(self, value: Any) -> int:
        """The index of the centre nearest to one row's features.

        Parameters
        ----------
        value : Vector, sequence of numbers or bytes
            784 integers 0..255.

        Raises
        ------
        InputError
            The value is not 784 pixels.
        """
        try:
            pixels = pixels_of_any(value).reshape(1, N_PIXELS)
        except BadRecord as bad:
            raise InputError(f"predict: {bad.reason}") from None
        prepared = PreparedCentroids.of(self._centers)
        return int(assign_nearest(pixels, squared_norms(pixels), prepared)[0])

    @property
    def hasSummary(self) -> bool:
        """Whether a training summary exists (not after loading a saved model)."""
        return self._summary is not None

    @property
    def summary(self) -> KMeansSummary:
        """The training summary.

        Raises
        ------
        RuntimeError
            The model has none (it was loaded, or made from centres).
        """
        if self._summary is None:
            raise RuntimeError(f"No training summary available for this {type(self).__name__}")
        return self._summary

    def _outputs(self) -> Outputs:
        label_col = self.getPredictedLabelCol()
        if label_col is not None and self._centroid_labels is None:
            raise UsageError(
                f"predictedLabelCol={label_col!r} needs centroid labels, "
                "but the model was fitted without labels (set labelCol)"
            )
        return Outputs(
            self.getPredictionCol(), self.getDistanceCol(), label_col, self._centroid_labels
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return assign_columns(dataset, self.getFeaturesCol(), self._centers, self._outputs())

    def write(self) -> MLWriter:
        """An MLWriter: params as Spark ML metadata, centres as Parquet under ``<path>/data``."""
        return KMeansModelWriter(self)

    @classmethod
    def read(cls) -> KMeansModelReader:
        """An MLReader of models saved by :meth:`write`."""
        return KMeansModelReader()
