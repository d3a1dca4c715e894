"""What a fit measured, in the shape of MLlib's ``KMeansSummary``."""

from __future__ import annotations

from pyspark.sql import DataFrame

from kmeans_spark.lloyd import LloydResult


class KMeansSummary:
    """Training summary of a :class:`~kmeans_spark.ml.KMeansModel`.

    Parameters
    ----------
    predictions : DataFrame
        The training DataFrame transformed by the model (lazy).
    features_col, prediction_col : str
    result : LloydResult
        The engine's result of the kept restart.
    """

    def __init__(
        self,
        predictions: DataFrame,
        features_col: str,
        prediction_col: str,
        result: LloydResult,
    ) -> None:
        self._predictions = predictions
        self._features_col = features_col
        self._prediction_col = prediction_col
        self._result = result

    @property
    def predictions(self) -> DataFrame:
        """DataFrame produced by the model's ``transform`` of the training data."""
        return self._predictions

    @property
    def featuresCol(self) -> str:
        """Name of the features column in :attr:`predictions`."""
        return self._features_col

    @property
    def predictionCol(self) -> str:
        """Name of the cluster column in :attr:`predictions`."""
        return self._prediction_col

    @property
    def cluster(self) -> DataFrame:
        """The cluster of each training row: :attr:`predictions`' prediction column."""
        return self._predictions.select(self._prediction_col)

    @property
    def k(self) -> int:
        """Number of centres of the model."""
        return int(self._result.centroids.shape[0])

    @property
    def clusterSizes(self) -> list[int]:
        """Training rows nearest to each final centre, shape (k,)."""
        return [int(size) for size in self._result.cluster_sizes]

    @property
    def numIter(self) -> int:
        """Lloyd iterations run (centre updates)."""
        return self._result.iterations

    @property
    def converged(self) -> bool:
        """Whether training stopped before ``maxIter`` (no centre moved farther than ``tol``)."""
        return self._result.converged

    @property
    def trainingCost(self) -> float:
        """Sum of squared Euclidean distances of the training rows to their nearest final centre.

        scikit-learn's ``inertia_``. MLlib's ``trainingCost`` is the cost of the
        last iteration's assignment, before its update: :attr:`costHistory`\\ ``[-1]``.
        """
        return self._result.inertia

    @property
    def costHistory(self) -> list[float]:
        """Cost of each iteration's assignment, to the centres before its update.

        Shape (numIter,).
        """
        return [stats.inertia for stats in self._result.history]
