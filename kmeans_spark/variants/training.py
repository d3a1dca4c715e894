"""Lloyd iterations of k-medians, spherical and per-class models: one map and one reduceByKey.

Every pass broadcasts the current centres of all models still training; the map
step assigns each model's points of a block (all of them, or those of its class
for a per-class model) under the model's algorithm and emits one
:class:`~kmeans_spark.variants.algorithms.ClusterPartial` per ``(model,
cluster)``; one ``reduceByKey`` adds them; the driver computes the new centres
and stops a model when no centre moves farther than ``tol`` (0: not at all) or
after ``max_iter`` iterations. A model stopped by ``max_iter`` joins one more pass
that only counts, so that its sizes, label counts and cost belong to its final
centres, as for :func:`~kmeans_spark.lloyd.fit_lloyd_batch`.

Partials are integers (counts, histograms, fixed-point sums), so a model comes
out the same in a batch as alone, and a per-class model as the same model
trained on its class's digits alone. Assignments use float64 products of each
block's rows: the same for the same partitioning and run after run; a point
exactly half-way between two centres could be decided differently by another
partitioning (the exact integer engine of :mod:`kmeans_spark.lloyd`, used for
plain k-means of raw pixels, has no such caveat).

Points are not tracked from pass to pass, so :attr:`IterationStats.moved` is -1
for these models: the stop rule is the centres' shift.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark import RDD

from kmeans_spark.errors import UsageError
from kmeans_spark.lloyd import IterationStats, LloydResult
from kmeans_spark.medians import FloatBins
from kmeans_spark.schema import N_CLASSES
from kmeans_spark.variants.algorithms import (
    ClusterPartial,
    add_partials,
    assign,
    cluster_partials,
    updated_centres,
)
from kmeans_spark.variants.features import FeatureBlock, FeatureSpace

logger = logging.getLogger(__name__)

MOVED_NOT_COUNTED = -1


@dataclass(frozen=True)
class VariantModel:
    """One model of a batch: where it starts and which points it sees.

    Attributes
    ----------
    centres : ndarray of float64, shape (k, d)
        Initial centres, in the feature space.
    only_label : int or None
        Train on the digits of this true label only (a per-class model); None: all.
    name : str
        For logs.
    """

    centres: npt.NDArray[np.float64]
    only_label: int | None = None
    name: str = ""


@dataclass(frozen=True)
class _Payload:
    algorithm: str
    bins: FloatBins | None
    models: tuple[tuple[int, int | None, npt.NDArray[np.float64]], ...]


def _map_step(payload: _Payload) -> Callable[[Iterable[tuple[int, FeatureBlock]]], Iterator[Any]]:
    def run(items: Iterable[tuple[int, FeatureBlock]]) -> Iterator[Any]:
        for _, block in items:
            for model, only_label, centres in payload.models:
                if only_label is None:
                    features, labels = block.features, block.labels
                else:
                    rows = block.labels == only_label
                    features, labels = block.features[rows], block.labels[rows]
                assignment, cost = assign(payload.algorithm, features, centres)
                for cluster, partial in cluster_partials(
                    payload.algorithm,
                    features,
                    labels,
                    assignment,
                    cost,
                    centres.shape[0],
                    payload.bins,
                ):
                    yield (model, cluster), partial

    return run


def run_variant_pass(
    features: RDD[tuple[int, FeatureBlock]],
    space: FeatureSpace,
    centres: dict[int, npt.NDArray[np.float64]],
    only_labels: dict[int, int | None],
) -> dict[int, dict[int, ClusterPartial]]:
    """One pass: every listed model's points assigned and summed per cluster.

    Parameters
    ----------
    features : RDD of (int, FeatureBlock)
    space : FeatureSpace
    centres : dict of model index to ndarray of float64, shape (k_m, d)
    only_labels : dict of model index to int or None

    Returns
    -------
    dict of model index to (dict of cluster to ClusterPartial)
        Clusters without points are absent.
    """
    payload = _Payload(
        space.algorithm,
        space.median_bins,
        tuple((m, only_labels[m], centres[m]) for m in sorted(centres)),
    )
    context = features.context
    broadcast = context.broadcast(payload)
    clusters = sum(c.shape[0] for c in centres.values())
    try:
        merged = (
            features.mapPartitions(lambda items: _map_step(broadcast.value)(items))
            .reduceByKey(
                add_partials, numPartitions=max(1, min(clusters, context.defaultParallelism))
            )
            .collect()
        )
    finally:
        broadcast.destroy()
    per_model: dict[int, dict[int, ClusterPartial]] = {m: {} for m in centres}
    for (model, cluster), partial in merged:
        per_model[model][cluster] = partial
    return per_model


@dataclass
class _Run:
    index: int
    model: VariantModel
    current: npt.NDArray[np.float64]
    history: list[IterationStats] = field(default_factory=list)
    converged: bool = False
    training: bool = True
    counted: dict[int, ClusterPartial] | None = None
    """Partials of the points assigned to ``current``, once known."""

    def result(self) -> LloydResult:
        k = self.current.shape[0]
        counted = self.counted or {}
        sizes = np.zeros(k, dtype=np.int64)
        label_counts = np.zeros((k, N_CLASSES), dtype=np.int64)
        cost = 0.0
        for j, partial in sorted(counted.items()):
            sizes[j] = partial.count
            label_counts[j] = partial.label_counts
            cost += partial.cost
        return LloydResult(
            self.current,
            len(self.history),
            self.converged,
            cost,
            sizes,
            label_counts,
            list(self.history),
        )


def fit_variants(
    features: RDD[tuple[int, FeatureBlock]],
    space: FeatureSpace,
    models: Sequence[VariantModel],
    *,
    max_iter: int = 300,
    tol: float = 0.0,
    on_iteration: Callable[[int, IterationStats], None] | None = None,
) -> list[LloydResult]:
    """Train a batch of models of one algorithm and feature space in the same passes.

    Parameters
    ----------
    features : RDD of (int, FeatureBlock)
        From :func:`~kmeans_spark.variants.features.feature_blocks`.
    space : FeatureSpace
    models : sequence of VariantModel
    max_iter : int
        Most iterations per model, ``>= 1``.
    tol : float
        Stop a model when no centre moves farther (Euclidean) than this; ``>= 0``.
    on_iteration : callable, optional
        Receives each model's index and every iteration's statistics.

    Returns
    -------
    list of LloydResult
        One per model, in order. ``inertia`` is the algorithm's cost of the
        training points to the final centres: squared Euclidean distances,
        L1 distances, or ``1 - cosine``.
    """
    if max_iter < 1:
        raise UsageError(f"max_iter must be >= 1, got {max_iter}")
    if not tol >= 0:
        raise UsageError(f"tol must be >= 0, got {tol}")
    runs = [
        _Run(i, model, np.array(model.centres, dtype=np.float64)) for i, model in enumerate(models)
    ]
    only_labels = {run.index: run.model.only_label for run in runs}
    while True:
        members = [r for r in runs if r.training or r.counted is None]
        if not members:
            break
        started = time.perf_counter()
        merged = run_variant_pass(
            features, space, {r.index: r.current for r in members}, only_labels
        )
        seconds = time.perf_counter() - started
        for run in members:
            partials = merged[run.index]
            run.counted = partials
            if not run.training:
                continue  # the counting pass of a model stopped by max_iter
            updated = updated_centres(space.algorithm, run.current, partials, space.median_bins)
            shift = float(np.sqrt(((updated - run.current) ** 2).sum(axis=1)).max())
            empty = tuple(j for j in range(run.current.shape[0]) if j not in partials)
            stats = IterationStats(
                len(run.history) + 1,
                MOVED_NOT_COUNTED,
                shift,
                float(sum(p.cost for p in partials.values())),
                seconds,
                empty,
            )
            run.history.append(stats)
            if on_iteration is not None:
                on_iteration(run.index, stats)
            logger.debug(
                "%s%siteration %d: max shift %.6g, cost %.6g",
                run.model.name,
                " " if run.model.name else "",
                stats.iteration,
                shift,
                stats.inertia,
                extra={
                    "event": "iteration",
                    "model": run.model.name,
                    "iteration": stats.iteration,
                    "max_shift": shift,
                    "inertia": stats.inertia,
                    "seconds": seconds,
                },
            )
            if shift <= tol:
                # Centres that did not move (beyond tol): their last counts stand.
                run.converged, run.training = True, False
                if shift > 0:
                    run.current, run.counted = updated, None
                continue
            run.current = updated
            run.counted = None
            if len(run.history) >= max_iter:
                run.training = False
        training = [r for r in members if r.training]
        logger.info(
            "pass: %d models, %d still training, largest shift %.6g, %.2f s",
            len(members),
            len(training),
            max((r.history[-1].max_shift for r in training), default=0.0),
            seconds,
            extra={
                "event": "pass",
                "models": len(members),
                "training": len(training),
                "seconds": seconds,
            },
        )
    return [run.result() for run in runs]
