"""Lloyd's algorithm as a Spark map-reduce job, for a batch of models at once.

Every iteration is one job of fixed shape:

1. the current centroids of every model still training are broadcast together
   (prepared once, see :class:`~kmeans_spark.distances.PreparedCentroids`);
2. a map over the cached blocks assigns every point of a block to its nearest
   centroid of each model, sharing one float32 matrix product between the
   models (:func:`~kmeans_spark.distances.assign_batch`), and emits one exact
   integer partial per ``(model, cluster)`` (:func:`~kmeans_spark.partials.partial_sums`;
   after a model's first pass only what changed, :func:`~kmeans_spark.partials.partial_changes`);
3. one ``reduceByKey`` merges the partials per ``(model, cluster)``;
4. the driver computes every model's new centroids and decides which go on: a
   model that has converged drops out of later passes.

A single model is a batch of one. Assignments are exact and partials are
integers, so a model trained in a batch has bit for bit the centroids it has
when trained alone. To count the points that changed cluster without a second
pass, each pass keeps its assignments beside the blocks for the next one
(:class:`~kmeans_spark.passes.BlockPasses`).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.distances import (
    Assignment,
    PreparedCentroids,
    assign_batch,
    assign_nearest,
    sq_distances_to_assigned,
)
from kmeans_spark.errors import UsageError
from kmeans_spark.partials import ClusterTotals, partial_changes, partial_sums
from kmeans_spark.passes import BlockPasses
from kmeans_spark.schema import N_PIXELS

logger = logging.getLogger(__name__)

EMPTY_FARTHEST = "farthest"
EMPTY_KEEP = "keep"
EMPTY_CLUSTER_POLICIES = (EMPTY_FARTHEST, EMPTY_KEEP)

PartialKey = tuple[int, int]
"""``(model, cluster)``."""


@dataclass(frozen=True)
class IterationStats:
    """What one Lloyd iteration did.

    Attributes
    ----------
    iteration : int
        1-based.
    moved : int
        Points assigned to another cluster than in the previous iteration (all
        points in the first).
    max_shift : float
        Largest Euclidean distance a centroid moved.
    inertia : float
        Sum of squared distances to the centroids used for the assignment.
    seconds : float
        Wall time of the iteration, driver work included.
    empty_clusters : tuple of int
        Clusters that received no point, and were re-seeded or kept.
    """

    iteration: int
    moved: int
    max_shift: float
    inertia: float
    seconds: float
    empty_clusters: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["empty_clusters"] = list(self.empty_clusters)
        return record


@dataclass
class LloydResult:
    """A trained model's centroids and what training measured.

    Attributes
    ----------
    centroids : ndarray of float64, shape (k, 784)
    iterations : int
    converged : bool
    inertia : float
        Sum of squared distances of the training points to the final centroids.
    cluster_sizes : ndarray of int64, shape (k,)
        Training points nearest to each final centroid.
    label_counts : ndarray of int64, shape (k, 10)
        True labels of those points, per cluster.
    history : list of IterationStats
    """

    centroids: npt.NDArray[np.float64]
    iterations: int
    converged: bool
    inertia: float
    cluster_sizes: npt.NDArray[np.int64]
    label_counts: npt.NDArray[np.int64]
    history: list[IterationStats] = field(default_factory=list)


@dataclass(frozen=True)
class ModelState:
    """One model of a batch between two passes: enough to go on from there.

    Attributes
    ----------
    current : ndarray of float64, shape (k, 784)
        The centroids the model's next pass would assign to.
    primed_with : ndarray of float64, shape (k, 784), or None
        The centroids the model was assigned to in the batch's last pass; None
        when it was not in that pass.
    history : tuple of IterationStats
    converged : bool
    training : bool
    totals : ClusterTotals or None
        The totals of the model's last pass, kept only when that pass was not
        the batch's last (a pass with ``primed_with`` recomputes them).
    """

    current: npt.NDArray[np.float64]
    primed_with: npt.NDArray[np.float64] | None
    history: tuple[IterationStats, ...]
    converged: bool
    training: bool
    totals: ClusterTotals | None


@dataclass(frozen=True)
class BatchState:
    """A batch of models after a pass, as :func:`fit_lloyd_batch` reports and resumes it.

    A pure function of the initial centroids and the data: every pass's input
    is, since assignments are exact and sums integers. Resuming replays the last
    pass (``primed_with``) to rebuild what the executors kept, so the moved
    counts, and with them the stop rule, come out as without the interruption.

    Attributes
    ----------
    passes : int
        Passes done.
    models : tuple of ModelState
        One per model, in order.
    """

    passes: int
    models: tuple[ModelState, ...]


def _add_partials(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    return left + right


@dataclass(frozen=True)
class _PassPayload:
    """What every task of a pass needs: the prepared centroids of the models in it."""

    models: tuple[int, ...]
    prepared: tuple[PreparedCentroids, ...]


def _assign_and_sum(
    block: DigitBlock, previous: dict[int, Assignment] | None, payload: _PassPayload
) -> tuple[dict[int, Assignment], list[tuple[PartialKey, npt.NDArray[np.int64]]]]:
    """The map step: assign the block to every model's centroids and sum per cluster."""
    before = [None if previous is None else previous.get(m) for m in payload.models]
    assignments = assign_batch(block.pixels, block.sq_norms, payload.prepared, before)
    emitted: list[tuple[PartialKey, npt.NDArray[np.int64]]] = []
    for model, assignment, old in zip(payload.models, assignments, before, strict=True):
        # After the first pass only the points that moved change the totals.
        partials = (
            partial_sums(block.pixels, block.sq_norms, block.labels, assignment.labels, None)
            if old is None
            else partial_changes(
                block.pixels, block.sq_norms, block.labels, assignment.labels, old.labels
            )
        )
        emitted.extend(((model, cluster), partial) for cluster, partial in partials)
    return dict(zip(payload.models, assignments, strict=True)), emitted


