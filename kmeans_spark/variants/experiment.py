"""The walkthrough's experiment with the k-means family's variants: train, label, classify.

A :class:`VariantParams` says which variant: the algorithm (k-means, k-medians,
spherical), the preprocessing of the digits (deskewing, unit length), and
whether the centres are learned per class (``per_class`` centres from each
digit class's points only, each labelled with its class). :func:`train_variants`
trains every k of a sweep (and every restart) of one variant in the same passes
and classifies the held-out digits by their nearest centre under the variant's
own distance, in its own feature space. Plain k-means of raw pixels is not a
variant: :func:`kmeans_spark.experiment.train_sweep` trains it exactly.

Initial centres are chosen among the training digits by the usual methods
(:func:`kmeans_spark.init.initial_centroids`: random, k-means++, k-means||; for a
per-class model, among the digits of the class), then mapped into the feature
space like every digit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark import RDD

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.errors import UsageError
from kmeans_spark.evaluation import Evaluation, majority_labels, merge_many, score_assignment
from kmeans_spark.experiment import (
    ExperimentData,
    ExperimentResult,
    Restart,
    SweepResult,
    TrainParams,
)
from kmeans_spark.hashing import restart_seeds
from kmeans_spark.init import InitSpec, initial_centroids
from kmeans_spark.lloyd import IterationStats, LloydResult
from kmeans_spark.preprocess import parse_preprocess
from kmeans_spark.schema import N_CLASSES
from kmeans_spark.variants.algorithms import KMEANS, assign, check_algorithm
from kmeans_spark.variants.features import FeatureBlock, FeatureSpace, feature_blocks
from kmeans_spark.variants.training import MOVED_NOT_COUNTED, VariantModel, fit_variants

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariantParams:
    """Which member of the k-means family a model is.

    Attributes
    ----------
    algorithm : {"k-means", "k-medians", "spherical"}
    preprocess : tuple of str
        Steps of :mod:`kmeans_spark.preprocess` (``deskew``, ``normalize``).
    per_class : bool
        Learn ``k`` centres from each digit class's training digits (``10 k`` in
        all), each labelled with its class; else ``k`` centres from all digits,
        labelled by majority.
    """

    algorithm: str = KMEANS
    preprocess: tuple[str, ...] = ()
    per_class: bool = False

    def __post_init__(self) -> None:
        check_algorithm(self.algorithm)
        if tuple(parse_preprocess(",".join(self.preprocess))) != tuple(self.preprocess):
            raise UsageError(
                f"preprocess {self.preprocess!r} is not in canonical form: use parse_preprocess"
            )

    @property
    def is_plain(self) -> bool:
        """Plain k-means of raw pixels, for the exact engine of :mod:`kmeans_spark.lloyd`."""
        return self.algorithm == KMEANS and not self.preprocess and not self.per_class

    @property
    def space(self) -> FeatureSpace:
        return FeatureSpace(self.algorithm, self.preprocess)

    def describe(self) -> str:
        """E.g. ``spherical, deskew+normalize, per class``."""
        parts = [self.algorithm, "+".join(self.preprocess) or "raw pixels"]
        if self.per_class:
            parts.append("per class")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "preprocess": list(self.preprocess),
            "per_class": self.per_class,
        }


def _of_label(label: int) -> Callable[[DigitBlock], npt.NDArray[np.bool_]]:
    def keep(block: DigitBlock) -> npt.NDArray[np.bool_]:
        return block.labels == label

    return keep


def _class_blocks(blocks: DigitBlocks) -> dict[int, DigitBlocks]:
    """The training digits of each class present, as cached blocks (unpersisted by the caller)."""
    present = [c for c in range(N_CLASSES) if blocks.summary.class_counts[c] > 0]
    return {c: blocks.select(_of_label(c)) for c in present}


def _initialise(
    blocks: DigitBlocks, specs: Sequence[InitSpec], params: TrainParams
) -> list[npt.NDArray[np.float64]]:
    """Initial digit-valued centres of every spec, by ``params``' method."""
    results = initial_centroids(
        blocks,
        specs,
        params.init,
        trials=params.init_trials,
        oversampling=params.init_oversampling,
        steps=params.init_steps,
    )
    return [result.centroids for result in results]


