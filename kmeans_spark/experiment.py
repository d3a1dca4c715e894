"""The walkthrough's experiment: split, train, label the centroids, classify held-out digits.

One k or a sweep of many, each with restarts, all trained in the same passes.

Data in (RDDs of reader rows), numbers out; writing is :mod:`kmeans_spark.model_io`'s.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pyspark import RDD

from kmeans_spark.blocks import DigitBlocks, Row, to_blocks
from kmeans_spark.errors import UsageError
from kmeans_spark.evaluation import Evaluation, evaluate_many, majority_labels
from kmeans_spark.hashing import restart_seeds
from kmeans_spark.init import INIT_METHODS, INIT_RANDOM, InitSpec, initial_centroids
from kmeans_spark.lloyd import (
    EMPTY_FARTHEST,
    BatchState,
    IterationStats,
    LloydResult,
    fit_lloyd_batch,
)
from kmeans_spark.schema import N_PIXELS
from kmeans_spark.split import SPLIT_HEAD, split_train_validation

if TYPE_CHECKING:
    from kmeans_spark.checkpoint import Checkpoint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainParams:
    """Everything that determines a trained model, besides the data.

    Attributes
    ----------
    k : int
    seed : int
        Seeds the initial centroids (restart 0; further restarts derive theirs,
        see :func:`~kmeans_spark.hashing.restart_seeds`) and the random
        validation split.
    max_iter : int
    tol : float
        See :func:`~kmeans_spark.lloyd.fit_lloyd_batch`.
    empty_cluster : {"farthest", "keep"}
    validation_fraction : float
        Share of the training input held out for validation, in [0, 1).
    split : {"head", "random"}
    partitions : int or None
        Number of data partitions; None for Spark's default parallelism.
    init_centroids : ndarray of float64, shape (k, 784), optional
        Start here instead of an initialisation method (one restart only).
    init : {"random", "k-means++", "k-means||"}
    n_init : int
        Restarts per k; the one with the lowest training inertia is kept.
    init_trials : int or None
        Local trials per centre of k-means++ (None: ``2 + int(log k)``).
    init_oversampling : float
        k-means|| samples about ``init_oversampling * k`` points per round.
    init_steps : int
        Rounds of k-means||.
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
    init: str = INIT_RANDOM
    n_init: int = 1
    init_trials: int | None = None
    init_oversampling: float = 2.0
    init_steps: int = 2

    def __post_init__(self) -> None:
        if self.k < 1:
            raise UsageError(f"k must be >= 1, got {self.k}")
        if self.partitions is not None and self.partitions < 1:
            raise UsageError(f"partitions must be >= 1, got {self.partitions}")
        if self.n_init < 1:
            raise UsageError(f"n_init must be >= 1, got {self.n_init}")
        if self.max_iter < 1:
            raise UsageError(f"max_iter must be >= 1, got {self.max_iter}")
        if not self.tol >= 0:
            raise UsageError(f"tol must be >= 0, got {self.tol}")
        if self.init_trials is not None and self.init_trials < 1:
            raise UsageError(f"init_trials must be >= 1, got {self.init_trials}")
        if not (self.init_oversampling > 0 and math.isfinite(self.init_oversampling)):
            raise UsageError(f"init_oversampling must be > 0, got {self.init_oversampling}")
        if self.init_steps < 1:
            raise UsageError(f"init_steps must be >= 1, got {self.init_steps}")
        if self.init not in INIT_METHODS:
            raise UsageError(
                f"unknown initialisation {self.init!r}: choose one of {', '.join(INIT_METHODS)}"
            )
        if self.init_centroids is not None:
            if self.init_centroids.shape != (self.k, N_PIXELS):
                raise UsageError(
                    f"initial centroids have shape {self.init_centroids.shape}, "
                    f"expected ({self.k}, {N_PIXELS}) for k={self.k}"
                )
            if self.n_init != 1:
                raise UsageError("given initial centroids allow one restart only (n_init=1)")

    @property
    def init_name(self) -> str:
        """The initialisation as recorded with a model: a method, or ``given``."""
        return "given" if self.init_centroids is not None else self.init


@dataclass
class DataSummary:
    """Sizes and identity of the data a model saw."""

    train_size: int
    validation_size: int
    test_size: int | None
    fingerprint: str
    test_fingerprint: str | None


