"""The walkthrough's experiment: split, train, label the centroids, classify held-out digits.

Data in (RDDs of reader rows), numbers out; writing is :mod:`kmeans_spark.model_io`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pyspark import RDD

from kmeans_spark.blocks import DigitBlocks, Row, to_blocks
from kmeans_spark.errors import UsageError
from kmeans_spark.evaluation import Evaluation, evaluate, majority_labels
from kmeans_spark.init import random_centroids
from kmeans_spark.lloyd import EMPTY_FARTHEST, IterationStats, LloydResult, fit_lloyd
from kmeans_spark.schema import N_PIXELS
from kmeans_spark.split import SPLIT_HEAD, split_train_validation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainParams:
    """Everything that determines a trained model, besides the data.

    Attributes
    ----------
    k : int
    seed : int
        Seeds the initial centroids and the random validation split.
    max_iter : int
    tol : float
        See :func:`~kmeans_spark.lloyd.fit_lloyd`.
    empty_cluster : {"farthest", "keep"}
    validation_fraction : float
        Share of the training input held out for validation, in [0, 1).
    split : {"head", "random"}
    partitions : int or None
        Number of data partitions; None for Spark's default parallelism.
    init_centroids : ndarray of float64, shape (k, 784), optional
        Start here instead of at random digits.
    """

    k: int = 16
    seed: int = 1
    max_iter: int = 300
    tol: float = 0.0
    empty_cluster: str = EMPTY_FARTHEST
    validation_fraction: float = 0.25
    split: str = SPLIT_HEAD
    partitions: int | None = None
    init_centroids: npt.NDArray[np.float64] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise UsageError(f"k must be >= 1, got {self.k}")
        if self.partitions is not None and self.partitions < 1:
            raise UsageError(f"partitions must be >= 1, got {self.partitions}")
        if self.init_centroids is not None and self.init_centroids.shape != (self.k, N_PIXELS):
            raise UsageError(
                f"initial centroids have shape {self.init_centroids.shape}, "
                f"expected ({self.k}, {N_PIXELS}) for k={self.k}"
            )


@dataclass
class DataSummary:
    """Sizes and identity of the data a model saw."""

    train_size: int
    validation_size: int
    test_size: int | None
    fingerprint: str
    test_fingerprint: str | None


@dataclass
class ExperimentResult:
    """A trained, labelled and evaluated model.

    Attributes
    ----------
    model : LloydResult
    centroid_labels : ndarray of int64, shape (k,)
    validation, test : Evaluation or None
    data : DataSummary
    seconds : dict of str to float
        ``load``, ``train``, ``evaluate``, ``total``.
    """

    model: LloydResult
    centroid_labels: npt.NDArray[np.int64]
    validation: Evaluation | None
    test: Evaluation | None
    data: DataSummary
    seconds: dict[str, float]


def run_experiment(
    train_rows: RDD[Row],
    test_rows: RDD[Row] | None,
    params: TrainParams,
    on_iteration: Callable[[IterationStats], None] | None = None,
) -> ExperimentResult:
    """Run the walkthrough's experiment on Spark.

    Parameters
    ----------
    train_rows : RDD of (id, label, pixels)
        The training input; the validation share is split off it.
    test_rows : RDD of (id, label, pixels), optional
        An independent test set (MNIST's 10,000 digits).
    params : TrainParams
    on_iteration : callable, optional
        Receives every iteration's statistics.

    Returns
    -------
    ExperimentResult
    """
    started = time.perf_counter()
    everything = to_blocks(train_rows, params.partitions)
    train, validation = split_train_validation(
        everything, params.validation_fraction, params.split, params.seed
    )
    if validation is not None:
        everything.unpersist()
    test = to_blocks(test_rows, params.partitions) if test_rows is not None else None
    loaded = time.perf_counter()
    logger.info(
        "data: %d training, %d validation, %s test digits in %d partitions (%.2f s)",
        train.num_digits,
        validation.num_digits if validation else 0,
        test.num_digits if test else "no",
        train.num_partitions,
        loaded - started,
    )
    try:
        initial = (
            params.init_centroids
            if params.init_centroids is not None
            else random_centroids(train, params.k, params.seed)
        )
        model = fit_lloyd(
            train,
            initial,
            max_iter=params.max_iter,
            tol=params.tol,
            empty_cluster=params.empty_cluster,
            on_iteration=on_iteration,
        )
        trained = time.perf_counter()
        centroid_labels = majority_labels(model.label_counts)
        validation_eval = _evaluate(validation, model, centroid_labels)
        test_eval = _evaluate(test, model, centroid_labels)
        finished = time.perf_counter()
        data = DataSummary(
            train.num_digits,
            validation.num_digits if validation else 0,
            test.num_digits if test else None,
            everything.fingerprint,
            test.fingerprint if test else None,
        )
    finally:
        for blocks in (train, validation, test):
            if blocks is not None:
                blocks.unpersist()
    return ExperimentResult(
        model,
        centroid_labels,
        validation_eval,
        test_eval,
        data,
        {
            "load": loaded - started,
            "train": trained - loaded,
            "evaluate": finished - trained,
            "total": finished - started,
        },
    )


def _evaluate(
    blocks: DigitBlocks | None, model: LloydResult, centroid_labels: npt.NDArray[np.int64]
) -> Evaluation | None:
    return None if blocks is None else evaluate(blocks, model.centroids, centroid_labels)
