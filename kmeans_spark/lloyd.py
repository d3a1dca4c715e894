"""Lloyd's algorithm as a Spark map-reduce job, driven from the driver.

Every iteration is one job of fixed shape:

1. the current centroids are broadcast (prepared once, see
   :class:`~kmeans_spark.distances.PreparedCentroids`);
2. a map over the cached blocks assigns every point of a block to its nearest
   centroid at once and emits one exact integer partial per cluster
   (:func:`~kmeans_spark.partials.partial_sums`);
3. one ``reduceByKey`` merges the partials per cluster;
4. the driver computes the new centroids and decides whether to go on.

To count the points that changed cluster without a second pass, each pass
keeps its assignment beside its block: the next pass reads both through a
partitioner-aware union, which places partition ``i`` of the blocks and of the
previous assignment in the same task without a shuffle.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark import RDD, Broadcast, StorageLevel

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.distances import (
    Assignment,
    PreparedCentroids,
    assign_with_bounds,
    sq_distances_to_assigned,
    update_assignment,
)
from kmeans_spark.errors import UsageError, raise_input_errors
from kmeans_spark.partials import ClusterTotals, partial_sums
from kmeans_spark.resident import ResidentBlock, ResidentBlocks, is_missing_copy
from kmeans_spark.schema import N_PIXELS

logger = logging.getLogger(__name__)

EMPTY_FARTHEST = "farthest"
EMPTY_KEEP = "keep"
EMPTY_CLUSTER_POLICIES = (EMPTY_FARTHEST, EMPTY_KEEP)

Partial = tuple[int, npt.NDArray[np.int64]]
PassOutput = tuple[Assignment, list[Partial]]


@dataclass(frozen=True)
class _KeptPass:
    """A pass whose assignment the next pass reads, and what must live as long as it.

    Its RDD is serialised into later tasks with its function, and with it the
    broadcast it read: that broadcast is destroyed only with the pass. Its
    centroids give the next pass the moves that loosen the kept distance bounds.
    """

    rdd: RDD[tuple[int, PassOutput]]
    broadcast: Broadcast[PreparedCentroids]
    centroids: npt.NDArray[np.float64]

    def drop(self) -> None:
        self.rdd.unpersist()
        self.broadcast.destroy()


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


def _add_partials(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    return left + right


def _split_items(
    items: Iterable[tuple[int, Any]],
) -> tuple[int, DigitBlock, Assignment | None]:
    """Separate the block and the previous assignment that a union put in one partition."""
    key, block, previous = -1, None, None
    for item_key, value in items:
        key = item_key
        if isinstance(value, DigitBlock):
            block = value
        elif isinstance(value, ResidentBlock):
            block = value.load()
        else:  # the output of the previous pass: (assignment, partials)
            previous = value[0]
    if block is None:
        raise RuntimeError(f"partition {key} holds no digit block: partitioning was lost")
    if previous is not None and previous.labels.shape[0] != len(block):
        raise RuntimeError(f"partition {key}: previous assignment does not match its block")
    return key, block, previous


def _assign_and_sum(
    prepared: Broadcast[PreparedCentroids],
) -> Callable[[Iterable[tuple[int, Any]]], Iterator[tuple[int, PassOutput]]]:
    def run(items: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, PassOutput]]:
        key, block, previous = _split_items(items)
        centroids = prepared.value
        if previous is None or centroids.shifts is None:
            assignment = assign_with_bounds(block.pixels, block.sq_norms, centroids)
        else:
            assignment = update_assignment(block.pixels, block.sq_norms, centroids, previous)
        partials = partial_sums(
            block.pixels,
            block.sq_norms,
            block.labels,
            assignment.labels,
            None if previous is None else previous.labels,
        )
        yield key, (assignment, partials)

    return run


def _farthest_points(
    centroids: npt.NDArray[np.float64], count: int
) -> Callable[[Iterable[tuple[int, Any]]], Iterator[tuple[float, int, int, bytes]]]:
    """Per partition, the ``count`` points farthest from their assigned centroid."""

    def run(items: Iterable[tuple[int, Any]]) -> Iterator[tuple[float, int, int, bytes]]:
        _, block, assigned = _split_items(items)
        if assigned is None or len(block) == 0:
            return
        labels = assigned.labels
        distances = sq_distances_to_assigned(block.pixels, labels, centroids)
        # Largest distance first, ties to the smaller id: independent of partitioning.
        order = np.lexsort((block.ids, -distances))[:count]
        for i in order.tolist():
            yield (
                float(distances[i]),
                int(block.ids[i]),
                int(labels[i]),
                block.pixels[i].tobytes(),
            )

    return run


class LloydRunner:
    """Runs Lloyd passes over one set of cached blocks.

    Parameters
    ----------
    blocks : DigitBlocks
        The training digits.
    k : int
        Number of clusters.
    resident : bool
        Read the blocks from executor-local memory-mapped copies
        (:mod:`kmeans_spark.resident`) instead of streaming them from Spark's
        cache on every pass. Same results, less time per pass.
    """

    _MISSING_COPY_RETRIES = 2

    def __init__(self, blocks: DigitBlocks, k: int, resident: bool = True) -> None:
        self.blocks = blocks
        self.k = k
        self.context = blocks.rdd.context
        self.reduce_partitions = max(1, min(k, self.context.defaultParallelism))
        self.resident = ResidentBlocks(blocks) if resident else None
        self._kept: _KeptPass | None = None

    def _source(self) -> RDD[tuple[int, Any]]:
        """Blocks (or references to their local copies), beside the kept assignment if any."""
        source: RDD[tuple[int, Any]]
        if self.resident is not None and self.resident.rdd is not None:
            source = self.resident.rdd
        else:
            source = self.blocks.rdd
        return source if self._kept is None else source.union(self._kept.rdd)

    def _with_local_copies(self, action: Callable[[], Any]) -> Any:
        """Run ``action``; if a task found no local copy of its block, rewrite them and retry."""
        for attempt in range(self._MISSING_COPY_RETRIES + 1):
            try:
                with raise_input_errors():
                    return action()
            except Exception as exc:
                if self.resident is None or not is_missing_copy(exc):
                    raise
                if attempt == self._MISSING_COPY_RETRIES:
                    logger.warning("local block copies keep going missing: streaming blocks")
                    self.resident.remove()
                else:
                    logger.warning("a task found no local copy of its block: rewriting them")
                    self.resident.rewrite()
        # The copies were given up: the blocks now stream from Spark's cache.
        with raise_input_errors():
            return action()

    def run_pass(self, centroids: npt.NDArray[np.float64], keep_assignment: bool) -> ClusterTotals:
        """Assign every point to ``centroids`` and merge the partials.

        With ``keep_assignment`` the assignment is kept beside the blocks for
        the next pass (to count moved points) and the previous one is dropped.
        """
        # The kept assignment's bounds let rows whose centroid cannot change skip work.
        prepared = self.context.broadcast(
            PreparedCentroids.of(centroids, None if self._kept is None else self._kept.centroids)
        )
        passed: RDD[tuple[int, PassOutput]] | None = None

        def one_pass() -> list[Partial]:
            nonlocal passed
            if passed is not None:
                passed.unpersist()
            passed = self._source().mapPartitions(
                _assign_and_sum(prepared), preservesPartitioning=True
            )
            if keep_assignment:
                passed.persist(StorageLevel.MEMORY_AND_DISK)
                # Cuts the lineage once materialised: it would otherwise grow by one
                # pass per iteration and need every destroyed broadcast.
                passed.localCheckpoint()
            return (
                passed.flatMap(lambda kv: kv[1][1])
                .reduceByKey(_add_partials, numPartitions=self.reduce_partitions)
                .collect()
            )

        try:
            merged = self._with_local_copies(one_pass)
        except BaseException:
            if passed is not None:
                passed.unpersist()
            prepared.destroy()
            raise
        if keep_assignment and passed is not None:
            self.release()
            self._kept = _KeptPass(passed, prepared, np.array(centroids, dtype=np.float64))
        else:
            prepared.destroy()
        return ClusterTotals.from_partials(self.k, merged)

    def farthest_points(
        self, centroids: npt.NDArray[np.float64], count: int
    ) -> list[tuple[float, int, int, npt.NDArray[np.uint8]]]:
        """The ``count`` points farthest from their centroid in the last kept assignment.

        Returns
        -------
        list of (squared distance, id, cluster, pixels of shape (784,))
            Farthest first, ties to the smaller id.
        """
        if self._kept is None:
            raise RuntimeError("farthest_points needs a kept assignment")
        candidates = self._with_local_copies(
            lambda: self._source().mapPartitions(_farthest_points(centroids, count)).collect()
        )
        best = heapq.nsmallest(count, candidates, key=lambda c: (-c[0], c[1]))
        return [(d, i, c, np.frombuffer(p, dtype=np.uint8)) for d, i, c, p in best]

    def release(self) -> None:
        """Drop the kept assignment."""
        if self._kept is not None:
            self._kept.drop()
            self._kept = None

    def close(self) -> None:
        """Drop the kept assignment and the local copies of the blocks."""
        self.release()
        if self.resident is not None:
            self.resident.remove()


def _relocate_empty_clusters(
    runner: LloydRunner,
    totals: ClusterTotals,
    assigned_with: npt.NDArray[np.float64],
    empty: list[int],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[int]]:
    """Re-seed empty clusters at the points farthest from their centroids.

    As scikit-learn does: each chosen point becomes the centroid of an empty
    cluster and leaves the sums of the cluster it was assigned to. A point whose
    cluster would become empty is passed over.

    Returns
    -------
    sums, counts, still_empty
        Adjusted copies of the totals, and the clusters that found no point.
    """
    sums, counts = totals.sums.copy(), totals.counts.copy()
    candidates = runner.farthest_points(assigned_with, len(empty) + runner.k)
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
            "cluster %d was empty: re-seeded at digit %d (squared distance %.6g from centroid %d)",
            target,
            digit_id,
            distance,
            donor,
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
    """Train k-means with Lloyd's algorithm from given initial centroids.

    Parameters
    ----------
    blocks : DigitBlocks
        Cached training digits.
    initial_centroids : array_like of float, shape (k, 784)
    max_iter : int
        Most iterations to run.
    tol : float
        Also stop once no centroid moves farther than this (Euclidean). With the
        default 0 the run stops only when no point changes cluster (the centroids
        are then a fixed point), as the walkthrough does.
    empty_cluster : {"farthest", "keep"}
        What to do with a cluster that receives no point: re-seed it at the
        point farthest from its centroid (scikit-learn's rule), or keep its
        centroid where it was.
    on_iteration : callable, optional
        Called with each iteration's :class:`IterationStats`.
    resident : bool
        Read the blocks from executor-local copies (see :class:`LloydRunner`).

    Returns
    -------
    LloydResult
        Counts and inertia refer to the final centroids.
    """
    current = np.array(initial_centroids, dtype=np.float64)
    _validate(blocks, current, max_iter, tol, empty_cluster)
    k = current.shape[0]
    runner = LloydRunner(blocks, k, resident=resident)
    history: list[IterationStats] = []
    converged = False
    totals: ClusterTotals | None = None
    assigned_with = current
    try:
        for iteration in range(1, max_iter + 1):
            started = time.perf_counter()
            assigned_with = current
            totals = runner.run_pass(current, keep_assignment=True)
            sums, counts = totals.sums, totals.counts
            empty = np.flatnonzero(counts == 0).tolist()
            if empty and empty_cluster == EMPTY_FARTHEST:
                sums, counts, kept = _relocate_empty_clusters(runner, totals, current, empty)
            else:
                kept = empty
            for cluster in kept:
                logger.warning("cluster %d is empty: its centroid stays where it was", cluster)
            updated = current.copy()
            filled = counts > 0
            updated[filled] = sums[filled] / counts[filled, None]
            max_shift = float(np.sqrt(((updated - current) ** 2).sum(axis=1)).max())
            moved = int(totals.moved.sum())
            stats = IterationStats(
                iteration,
                moved,
                max_shift,
                totals.inertia(current),
                time.perf_counter() - started,
                tuple(empty),
            )
            history.append(stats)
            logger.info(
                "iteration %d: moved %d points, max centroid shift %.6g, inertia %.10g, %.3f s",
                stats.iteration,
                stats.moved,
                stats.max_shift,
                stats.inertia,
                stats.seconds,
            )
            if on_iteration is not None:
                on_iteration(stats)
            current = updated
            if (iteration > 1 and moved == 0) or max_shift <= tol:
                converged = True
                break
        runner.release()
        if totals is None or not np.array_equal(assigned_with, current):
            # The last assignment used older centroids: one more pass, as
            # scikit-learn's final E-step, so counts and inertia match the model.
            totals = runner.run_pass(current, keep_assignment=False)
    finally:
        runner.close()
    return LloydResult(
        centroids=current,
        iterations=len(history),
        converged=converged,
        inertia=totals.inertia(current),
        cluster_sizes=totals.counts,
        label_counts=totals.label_counts,
        history=history,
    )