def _farthest_points(
    requests: Mapping[int, tuple[npt.NDArray[np.float64], int]],
) -> Callable[[DigitBlock, dict[int, Assignment] | None], Iterator[tuple[Any, ...]]]:
    """Per block and requested model, the ``count`` points farthest from their centroid.

    The kept assignment of the last pass says each point's centroid; a block whose
    executor lost it (``kept`` None) assigns its points again, exactly, to the
    same centroids, which gives the same labels.
    """

    def run(block: DigitBlock, kept: dict[int, Assignment] | None) -> Iterator[tuple[Any, ...]]:
        if len(block) == 0:
            return
        for model, (centroids, count) in requests.items():
            labels = (
                assign_nearest(block.pixels, block.sq_norms, PreparedCentroids.of(centroids, None))
                if kept is None
                else kept[model].labels
            )
            distances = sq_distances_to_assigned(block.pixels, labels, centroids)
            # Largest distance first, ties to the smaller id: independent of partitioning.
            order = np.lexsort((block.ids, -distances))[:count]
            for i in order.tolist():
                yield (
                    model,
                    float(distances[i]),
                    int(block.ids[i]),
                    int(labels[i]),
                    block.pixels[i].tobytes(),
                )

    return run


class LloydRunner:
    """Runs Lloyd passes of several models over one set of cached blocks.

    Each pass keeps the assignment of every model in it, for the next pass to
    count moved points and skip rows that cannot change cluster. A model absent
    from a pass loses its kept assignment.

    Parameters
    ----------
    blocks : DigitBlocks
        The training digits.
    resident : bool
        Read the blocks from executor-local copies (see
        :class:`~kmeans_spark.passes.BlockPasses`).
    """

    def __init__(self, blocks: DigitBlocks, resident: bool = True) -> None:
        self.passes = BlockPasses(blocks, resident=resident)
        self._kept_centroids: dict[int, npt.NDArray[np.float64]] = {}
        self._kept_totals: dict[int, ClusterTotals] = {}

    @property
    def resident(self) -> Any:
        """The executor-local block copies, or None when blocks stream from the cache."""
        return self.passes.resident

    def run_pass(
        self, centroids: Mapping[int, npt.NDArray[np.float64]]
    ) -> dict[int, ClusterTotals]:
        """Assign every point to each model's centroids and merge the partials.

        Parameters
        ----------
        centroids : mapping of model index to ndarray of float64, shape (k_m, 784)

        Returns
        -------
        dict of model index to ClusterTotals
        """
        models = tuple(sorted(centroids))
        prepared = tuple(
            # The kept assignment's bounds let rows whose centroid cannot change skip work.
            PreparedCentroids.of(centroids[m], self._kept_centroids.get(m))
            for m in models
        )
        clusters = sum(p.k for p in prepared)
        merged = self.passes.run(
            _assign_and_sum,
            _PassPayload(models, prepared),
            _add_partials,
            keep_state=True,
            reduce_partitions=max(1, min(clusters, self.passes.context.defaultParallelism)),
            # Without its kept assignments a pass still assigns exactly; it only
            # cannot tell which points moved, and emits whole sums instead of changes.
            lost_state="restart",
        )
        with_state = self.passes.last_pass_had_state
        per_model: dict[int, list[tuple[int, npt.NDArray[np.int64]]]] = {m: [] for m in models}
        for (model, cluster), partial in merged:
            per_model[model].append((cluster, partial))
        totals = {
            m: (
                self._kept_totals[m].with_changes(per_model[m])
                if with_state and m in self._kept_totals
                else ClusterTotals.from_partials(centroids[m].shape[0], per_model[m])
            )
            for m in models
        }
        self._kept_centroids = {m: np.array(centroids[m], dtype=np.float64) for m in models}
        self._kept_totals = totals
        return totals

    def farthest_points(
        self, requests: Mapping[int, int]
    ) -> dict[int, list[tuple[float, int, int, npt.NDArray[np.uint8]]]]:
        """Per model, the ``count`` points farthest from their centroid in the last pass.

        Parameters
        ----------
        requests : mapping of model index to count
            Models of the last pass.

        Returns
        -------
        dict of model index to list of (squared distance, id, cluster, pixels of shape (784,))
            Farthest first, ties to the smaller id.
        """
        missing = set(requests) - set(self._kept_centroids)
        if missing:
            raise RuntimeError(f"no kept assignment for models {sorted(missing)}")
        jobs = {m: (self._kept_centroids[m], count) for m, count in requests.items()}
        found: dict[int, list[tuple[float, int, int, bytes]]] = {m: [] for m in requests}
        for model, distance, digit_id, cluster, pixels in self.passes.collect(
            _farthest_points(jobs), lost_state="none"
        ):
            found[model].append((distance, digit_id, cluster, pixels))
        return {
            m: [
                (d, i, c, np.frombuffer(p, dtype=np.uint8))
                for d, i, c, p in heapq.nsmallest(
                    requests[m], candidates, key=lambda c: (-c[0], c[1])
                )
            ]
            for m, candidates in found.items()
        }

    def close(self) -> None:
        """Drop the kept assignments and the local copies of the blocks."""
        self.passes.close()
        self._kept_centroids = {}
        self._kept_totals = {}