def _initial_models(
    train: DigitBlocks, params: TrainParams, variant: VariantParams, ks: Sequence[int]
) -> tuple[list[tuple[int, int]], list[list[VariantModel]]]:
    """Per (k, seed), the models to train: one global model, or one per class."""
    seeds = restart_seeds(params.seed, params.n_init)
    runs = [(k, seed) for k in ks for seed in seeds]
    specs = [InitSpec(k, seed) for k, seed in runs]
    space = variant.space
    if not variant.per_class:
        if params.init_centroids is not None:
            chosen = [params.init_centroids]
        else:
            chosen = _initialise(train, specs, params)
        models = [
            [VariantModel(_in_space(space, c), None, f"k={k} seed {seed}")]
            for (k, seed), c in zip(runs, chosen, strict=True)
        ]
        return runs, models
    if params.init_centroids is not None:
        raise UsageError("given initial centroids cannot be split by class: drop --per-class")
    per_class: list[list[VariantModel]] = [[] for _ in runs]
    class_blocks = _class_blocks(train)
    try:
        for label, blocks in class_blocks.items():
            for k, _ in runs:
                if k > blocks.num_digits:
                    raise UsageError(
                        f"per-class k={k} but class {label} has only {blocks.num_digits} "
                        "training digits"
                    )
            results = _initialise(blocks, specs, params)
            for i, ((k, seed), centres) in enumerate(zip(runs, results, strict=True)):
                if centres.shape[0] < k:
                    raise UsageError(
                        f"per-class k={k} but class {label} holds only "
                        f"{centres.shape[0]} distinct digits"
                    )
                name = f"k={k} seed {seed} class {label}"
                per_class[i].append(VariantModel(_in_space(space, centres), label, name))
    finally:
        for blocks in class_blocks.values():
            blocks.unpersist()
    return runs, per_class


