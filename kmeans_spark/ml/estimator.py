"""The pyspark.ml Estimator: exact, reproducible k-means of 28 x 28 pixel digits."""

from __future__ import annotations

from typing import Any

from pyspark import keyword_only
from pyspark.ml.base import Estimator
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame

from kmeans_spark.blocks import to_blocks
from kmeans_spark.errors import UsageError, raise_input_errors
from kmeans_spark.evaluation import majority_labels
from kmeans_spark.ml.features import digit_rows, has_label_column
from kmeans_spark.ml.model import KMeansModel
from kmeans_spark.ml.params import DEFAULT_SEED, KMeansParams
from kmeans_spark.ml.summary import KMeansSummary
from kmeans_spark.ml.training import train


class KMeans(
    Estimator[KMeansModel], KMeansParams, DefaultParamsWritable, DefaultParamsReadable["KMeans"]
):
    """K-means of MNIST-like pixel data, exact and reproducible, as a pyspark.ml Estimator.

    Scope: rows of **784 pixels, integers 0..255** (28 x 28 digits), in a
    features column that is a ``pyspark.ml.linalg`` vector (dense or sparse),
    an array of numbers or a binary of 784 bytes. Any other value (a fraction,
    256, NaN, null, another size) raises
    :class:`~kmeans_spark.errors.InputError` naming the column, the row and the
    reason. For arbitrary floating-point features use
    :class:`pyspark.ml.clustering.KMeans`.

    Within that scope every result is exact and reproducible: assignments are
    the exact nearest centre (ties to the smaller index), sums are exact
    integers, every random choice is a pure function of ``seed`` and the row's
    position in the DataFrame. The same DataFrame, Params and seed give bit for
    bit the same centres on any number of partitions and machines.

    Fitting reuses the project's engine: the rows are cached as numpy blocks
    (:func:`~kmeans_spark.blocks.to_blocks`), initialised by
    :func:`~kmeans_spark.init.initial_centroids` and trained by
    :func:`~kmeans_spark.lloyd.fit_lloyd_batch`, the functions of the train job.

    Params and defaults (MLlib's names and defaults where the concept is MLlib's):

    =================  ============  ========================================================
    Param              default       meaning
    =================  ============  ========================================================
    k                  2             number of clusters, 1 <= k <= number of rows
    maxIter            20            most Lloyd iterations, >= 1
    tol                1e-4          also stop once no centre moves farther than tol
                                     (Euclidean); a fit stops anyway when no row changes
                                     cluster. MLlib's ``epsilon`` rule.
    seed               1             a constant, unlike pyspark's per-process ``hash``
    initMode           "k-means||"   "random", "k-means++" or "k-means||"
    initSteps          2             k-means|| sampling rounds
    initOversampling   2.0           k-means|| samples about initOversampling * k per round
    initTrials         unset         k-means++/||: candidates per centre, unset:
                                     2 + int(log k)
    nInit              1             restarts (seeds from
                                     :func:`~kmeans_spark.hashing.restart_seeds`); the
                                     lowest training cost is kept
    initialCenters     unset         start from these k x 784 centres instead (nInit=1)
    emptyCluster       "farthest"    "farthest": re-seed an empty cluster at the row
                                     farthest from its centre; "keep": leave it (MLlib)
    featuresCol        "features"    vector, array or binary column of 784 pixels
    predictionCol      "prediction"  output: index of the nearest centre (int)
    distanceCol        unset         output: Euclidean distance to it (double)
    labelCol           unset         true labels 0..9 or null; when set and present, the
                                     model's centres get majority labels
    predictedLabelCol  unset         output: the nearest centre's label (int, -1 for none)
    partitions         unset         cached blocks while fitting (default parallelism);
                                     does not change the result
    =================  ============  ========================================================

    Examples
    --------
    >>> model = KMeans(k=10, seed=7, labelCol="label").fit(digits)  # doctest: +SKIP
    >>> model.transform(digits).select("prediction").show()  # doctest: +SKIP
    """

    _input_kwargs: dict[str, Any]

    @keyword_only
    def __init__(
        self,
        *,
        featuresCol: str = "features",
        predictionCol: str = "prediction",
        k: int = 2,
        maxIter: int = 20,
        tol: float = 1e-4,
        seed: int = DEFAULT_SEED,
        initMode: str = "k-means||",
        initSteps: int = 2,
        initTrials: int | None = None,
        initOversampling: float = 2.0,
        nInit: int = 1,
        initialCenters: list[list[float]] | None = None,
        emptyCluster: str = "farthest",
        distanceCol: str | None = None,
        labelCol: str | None = None,
        predictedLabelCol: str | None = None,
        partitions: int | None = None,
    ) -> None:
        """__init__(self, \\*, featuresCol="features", predictionCol="prediction", k=2, \
        maxIter=20, tol=1e-4, seed=1, initMode="k-means||", initSteps=2, initTrials=None, \
        initOversampling=2.0, nInit=1, initialCenters=None, emptyCluster="farthest", \
        distanceCol=None, labelCol=None, predictedLabelCol=None, partitions=None)
        """
        super().__init__()
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        featuresCol: str = "features",
        predictionCol: str = "prediction",
        k: int = 2,
        maxIter: int = 20,
        tol: float = 1e-4,
        seed: int = DEFAULT_SEED,
        initMode: str = "k-means||",
        initSteps: int = 2,
        initTrials: int | None = None,
        initOversampling: float = 2.0,
        nInit: int = 1,
        initialCenters: list[list[float]] | None = None,
        emptyCluster: str = "farthest",
        distanceCol: str | None = None,
        labelCol: str | None = None,
        predictedLabelCol: str | None = None,
        partitions: int | None = None,
    ) -> KMeans:
        """Sets the given Params (keyword arguments only); None clears an optional one."""
        self._set_params(self._input_kwargs)
        return self

    def setK(self, value: int) -> KMeans:
        """Sets the value of :py:attr:`k`."""
        return self._set(k=value)

    def setMaxIter(self, value: int) -> KMeans:
        """Sets the value of :py:attr:`maxIter`."""
        return self._set(maxIter=value)

    def setTol(self, value: float) -> KMeans:
        """Sets the value of :py:attr:`tol`."""
        return self._set(tol=value)

    def setSeed(self, value: int) -> KMeans:
        """Sets the value of :py:attr:`seed`."""
        return self._set(seed=value)

    def setInitMode(self, value: str) -> KMeans:
        """Sets the value of :py:attr:`initMode`."""
        return self._set(initMode=value)

    def setInitSteps(self, value: int) -> KMeans:
        """Sets the value of :py:attr:`initSteps`."""
        return self._set(initSteps=value)

    def setInitTrials(self, value: int | None) -> KMeans:
        """Sets the value of :py:attr:`initTrials`; None clears it."""
        self._set_params({"initTrials": value})
        return self

    def setInitOversampling(self, value: float) -> KMeans:
        """Sets the value of :py:attr:`initOversampling`."""
        return self._set(initOversampling=value)

    def setNInit(self, value: int) -> KMeans:
        """Sets the value of :py:attr:`nInit`."""
        return self._set(nInit=value)

    def setInitialCenters(self, value: Any) -> KMeans:
        """Sets the value of :py:attr:`initialCenters` (k x 784 floats); None clears it."""
        self._set_params({"initialCenters": value})
        return self

    def setEmptyCluster(self, value: str) -> KMeans:
        """Sets the value of :py:attr:`emptyCluster`."""
        return self._set(emptyCluster=value)

    def setFeaturesCol(self, value: str) -> KMeans:
        """Sets the value of :py:attr:`featuresCol`."""
        return self._set(featuresCol=value)

    def setPredictionCol(self, value: str) -> KMeans:
        """Sets the value of :py:attr:`predictionCol`."""
        return self._set(predictionCol=value)

    def setDistanceCol(self, value: str | None) -> KMeans:
        """Sets the value of :py:attr:`distanceCol`; None clears it."""
        self._set_params({"distanceCol": value})
        return self

    def setLabelCol(self, value: str | None) -> KMeans:
        """Sets the value of :py:attr:`labelCol`; None clears it."""
        self._set_params({"labelCol": value})
        return self

    def setPredictedLabelCol(self, value: str | None) -> KMeans:
        """Sets the value of :py:attr:`predictedLabelCol`; None clears it."""
        self._set_params({"predictedLabelCol": value})
        return self

    def setPartitions(self, value: int | None) -> KMeans:
        """Sets the value of :py:attr:`partitions`; None clears it."""
        self._set_params({"partitions": value})
        return self

    def _fit(self, dataset: DataFrame) -> KMeansModel:
        """Fit on ``dataset``; see the class docstring.

        Raises
        ------
        UsageError
            A Param out of range, or ``predictedLabelCol`` without labels, before
            any Spark work; ``k`` larger than the number of rows, once they are
            counted.
        InputError
            A missing or wrongly typed column, before any Spark work; a row
            that is not 784 pixels 0..255, or a label not 0..9, as one line
            naming the column and the row's position.
        """
        settings = self.checked_settings()
        labelled = has_label_column(dataset.schema, self.getLabelCol())
        if self.getPredictedLabelCol() is not None and not labelled:
            raise UsageError(
                f"predictedLabelCol={self.getPredictedLabelCol()!r} needs labels: "
                f"set labelCol to a column of the DataFrame (labelCol={self.getLabelCol()!r})"
            )
        with raise_input_errors():
            rows, labelled = digit_rows(dataset, self.getFeaturesCol(), self.getLabelCol())
            blocks = to_blocks(rows, settings.partitions)
            try:
                result = train(blocks, settings)
            finally:
                blocks.unpersist()
        model = KMeansModel(
            result.centroids, majority_labels(result.label_counts) if labelled else None
        )
        self._copyValues(model)
        model._summary = KMeansSummary(
            model.transform(dataset), model.getFeaturesCol(), model.getPredictionCol(), result
        )
        return model