def _relocate_empty_clusters(
    candidates: Sequence[tuple[float, int, int, npt.NDArray[np.uint8]]],
    totals: ClusterTotals,
    empty: list[int],
    prefix: str = "",
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[int]]:
    """Re-seed empty clusters at the points farthest from their centroids.

    ``candidates`` are the points farthest from their centroids, farthest first.
    As scikit-learn does: each chosen point becomes the centroid of an empty
    cluster and leaves the sums of the cluster it was assigned to. A point whose
    cluster would become empty is passed over.

    Returns
    -------
    sums, counts, still_empty
        Adjusted copies of the totals, and the clusters that found no point.
    """
    sums, counts = totals.sums.copy(), totals.counts.copy()
    remaining = list(empty)
    for distance, digit_id, donor, pixels in candidates:
        if not remaining:
            break
        if counts[donor] <= 1:
            continue
        target = remaining.pop(0)
        sums[donor] -= pixels
        counts[donor] -= 1
        sums[target] = pixels
        counts[target] = 1
        logger.warning(
            "%scluster %d was empty: re-seeded at digit %d "
            "(squared distance %.6g from centroid %d)",
            prefix,
            target,
            digit_id,
            distance,
            donor,
            extra={
                "event": "empty_cluster",
                "model": prefix.removesuffix(": ") or None,
                "cluster": target,
                "action": "reseeded",
                "digit_id": digit_id,
                "donor": donor,
            },
        )
    return sums, counts, remaining


def _validate(
    blocks: DigitBlocks,
    centroids: npt.NDArray[np.float64],
    max_iter: int,
    tol: float,
    empty_cluster: str,
) -> None:
    if centroids.ndim != 2 or centroids.shape[1] != N_PIXELS or centroids.shape[0] < 1:
        raise UsageError(
            f"initial centroids must have shape (k, {N_PIXELS}), got {centroids.shape}"
        )
    if not np.all(np.isfinite(centroids)):
        raise UsageError("initial centroids contain NaN or infinite values")
    if centroids.shape[0] > blocks.num_digits:
        raise UsageError(
            f"k={centroids.shape[0]} is larger than the number of training digits "
            f"({blocks.num_digits})"
        )
    if max_iter < 1:
        raise UsageError(f"max_iter must be >= 1, got {max_iter}")
    if not tol >= 0:
        raise UsageError(f"tol must be >= 0, got {tol}")
    if empty_cluster not in EMPTY_CLUSTER_POLICIES:
        raise UsageError(
            f"empty_cluster must be one of {', '.join(EMPTY_CLUSTER_POLICIES)}, "
            f"got {empty_cluster!r}"
        )


