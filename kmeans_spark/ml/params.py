"""The Params of :class:`~kmeans_spark.ml.KMeans` and :class:`~kmeans_spark.ml.KMeansModel`.

Where a concept is MLlib's, the Param has MLlib's name and default (``k=2``,
``maxIter=20``, ``tol=1e-4``, ``initMode="k-means||"``, ``initSteps=2``,
``featuresCol="features"``, ``predictionCol="prediction"``), except ``seed``:
pyspark defaults it to ``hash(class name)``, which differs between Python
processes, so here it defaults to the constant :data:`DEFAULT_SEED`.

Optional Params (``distanceCol``, ``labelCol``, ``predictedLabelCol``,
``initialCenters``, ``initTrials``, ``partitions``) have no default: unset
means "not used" (or the engine's default). Passing ``None`` for one of them
to ``__init__`` or ``setParams`` leaves it unset, or clears it.

The values are checked when they are used (:meth:`KMeansParams.checked_settings`),
before any Spark work, and raise :class:`~kmeans_spark.errors.UsageError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import (
    HasFeaturesCol,
    HasMaxIter,
    HasPredictionCol,
    HasSeed,
    HasTol,
)

from kmeans_spark.errors import UsageError
from kmeans_spark.init import INIT_KMEANS_PARALLEL, INIT_METHODS
from kmeans_spark.init.sampling import MAX_STEP, MAX_TRIAL
from kmeans_spark.lloyd import EMPTY_CLUSTER_POLICIES, EMPTY_FARTHEST
from kmeans_spark.schema import N_PIXELS

DEFAULT_SEED = 1
"""The default ``seed``: a constant, so that an unseeded fit is reproducible everywhere."""

OPTIONAL_PARAMS = (
    "distanceCol",
    "labelCol",
    "predictedLabelCol",
    "initialCenters",
    "initTrials",
    "partitions",
)
"""Params without a default; ``None`` leaves them unset."""


def to_centre_lists(value: Any) -> list[list[float]]:
    """Param type converter: a matrix (nested sequences, ndarray) to lists of floats.

    Rows of any length pass, so that :meth:`KMeansParams.checked_settings` can
    say what is wrong with the shape. numpy scalars of any dtype are accepted,
    unlike :meth:`TypeConverters.toListListFloat`.
    """
    rows = value.tolist() if isinstance(value, np.ndarray) else value
    try:
        if isinstance(rows, str | bytes) or any(isinstance(row, str | bytes) for row in rows):
            raise TypeError("text is not a number")
        return [[float(v) for v in row] for row in rows]
    except (TypeError, ValueError) as error:
        raise TypeError(f"could not convert to lists of floats ({error})") from None


@dataclass(frozen=True)
class Settings:
    """The checked Param values a fit needs.

    Attributes
    ----------
    k, max_iter, seed, n_init, init_steps : int
    tol, init_oversampling : float
    init_mode, empty_cluster : str
    init_trials, partitions : int or None
    initial_centers : ndarray of float64, shape (k, 784), or None
    """

    k: int
    max_iter: int
    tol: float
    seed: int
    init_mode: str
    init_steps: int
    init_trials: int | None
    init_oversampling: float
    n_init: int
    empty_cluster: str
    partitions: int | None
    initial_centers: npt.NDArray[np.float64] | None


class KMeansParams(HasFeaturesCol, HasPredictionCol, HasMaxIter, HasTol, HasSeed):
    """Params shared by :class:`~kmeans_spark.ml.KMeans` and its model."""

    k: Param[int] = Param(
        Params._dummy(),
        "k",
        "The number of clusters to create. Must be >= 1 and at most the number of rows.",
        typeConverter=TypeConverters.toInt,
    )
    initMode: Param[str] = Param(
        Params._dummy(),
        "initMode",
        'The initialization algorithm: "random" (k distinct rows chosen at random), '
        '"k-means++" (D^2 sampling with greedy local trials) or "k-means||" '
        "(the parallel variant of k-means++ by Bahmani et al.).",
        typeConverter=TypeConverters.toString,
    )
    initSteps: Param[int] = Param(
        Params._dummy(),
        "initSteps",
        "The number of sampling rounds of k-means|| initialization. Must be >= 1.",
        typeConverter=TypeConverters.toInt,
    )
    initTrials: Param[int] = Param(
        Params._dummy(),
        "initTrials",
        "k-means++ and k-means||: candidates drawn per centre, the best kept "
        "(unset: 2 + int(log k); 1 is the original k-means++).",
        typeConverter=TypeConverters.toInt,
    )
    initOversampling: Param[float] = Param(
        Params._dummy(),
        "initOversampling",
        "k-means||: each round samples about initOversampling * k rows. Must be > 0.",
        typeConverter=TypeConverters.toFloat,
    )
    nInit: Param[int] = Param(
        Params._dummy(),
        "nInit",
        "Number of restarts, trained together; the one with the lowest training cost "
        "is kept. Restart 0 uses seed itself. Must be >= 1.",
        typeConverter=TypeConverters.toInt,
    )
    initialCenters: Param[list[list[float]]] = Param(
        Params._dummy(),
        "initialCenters",
        "Start from these k centres (k lists of 784 floats) instead of initMode.",
        typeConverter=to_centre_lists,
    )
    emptyCluster: Param[str] = Param(
        Params._dummy(),
        "emptyCluster",
        'What to do with a cluster that receives no row: "farthest" re-seeds it at the '
        'row farthest from its centre (scikit-learn), "keep" leaves its centre (MLlib).',
        typeConverter=TypeConverters.toString,
    )
    distanceCol: Param[str] = Param(
        Params._dummy(),
        "distanceCol",
        "Output column of the Euclidean distance to the assigned centre (double); "
        "unset: not added.",
        typeConverter=TypeConverters.toString,
    )
    labelCol: Param[str] = Param(
        Params._dummy(),
        "labelCol",
        "Column of true labels 0..9 (or null); when set and present, each centre gets "
        "the majority label of its training rows.",
        typeConverter=TypeConverters.toString,
    )
    predictedLabelCol: Param[str] = Param(
        Params._dummy(),
        "predictedLabelCol",
        "Output column of the assigned centre's label (int, -1 for a centre without one); "
        "unset: not added. Needs a model fitted with labels.",
        typeConverter=TypeConverters.toString,
    )
    partitions: Param[int] = Param(
        Params._dummy(),
        "partitions",
        "Number of cached data blocks during fit (unset: Spark's default parallelism). "
        "Does not change the result.",
        typeConverter=TypeConverters.toInt,
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._setDefault(
            k=2,
            maxIter=20,
            tol=1e-4,
            seed=DEFAULT_SEED,
            initMode=INIT_KMEANS_PARALLEL,
            initSteps=2,
            initOversampling=2.0,
            nInit=1,
            emptyCluster=EMPTY_FARTHEST,
        )

    def _set_params(self, kwargs: dict[str, Any]) -> None:
        """Set the given Params; ``None`` for an optional one clears it."""
        for name, value in kwargs.items():
            if value is None and name in OPTIONAL_PARAMS:
                self.clear(self.getParam(name))
            elif value is not None:
                self._set(**{name: value})

    def optional(self, param: Param[Any]) -> Any:
        """The value of an optional Param, or None when it is unset."""
        return self.getOrDefault(param) if self.isDefined(param) else None

    def getK(self) -> int:
        """Gets the value of :py:attr:`k` or its default value."""
        return self.getOrDefault(self.k)

    def getInitMode(self) -> str:
        """Gets the value of :py:attr:`initMode` or its default value."""
        return self.getOrDefault(self.initMode)

    def getInitSteps(self) -> int:
        """Gets the value of :py:attr:`initSteps` or its default value."""
        return self.getOrDefault(self.initSteps)

    def getInitTrials(self) -> int | None:
        """Gets the value of :py:attr:`initTrials`, None when unset."""
        return self.optional(self.initTrials)

    def getInitOversampling(self) -> float:
        """Gets the value of :py:attr:`initOversampling` or its default value."""
        return self.getOrDefault(self.initOversampling)

    def getNInit(self) -> int:
        """Gets the value of :py:attr:`nInit` or its default value."""
        return self.getOrDefault(self.nInit)

    def getInitialCenters(self) -> list[list[float]] | None:
        """Gets the value of :py:attr:`initialCenters`, None when unset."""
        return self.optional(self.initialCenters)

    def getEmptyCluster(self) -> str:
        """Gets the value of :py:attr:`emptyCluster` or its default value."""
        return self.getOrDefault(self.emptyCluster)

    def getDistanceCol(self) -> str | None:
        """Gets the value of :py:attr:`distanceCol`, None when unset."""
        return self.optional(self.distanceCol)

    def getLabelCol(self) -> str | None:
        """Gets the value of :py:attr:`labelCol`, None when unset."""
        return self.optional(self.labelCol)

    def getPredictedLabelCol(self) -> str | None:
        """Gets the value of :py:attr:`predictedLabelCol`, None when unset."""
        return self.optional(self.predictedLabelCol)

    def getPartitions(self) -> int | None:
        """Gets the value of :py:attr:`partitions`, None when unset."""
        return self.optional(self.partitions)

    def checked_settings(self) -> Settings:
        """The Params a fit uses, checked.

        Returns
        -------
        Settings

        Raises
        ------
        UsageError
            A value out of range, an unknown ``initMode`` or ``emptyCluster``,
            ``initialCenters`` not of shape ``(k, 784)`` or not finite, or
            ``initialCenters`` with ``nInit > 1``.
        """
        k, max_iter, tol = self.getK(), self.getMaxIter(), self.getTol()
        steps, trials = self.getInitSteps(), self.getInitTrials()
        oversampling, n_init, partitions = (
            self.getInitOversampling(),
            self.getNInit(),
            self.getPartitions(),
        )
        if k < 1:
            raise UsageError(f"k must be >= 1, got {k}")
        if max_iter < 1:
            raise UsageError(f"maxIter must be >= 1, got {max_iter}")
        if not (tol >= 0 and math.isfinite(tol)):
            raise UsageError(f"tol must be >= 0 and finite, got {tol}")
        if self.getInitMode() not in INIT_METHODS:
            raise UsageError(
                f"initMode {self.getInitMode()!r} is unknown: choose one of "
                f"{', '.join(INIT_METHODS)}"
            )
        # The upper bounds keep every (step, trial) in its own random stream.
        if not 1 <= steps < MAX_STEP:
            raise UsageError(f"initSteps must be >= 1 (and < {MAX_STEP}), got {steps}")
        if trials is not None and not 1 <= trials <= MAX_TRIAL:
            raise UsageError(f"initTrials must be >= 1 (and <= {MAX_TRIAL}), got {trials}")
        if not (oversampling > 0 and math.isfinite(oversampling)):
            raise UsageError(f"initOversampling must be > 0 and finite, got {oversampling}")
        if n_init < 1:
            raise UsageError(f"nInit must be >= 1, got {n_init}")
        if self.getEmptyCluster() not in EMPTY_CLUSTER_POLICIES:
            raise UsageError(
                f"emptyCluster {self.getEmptyCluster()!r} is unknown: choose one of "
                f"{', '.join(EMPTY_CLUSTER_POLICIES)}"
            )
        if partitions is not None and partitions < 1:
            raise UsageError(f"partitions must be >= 1, got {partitions}")
        return Settings(
            k=k,
            max_iter=max_iter,
            tol=tol,
            seed=self.getSeed(),
            init_mode=self.getInitMode(),
            init_steps=steps,
            init_trials=trials,
            init_oversampling=oversampling,
            n_init=n_init,
            empty_cluster=self.getEmptyCluster(),
            partitions=partitions,
            initial_centers=self._checked_initial_centers(k, n_init),
        )

    def _checked_initial_centers(self, k: int, n_init: int) -> npt.NDArray[np.float64] | None:
        given = self.getInitialCenters()
        if given is None:
            return None
        if len(given) != k or any(len(centre) != N_PIXELS for centre in given):
            sizes = sorted({len(centre) for centre in given})
            raise UsageError(
                f"initialCenters must be k={k} lists of {N_PIXELS} floats, "
                f"got {len(given)} lists of sizes {sizes}"
            )
        centres = np.asarray(given, dtype=np.float64).reshape(k, N_PIXELS)
        if not np.all(np.isfinite(centres)):
            raise UsageError("initialCenters contain NaN or infinite values")
        if n_init != 1:
            raise UsageError(f"initialCenters allow one restart only (nInit=1), got nInit={n_init}")
        return centres