@dataclass(frozen=True)
class Restart:
    """One restart of a k: where it started, where it ended, how it classifies.

    Attributes
    ----------
    seed : int
        Reproduces this restart as a single run with ``n_init=1``.
    initial_inertia : float
        Inertia of the training digits to the initial centroids.
    inertia : float
        Inertia to the final centroids.
    iterations : int
    converged : bool
    validation_error_rate, test_error_rate : float or None
    kept : bool
        The restart with the lowest inertia (the first of equals) is the model.
    """

    seed: int
    initial_inertia: float
    inertia: float
    iterations: int
    converged: bool
    validation_error_rate: float | None
    test_error_rate: float | None
    kept: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "initial_inertia": self.initial_inertia,
            "inertia": self.inertia,
            "iterations": self.iterations,
            "converged": self.converged,
            "validation_error_rate": _finite_or_none(self.validation_error_rate),
            "test_error_rate": _finite_or_none(self.test_error_rate),
            "kept": self.kept,
        }


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass
class ExperimentResult:
    """A trained, labelled and evaluated model: the best restart of one k.

    Attributes
    ----------
    params : TrainParams
        With this model's ``k``.
    model : LloydResult
    centroid_labels : ndarray of int64, shape (k,)
    validation, test : Evaluation or None
    data : DataSummary
    seconds : dict of str to float
        ``load``, ``init``, ``train``, ``evaluate``, ``total``: of the whole run,
        which may have trained other models in the same passes.
    restarts : list of Restart
        Every restart of this k, the kept one marked.
    """

    params: TrainParams
    model: LloydResult
    centroid_labels: npt.NDArray[np.int64]
    validation: Evaluation | None
    test: Evaluation | None
    data: DataSummary
    seconds: dict[str, float]
    restarts: list[Restart] = field(default_factory=list)
    variant: dict[str, Any] | None = None
    """``{"algorithm", "preprocess", "per_class"}`` of a k-means variant
    (:mod:`kmeans_spark.variants`); None for plain k-means of raw pixels."""

    @property
    def initial_inertia(self) -> float:
        return self.model.history[0].inertia if self.model.history else math.nan


@dataclass
class SweepResult:
    """Models for several k, trained together.

    Attributes
    ----------
    experiments : list of ExperimentResult
        One per k, in ascending k.
    passes : int
        Lloyd passes over the data: as many as the longest training.
    seconds : dict of str to float
        ``load``, ``init``, ``train``, ``evaluate``, ``total``.
    """

    experiments: list[ExperimentResult]
    passes: int
    seconds: dict[str, float]


def parse_k_list(text: str) -> list[int]:
    """``"5-24,100"`` -> ``[5, 6, ..., 24, 100]``: ascending, without repeats.

    Raises
    ------
    UsageError
        Anything but comma-separated positive integers and ``low-high`` ranges.
    """
    values: set[int] = set()
    for part in text.split(","):
        item = part.strip()
        low, dash, high = item.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise UsageError(
                f"--k {text!r}: expected numbers and ranges such as 5-24,100"
            ) from None
        if first < 1 or last < first:
            raise UsageError(f"--k {text!r}: {item!r} is not a range of k >= 1")
        values.update(range(first, last + 1))
    return sorted(values)


@dataclass
class ExperimentData:
    """The digits of an experiment, cached as blocks: training, validation and test.

    Attributes
    ----------
    train : DigitBlocks
    validation, test : DigitBlocks or None
    summary : DataSummary
    load_seconds : float
    """

    train: DigitBlocks
    validation: DigitBlocks | None
    test: DigitBlocks | None
    summary: DataSummary
    load_seconds: float

    @property
    def held_out(self) -> tuple[DigitBlocks | None, str]:
        """The set a report shows: the validation digits, else the test digits."""
        if self.validation is not None:
            return self.validation, "validation"
        return self.test, "test"


@contextmanager
def experiment_data(
    train_rows: RDD[Row], test_rows: RDD[Row] | None, params: TrainParams
) -> Iterator[ExperimentData]:
    """Parse, cache and split the digits for the block; unpersist them after it.

    Parameters
    ----------
    train_rows : RDD of (id, label, pixels)
        The training input; the validation share (``params.validation_fraction``,
        ``params.split``, ``params.seed``) is split off it.
    test_rows : RDD of (id, label, pixels), optional
        An independent test set (MNIST's 10,000 digits).
    params : TrainParams

    Yields
    ------
    ExperimentData
    """
    started = time.perf_counter()
    cached: list[DigitBlocks] = []
    try:
        everything = to_blocks(train_rows, params.partitions)
        cached.append(everything)
        train, validation = split_train_validation(
            everything, params.validation_fraction, params.split, params.seed
        )
        if validation is not None:
            cached += [train, validation]
            everything.unpersist()
        test = to_blocks(test_rows, params.partitions) if test_rows is not None else None
        if test is not None:
            cached.append(test)
        summary = DataSummary(
            train.num_digits,
            validation.num_digits if validation else 0,
            test.num_digits if test else None,
            everything.fingerprint,
            test.fingerprint if test else None,
        )
        loaded = time.perf_counter() - started
        logger.info(
            "data: %d training, %d validation, %s test digits in %d partitions (%.2f s)",
            train.num_digits,
            summary.validation_size,
            test.num_digits if test else "no",
            train.num_partitions,
            loaded,
            extra={
                "event": "data_loaded",
                "training_digits": train.num_digits,
                "validation_digits": summary.validation_size,
                "test_digits": test.num_digits if test else None,
                "partitions": train.num_partitions,
                "seconds": loaded,
            },
        )
        yield ExperimentData(train, validation, test, summary, loaded)
    finally:
        for blocks in cached:
            blocks.unpersist()