class _ModelRun:
    """The driver's state of one model of a batch."""

    def __init__(self, index: int, initial: npt.NDArray[np.float64], name: str) -> None:
        self.index = index
        self.name = name
        self.current = initial
        self.assigned_with: npt.NDArray[np.float64] | None = None
        self.history: list[IterationStats] = []
        self.converged = False
        self.training = True
        self.totals: ClusterTotals | None = None

    @property
    def k(self) -> int:
        return int(self.current.shape[0])

    def state(self, in_last_pass: bool) -> ModelState:
        """This model after the batch's last pass (``in_last_pass``: it was in it)."""
        return ModelState(
            current=self.current,
            primed_with=self.assigned_with if in_last_pass else None,
            history=tuple(self.history),
            converged=self.converged,
            training=self.training,
            totals=None if in_last_pass else self.totals,
        )

    def restore(self, state: ModelState) -> None:
        """Take the driver's side of ``state`` (the priming pass restores the rest)."""
        self.current = np.array(state.current, dtype=np.float64)
        self.history = list(state.history)
        self.converged = state.converged
        self.training = state.training
        self.totals = state.totals
        self.assigned_with = None if state.totals is None else self.current

    @property
    def needs_final_pass(self) -> bool:
        """Stopped, but its counts and inertia refer to older centroids than its model's."""
        return (
            not self.training
            and self.totals is not None
            and (self.assigned_with is None or not np.array_equal(self.assigned_with, self.current))
        )

    @property
    def finished(self) -> bool:
        return not self.training and not self.needs_final_pass

    def result(self) -> LloydResult:
        assert self.totals is not None
        return LloydResult(
            centroids=self.current,
            iterations=len(self.history),
            converged=self.converged,
            inertia=self.totals.inertia(self.current),
            cluster_sizes=self.totals.counts,
            label_counts=self.totals.label_counts,
            history=self.history,
        )


def _update(
    run: _ModelRun,
    totals: ClusterTotals,
    candidates: Sequence[tuple[float, int, int, npt.NDArray[np.uint8]]] | None,
    empty_cluster: str,
) -> tuple[npt.NDArray[np.float64], list[int]]:
    """New centroids from a pass's totals (empty clusters re-seeded or kept)."""
    sums, counts = totals.sums, totals.counts
    empty = np.flatnonzero(counts == 0).tolist()
    if empty and empty_cluster == EMPTY_FARTHEST and candidates is not None:
        sums, counts, kept = _relocate_empty_clusters(candidates, totals, empty, run.name)
    else:
        kept = empty
    for cluster in kept:
        logger.warning(
            "%scluster %d is empty: its centroid stays where it was",
            run.name,
            cluster,
            extra={
                "event": "empty_cluster",
                **_model_fields(run),
                "cluster": cluster,
                "action": "kept",
            },
        )
    updated = run.current.copy()
    filled = counts > 0
    updated[filled] = sums[filled] / counts[filled, None]
    return updated, empty