def _in_space(space: FeatureSpace, centres: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Digit-valued centres (0..255) as centres in the feature space."""
    return np.asarray(space.transform(np.asarray(centres)), dtype=np.float64)


def combine_class_models(results: Sequence[LloydResult]) -> LloydResult:
    """One model of the centres of several per-class models, stacked in class order.

    Iteration ``i`` of the combined history has the largest shift and the summed
    cost of the classes at their iteration ``i`` (or their last, if they stopped
    earlier).
    """
    iterations = max(r.iterations for r in results)
    history = []
    for i in range(iterations):
        stats = [r.history[min(i, len(r.history) - 1)] for r in results if r.history]
        history.append(
            IterationStats(
                i + 1,
                MOVED_NOT_COUNTED,
                max(s.max_shift for s in stats if s.iteration == i + 1),
                float(sum(s.inertia for s in stats)),
                max(s.seconds for s in stats),
                (),
            )
        )
    return LloydResult(
        np.vstack([r.centroids for r in results]),
        iterations,
        all(r.converged for r in results),
        float(sum(r.inertia for r in results)),
        np.concatenate([r.cluster_sizes for r in results]),
        np.vstack([r.label_counts for r in results]),
        history,
    )


def _score_block(
    block: FeatureBlock,
    space: FeatureSpace,
    models: Sequence[tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]],
) -> list[Evaluation]:
    return [
        score_assignment(block.labels, assign(space.algorithm, block.features, centres)[0], labels)
        for centres, labels in models
    ]


def evaluate_variants(
    features: RDD[tuple[int, FeatureBlock]],
    space: FeatureSpace,
    models: Sequence[tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]],
) -> list[Evaluation]:
    """Classify cached features by their nearest centre's label, for several models in one pass.

    Parameters
    ----------
    features : RDD of (int, FeatureBlock)
    space : FeatureSpace
    models : sequence of (centres of shape (k_m, d), labels of shape (k_m,))

    Returns
    -------
    list of Evaluation
    """
    if not models:
        return []
    broadcast = features.context.broadcast(list(models))
    try:
        return features.map(lambda kv: _score_block(kv[1], space, broadcast.value)).treeReduce(
            merge_many
        )
    finally:
        broadcast.destroy()


def train_variants(
    data: ExperimentData,
    params: TrainParams,
    variant: VariantParams,
    ks: Sequence[int],
    on_iteration: Callable[[int, IterationStats], None] | None = None,
) -> SweepResult:
    """Train, label and evaluate a variant for every k in ``ks``, all in the same passes.

    Parameters
    ----------
    data : ExperimentData
        From :func:`~kmeans_spark.experiment.experiment_data` with the same ``params``.
    params : TrainParams
        Everything but ``k``; ``empty_cluster`` does not apply (an empty
        cluster keeps its centre).
    variant : VariantParams
    ks : sequence of int
        Centres per model, or per class with ``variant.per_class``.
    on_iteration : callable, optional
        Receives each trained model's index and its iteration statistics.

    Returns
    -------
    SweepResult
        ``inertia`` is the variant's cost (see
        :func:`~kmeans_spark.variants.training.fit_variants`); a per-class
        model's centres are stacked by class, ``k`` per class.
    """
    ordered = sorted(set(ks))
    if not ordered:
        raise UsageError("no k to train")
    space = variant.space
    started = time.perf_counter()
    runs, models = _initial_models(data.train, params, variant, ordered)
    initialised = time.perf_counter()
    logger.info(
        "initialised %d models (%s, %s) in %.2f s",
        sum(len(m) for m in models),
        params.init_name,
        variant.describe(),
        initialised - started,
        extra={"event": "initialised", "models": len(runs), "seconds": initialised - started},
    )
    cached: list[RDD[Any]] = []
    try:
        train = feature_blocks(data.train, space)
        cached.append(train)
        flat = [model for group in models for model in group]
        trained = fit_variants(
            train, space, flat, max_iter=params.max_iter, tol=params.tol, on_iteration=on_iteration
        )
        finished_training = time.perf_counter()
        results: list[LloydResult] = []
        labels: list[npt.NDArray[np.int64]] = []
        position = 0
        for group in models:
            part = trained[position : position + len(group)]
            position += len(group)
            if variant.per_class:
                results.append(combine_class_models(part))
                labels.append(
                    np.concatenate(
                        [np.full(m.centres.shape[0], m.only_label, dtype=np.int64) for m in group]
                    )
                )
            else:
                results.append(part[0])
                labels.append(majority_labels(part[0].label_counts))
        pairs = [(r.centroids, lab) for r, lab in zip(results, labels, strict=True)]
        evaluations: dict[str, list[Evaluation | None]] = {}
        for name, blocks in (("validation", data.validation), ("test", data.test)):
            if blocks is None:
                evaluations[name] = [None] * len(results)
                continue
            held_out = feature_blocks(blocks, space)
            cached.append(held_out)
            evaluations[name] = list(evaluate_variants(held_out, space, pairs))
    finally:
        for rdd in cached:
            rdd.unpersist()
    finished = time.perf_counter()
    seconds = {
        "load": data.load_seconds,
        "init": initialised - started,
        "train": finished_training - initialised,
        "evaluate": finished - finished_training,
        "total": data.load_seconds + finished - started,
    }
    return _sweep_result(data, params, variant, runs, results, labels, evaluations, seconds)


def _sweep_result(
    data: ExperimentData,
    params: TrainParams,
    variant: VariantParams,
    runs: list[tuple[int, int]],
    results: list[LloydResult],
    labels: list[npt.NDArray[np.int64]],
    evaluations: dict[str, list[Evaluation | None]],
    seconds: dict[str, float],
) -> SweepResult:
    """The best restart of each k, as :func:`~kmeans_spark.experiment.train_sweep` gives it."""
    experiments = []
    for k in sorted({k for k, _ in runs}):
        indices = [i for i, (run_k, _) in enumerate(runs) if run_k == k]
        best = min(indices, key=lambda i: results[i].inertia)  # the first of equals
        restarts = [
            Restart(
                runs[i][1],
                results[i].history[0].inertia if results[i].history else float("nan"),
                results[i].inertia,
                results[i].iterations,
                results[i].converged,
                _error_rate(evaluations["validation"][i]),
                _error_rate(evaluations["test"][i]),
                i == best,
            )
            for i in indices
        ]
        experiments.append(
            ExperimentResult(
                replace(params, k=k),
                results[best],
                labels[best],
                evaluations["validation"][best],
                evaluations["test"][best],
                data.summary,
                seconds,
                restarts,
                variant.as_dict(),
            )
        )
    passes = max((r.iterations for r in results), default=0)
    return SweepResult(experiments, passes, seconds)


def _error_rate(evaluation: Evaluation | None) -> float | None:
    return None if evaluation is None else evaluation.error_rate