def _sweep_ks(params: TrainParams, ks: Sequence[int]) -> list[int]:
    """``ks`` ascending without repeats, checked against ``params``."""
    ordered = sorted(set(ks))
    if not ordered:
        raise UsageError("no k to train")
    if params.init_centroids is not None and ordered != [params.k]:
        raise UsageError("given initial centroids train exactly one k")
    for k in ordered:
        replace(params, k=k)  # validates k
    return ordered


def train_sweep(
    data: ExperimentData,
    params: TrainParams,
    ks: Sequence[int],
    on_iteration: Callable[[int, IterationStats], None] | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
) -> SweepResult:
    """Train, label and evaluate models for every k in ``ks``, all in the same passes.

    Every k gets ``params.n_init`` restarts; all restarts of all k are
    initialised together and trained as one batch
    (:func:`~kmeans_spark.lloyd.fit_lloyd_batch`), and every restart is
    evaluated in one pass per held-out set. For each k the restart with the
    lowest training inertia is kept, as scikit-learn does.

    Parameters
    ----------
    data : ExperimentData
        From :func:`experiment_data` with the same ``params``.
    params : TrainParams
        Everything but ``k``, which ``ks`` gives.
    ks : sequence of int
    on_iteration : callable, optional
        Receives each model's index (k-major, then restart) and every iteration's
        statistics.
    checkpoint : Checkpoint, optional
        Record the models after every pass here.
    resume : bool
        Go on from ``checkpoint``'s state, skipping the initialisation, when it
        holds one (of this training: else UsageError); the models come out bit
        for bit as without the interruption.

    Returns
    -------
    SweepResult
    """
    ks = _sweep_ks(params, ks)
    per_k = [replace(params, k=k) for k in ks]
    seeds = restart_seeds(params.seed, params.n_init)
    train, validation, test = data.train, data.validation, data.test
    loaded = time.perf_counter()
    specs = [InitSpec(k, seed) for k in ks for seed in seeds]
    identity = checkpoint_identity(data, params, ks)
    resumed: BatchState | None = None
    if checkpoint is not None and resume:
        resumed = checkpoint.load(identity)
        if resumed is None:
            logger.warning("no checkpoint at %s: training from the start", checkpoint.location)
    initial: list[npt.NDArray[np.float64]]
    if resumed is not None:
        # The checkpoint's centroids stand in for the initial ones, which only set the shapes.
        initial = [model.current for model in resumed.models]
    elif params.init_centroids is not None:
        initial = [params.init_centroids]
    else:
        initial = [
            result.centroids
            for result in initial_centroids(
                train,
                specs,
                params.init,
                trials=params.init_trials,
                oversampling=params.init_oversampling,
                steps=params.init_steps,
            )
        ]
        _require_k_centroids(specs, initial)
    initialised = time.perf_counter()
    logger.info(
        "initialised %d models (%s) in %.2f s",
        len(initial),
        params.init_name,
        initialised - loaded,
        extra={
            "event": "initialised",
            "models": len(initial),
            "init": params.init_name,
            "seconds": initialised - loaded,
        },
    )
    models = fit_lloyd_batch(
        train,
        initial,
        max_iter=params.max_iter,
        tol=params.tol,
        empty_cluster=params.empty_cluster,
        on_iteration=on_iteration,
        names=[f"k={spec.k} restart {i % len(seeds)}" for i, spec in enumerate(specs)],
        on_pass=None if checkpoint is None else (lambda state: checkpoint.save(state, identity)),
        resume=resumed,
    )
    trained = time.perf_counter()
    labels = [majority_labels(model.label_counts) for model in models]
    pairs = list(zip([m.centroids for m in models], labels, strict=True))
    validation_evals = _evaluate(validation, pairs)
    test_evals = _evaluate(test, pairs)
    finished = time.perf_counter()
    seconds = {
        "load": data.load_seconds,
        "init": initialised - loaded,
        "train": trained - initialised,
        "evaluate": finished - trained,
        "total": data.load_seconds + finished - loaded,
    }
    experiments = []
    for position, k_params in enumerate(per_k):
        indices = range(position * len(seeds), (position + 1) * len(seeds))
        best = min(indices, key=lambda i: models[i].inertia)  # the first of equals
        restarts = [
            Restart(
                seeds[i - indices.start],
                models[i].history[0].inertia,
                models[i].inertia,
                models[i].iterations,
                models[i].converged,
                _error_rate(validation_evals[i]),
                _error_rate(test_evals[i]),
                i == best,
            )
            for i in indices
        ]
        experiments.append(
            ExperimentResult(
                k_params,
                models[best],
                labels[best],
                validation_evals[best],
                test_evals[best],
                data.summary,
                seconds,
                restarts,
            )
        )
    passes = max(m.iterations for m in models) if models else 0
    return SweepResult(experiments, passes, seconds)