def fit_lloyd_batch(
    blocks: DigitBlocks,
    initial_centroids: Sequence[npt.ArrayLike],
    *,
    max_iter: int = 300,
    tol: float = 0.0,
    empty_cluster: str = EMPTY_FARTHEST,
    on_iteration: Callable[[int, IterationStats], None] | None = None,
    resident: bool = True,
    names: Sequence[str] | None = None,
    on_pass: Callable[[BatchState], None] | None = None,
    resume: BatchState | None = None,
) -> list[LloydResult]:
    """Train several k-means models with Lloyd's algorithm in shared passes.

    Every pass serves every model still training; a model leaves the batch once
    it stops. Each model's result is bit for bit what :func:`fit_lloyd` gives it
    alone.

    Parameters
    ----------
    blocks : DigitBlocks
        Cached training digits.
    initial_centroids : sequence of array_like of float, shapes (k_m, 784)
        One entry per model; the ``k_m`` may differ.
    max_iter : int
        Most iterations per model.
    tol : float
        Also stop a model once none of its centroids moves farther than this
        (Euclidean). With the default 0 a model stops only when no point changes
        cluster (its centroids are then a fixed point), as the walkthrough does.
    empty_cluster : {"farthest", "keep"}
        What to do with a cluster that receives no point: re-seed it at the
        point farthest from its centroid (scikit-learn's rule), or keep its
        centroid where it was.
    on_iteration : callable, optional
        Called with each model's index and :class:`IterationStats` after each
        of its iterations.
    resident : bool
        Read the blocks from executor-local copies (see :class:`LloydRunner`).
    names : sequence of str, optional
        How log lines name each model (default ``model <index>``).
    on_pass : callable, optional
        Called with the :class:`BatchState` after every pass, e.g. to checkpoint it.
    resume : BatchState, optional
        Go on from this state, which ``on_pass`` reported for the same data,
        initial centroids and parameters, instead of from the start (the
        centroids of ``initial_centroids`` are then only checked for shape).
        The result is bit for bit the uninterrupted one's, timings aside.

    Returns
    -------
    list of LloydResult
        One per model, in order. Counts and inertia refer to the final centroids.
    """
    runs = []
    for index, initial in enumerate(initial_centroids):
        current = np.array(initial, dtype=np.float64)
        _validate(blocks, current, max_iter, tol, empty_cluster)
        name = f"model {index}: " if names is None else f"{names[index]}: "
        runs.append(_ModelRun(index, current, name))
    if not runs:
        return []
    if resume is not None:
        _check_resume(resume, runs)
        for run, state in zip(runs, resume.models, strict=True):
            run.restore(state)
    alone = len(runs) == 1
    if alone and names is None:
        runs[0].name = ""
    runner = LloydRunner(blocks, resident=resident)
    iteration = 0
    try:
        if resume is not None:
            iteration = resume.passes
            _prime(runner, runs, resume)
        while True:
            members = [r for r in runs if r.training or r.needs_final_pass]
            if not members:
                break
            iteration += 1
            started = time.perf_counter()
            assigned = {r.index: r.current for r in members}
            totals = runner.run_pass(assigned)
            training = [r for r in members if r.training]
            for run in members:
                run.assigned_with = run.current
                run.totals = totals[run.index]
            wanted = {
                r.index: int((totals[r.index].counts == 0).sum()) + r.k
                for r in training
                if empty_cluster == EMPTY_FARTHEST and (totals[r.index].counts == 0).any()
            }
            candidates = runner.farthest_points(wanted) if wanted else {}
            pass_seconds = time.perf_counter() - started
            for run in training:
                _step(
                    run,
                    totals[run.index],
                    candidates.get(run.index),
                    empty_cluster,
                    pass_seconds,
                    max_iter,
                    tol,
                    on_iteration,
                    alone,
                )
            if on_pass is not None:
                in_pass = {r.index for r in members}
                on_pass(BatchState(iteration, tuple(r.state(r.index in in_pass) for r in runs)))
            if not alone:
                still_training = sum(r.training for r in runs)
                pass_total_seconds = time.perf_counter() - started
                logger.info(
                    "pass %d: %d models, %d still training, %.3f s",
                    iteration,
                    len(members),
                    still_training,
                    pass_total_seconds,
                    extra={
                        "event": "pass",
                        "pass": iteration,
                        "models": len(members),
                        "training": still_training,
                        "seconds": pass_total_seconds,
                    },
                )
    finally:
        runner.close()
    return [run.result() for run in runs]


def _check_resume(resume: BatchState, runs: Sequence[_ModelRun]) -> None:
    """Refuse a state that cannot belong to these models."""
    if len(resume.models) != len(runs):
        raise UsageError(
            f"cannot resume: the state holds {len(resume.models)} models, the batch has {len(runs)}"
        )
    for run, state in zip(runs, resume.models, strict=True):
        if state.current.shape != run.current.shape:
            raise UsageError(
                f"cannot resume: {run.name or 'the model: '}centroids of shape "
                f"{state.current.shape} in the state, {run.current.shape} expected"
            )
        if state.primed_with is None and state.totals is None:
            raise UsageError(f"cannot resume: {run.name or 'the model: '}has no last pass")