def _require_k_centroids(
    specs: Sequence[InitSpec], initial: Sequence[npt.NDArray[np.float64]]
) -> None:
    """Refuse, before training, a k that the training digits cannot fill.

    k-means++ and k-means|| return fewer centroids (with a warning) when the data
    holds fewer than k distinct digits; the jobs treat that as ``random`` does,
    as a clear error, rather than train and label a model of another k.
    """
    for spec, centroids in zip(specs, initial, strict=True):
        if centroids.shape[0] < spec.k:
            raise UsageError(
                f"k={spec.k} but the training data holds only {centroids.shape[0]} "
                "distinct digits: choose a smaller k"
            )


def checkpoint_identity(
    data: ExperimentData, params: TrainParams, ks: Sequence[int]
) -> dict[str, Any]:
    """What a checkpoint of :func:`train_sweep` must match to be resumed: parameters and data."""
    fixed = {
        f.name: getattr(params, f.name)
        for f in fields(params)
        if f.name not in ("k", "init_centroids")
    }
    given = params.init_centroids
    given_digest = (
        None
        if given is None
        else hashlib.sha256(np.ascontiguousarray(given, dtype=np.float64).tobytes()).hexdigest()
    )
    return {
        **fixed,
        "ks": [int(k) for k in ks],
        "init_centroids": given_digest,
        "fingerprint": data.summary.fingerprint,
        "test_fingerprint": data.summary.test_fingerprint,
        "train_size": data.summary.train_size,
        "validation_size": data.summary.validation_size,
    }


def run_sweep(
    train_rows: RDD[Row],
    test_rows: RDD[Row] | None,
    params: TrainParams,
    ks: Sequence[int],
    on_iteration: Callable[[int, IterationStats], None] | None = None,
) -> SweepResult:
    """Load the digits and :func:`train_sweep` on them; the blocks are released after.

    Parameters
    ----------
    train_rows : RDD of (id, label, pixels)
        The training input; the validation share is split off it.
    test_rows : RDD of (id, label, pixels), optional
        An independent test set (MNIST's 10,000 digits).
    params : TrainParams
    ks : sequence of int
    on_iteration : callable, optional
        As for :func:`train_sweep`.

    Returns
    -------
    SweepResult
    """
    _sweep_ks(params, ks)  # before any work
    with experiment_data(train_rows, test_rows, params) as data:
        return train_sweep(data, params, ks, on_iteration)


def run_experiment(
    train_rows: RDD[Row],
    test_rows: RDD[Row] | None,
    params: TrainParams,
    on_iteration: Callable[[IterationStats], None] | None = None,
) -> ExperimentResult:
    """Run the walkthrough's experiment on Spark for one k: a sweep of one.

    Parameters
    ----------
    train_rows : RDD of (id, label, pixels)
        The training input; the validation share is split off it.
    test_rows : RDD of (id, label, pixels), optional
        An independent test set (MNIST's 10,000 digits).
    params : TrainParams
    on_iteration : callable, optional
        Receives every iteration's statistics (of every restart).

    Returns
    -------
    ExperimentResult
    """
    callback = None if on_iteration is None else (lambda _, stats: on_iteration(stats))
    (result,) = run_sweep(train_rows, test_rows, params, [params.k], callback).experiments
    return result


def _evaluate(
    blocks: DigitBlocks | None,
    models: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]],
) -> list[Evaluation | None]:
    if blocks is None:
        return [None] * len(models)
    return list(evaluate_many(blocks, models))


def _error_rate(evaluation: Evaluation | None) -> float | None:
    return None if evaluation is None else evaluation.error_rate