def _prime(runner: LloydRunner, runs: Sequence[_ModelRun], resume: BatchState) -> None:
    """Replay the state's last pass, so that the executors keep what they kept then.

    Its sums are those the interrupted run had (exact), so its totals are kept
    too; the next pass then counts moved points as the uninterrupted run does.
    """
    primed = {
        run.index: np.array(state.primed_with, dtype=np.float64)
        for run, state in zip(runs, resume.models, strict=True)
        if state.primed_with is not None
    }
    if not primed:
        return
    started = time.perf_counter()
    totals = runner.run_pass(primed)
    for index, centroids in primed.items():
        runs[index].assigned_with = centroids
        runs[index].totals = totals[index]
    logger.info(
        "resumed after pass %d: replayed it for %d models in %.3f s",
        resume.passes,
        len(primed),
        time.perf_counter() - started,
        extra={
            "event": "resumed",
            "pass": resume.passes,
            "models": len(primed),
            "seconds": time.perf_counter() - started,
        },
    )


def _step(
    run: _ModelRun,
    totals: ClusterTotals,
    candidates: Sequence[tuple[float, int, int, npt.NDArray[np.uint8]]] | None,
    empty_cluster: str,
    pass_seconds: float,
    max_iter: int,
    tol: float,
    on_iteration: Callable[[int, IterationStats], None] | None,
    alone: bool,
) -> None:
    """One model's driver side of an iteration: update, record, decide whether it goes on."""
    started = time.perf_counter()
    updated, empty = _update(run, totals, candidates, empty_cluster)
    max_shift = float(np.sqrt(((updated - run.current) ** 2).sum(axis=1)).max())
    moved = int(totals.moved.sum())
    stats = IterationStats(
        len(run.history) + 1,
        moved,
        max_shift,
        totals.inertia(run.current),
        pass_seconds + time.perf_counter() - started,
        tuple(empty),
    )
    run.history.append(stats)
    logger.log(
        logging.INFO if alone else logging.DEBUG,
        "%siteration %d: moved %d points, max centroid shift %.6g, inertia %.10g, %.3f s",
        run.name,
        stats.iteration,
        stats.moved,
        stats.max_shift,
        stats.inertia,
        stats.seconds,
        # The same numbers as fields, for --log-format json (kmeans_spark.job_logging).
        extra={
            "event": "iteration",
            **_model_fields(run),
            "iteration": stats.iteration,
            "moved": stats.moved,
            "max_shift": stats.max_shift,
            "inertia": stats.inertia,
            "seconds": stats.seconds,
            "empty_clusters": list(stats.empty_clusters),
        },
    )
    if on_iteration is not None:
        on_iteration(run.index, stats)
    run.current = updated
    if (stats.iteration > 1 and moved == 0) or max_shift <= tol:
        run.converged = True
        run.training = False
    elif stats.iteration >= max_iter:
        run.training = False
    if not run.training and not alone:
        logger.info(
            "%s%s after %d iterations, inertia %.10g",
            run.name,
            "converged" if run.converged else "stopped",
            stats.iteration,
            stats.inertia,
            extra={
                "event": "converged" if run.converged else "stopped",
                **_model_fields(run),
                "iterations": stats.iteration,
                "inertia": stats.inertia,
            },
        )


def _model_fields(run: _ModelRun) -> dict[str, object]:
    """Which model a log record is about, as structured fields."""
    name = run.name.removesuffix(": ")
    return {"model": name or None, "model_index": run.index, "k": run.k}


def fit_lloyd(
    blocks: DigitBlocks,
    initial_centroids: npt.ArrayLike,
    *,
    max_iter: int = 300,
    tol: float = 0.0,
    empty_cluster: str = EMPTY_FARTHEST,
    on_iteration: Callable[[IterationStats], None] | None = None,
    resident: bool = True,
) -> LloydResult:
    """Train one k-means model with Lloyd's algorithm from given initial centroids.

    A batch of one: see :func:`fit_lloyd_batch` for the parameters.

    Parameters
    ----------
    blocks : DigitBlocks
    initial_centroids : array_like of float, shape (k, 784)
    max_iter, tol, empty_cluster, resident
        As for :func:`fit_lloyd_batch`.
    on_iteration : callable, optional
        Called with each iteration's :class:`IterationStats`.

    Returns
    -------
    LloydResult
    """
    callback = None if on_iteration is None else (lambda _, stats: on_iteration(stats))
    (result,) = fit_lloyd_batch(
        blocks,
        [initial_centroids],
        max_iter=max_iter,
        tol=tol,
        empty_cluster=empty_cluster,
        on_iteration=callback,
        resident=resident,
    )
    return result
