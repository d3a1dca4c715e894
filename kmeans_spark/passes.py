"""Passes over cached blocks that keep per-partition state between them.

Lloyd's iterations and the k-means++ / k-means|| initialisations share one
shape: every pass broadcasts a small payload from the driver, runs a *step* on
each block beside the state that the previous pass left for that block, emits
``(key, value)`` pairs that one ``reduceByKey`` merges, and keeps the new state
for the next pass. :class:`BlockPasses` runs such passes.

The state stays on the executors: the next pass reads it through a
partitioner-aware union with the blocks, which places partition ``i`` of both in
the same task without a shuffle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pyspark import RDD, Broadcast, StorageLevel

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.errors import raise_input_errors
from kmeans_spark.resident import ResidentBlock, ResidentBlocks, is_missing_copy

logger = logging.getLogger(__name__)

P = TypeVar("P")
Emitted = list[tuple[Any, Any]]
Step = Callable[[DigitBlock, Any, P], tuple[Any, Emitted]]
"""``step(block, previous_state_or_None, payload) -> (new_state, emitted pairs)``."""


@dataclass(frozen=True)
class _KeptPass(Generic[P]):
    """A pass whose state the next pass reads, and what must live as long as it.

    Its RDD is serialised into later tasks with its function, and with it the
    broadcast it read: that broadcast is destroyed only with the pass.
    """

    rdd: RDD[tuple[int, tuple[Any, Emitted]]]
    broadcast: Broadcast[P]

    def drop(self) -> None:
        self.rdd.unpersist()
        self.broadcast.destroy()


def split_items(items: Iterable[tuple[int, Any]]) -> tuple[int, DigitBlock, Any]:
    """Separate the block and the previous state that a union put in one partition.

    Returns
    -------
    (partition key, block, previous state or None)
    """
    key, block, previous, seen_previous = -1, None, None, False
    for item_key, value in items:
        key = item_key
        if isinstance(value, DigitBlock):
            block = value
        elif isinstance(value, ResidentBlock):
            block = value.load()
        else:  # the output of the previous pass: (state, emitted)
            previous, seen_previous = value[0], True
    if block is None:
        raise RuntimeError(f"partition {key} holds no digit block: partitioning was lost")
    if seen_previous and previous is None:
        raise RuntimeError(f"partition {key}: the previous pass left no state")
    return key, block, previous


def _apply_step(
    step: Step[P], payload: Broadcast[P]
) -> Callable[[Iterable[tuple[int, Any]]], Iterator[tuple[int, tuple[Any, Emitted]]]]:
    def run(items: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, tuple[Any, Emitted]]]:
        key, block, previous = split_items(items)
        yield key, step(block, previous, payload.value)

    return run


def _emitted(kv: tuple[int, tuple[Any, Emitted]]) -> Emitted:
    return kv[1][1]


class BlockPasses:
    """Runs passes over one set of cached blocks, keeping each pass's state for the next.

    Parameters
    ----------
    blocks : DigitBlocks
    resident : bool
        Read the blocks from executor-local memory-mapped copies
        (:mod:`kmeans_spark.resident`) instead of streaming them from Spark's
        cache on every pass. Same results, less time per pass.
    """

    _MISSING_COPY_RETRIES = 2

    def __init__(self, blocks: DigitBlocks, resident: bool = True) -> None:
        self.blocks = blocks
        self.context = blocks.rdd.context
        self.resident = ResidentBlocks(blocks) if resident else None
        self._kept: _KeptPass[Any] | None = None

    @property
    def has_state(self) -> bool:
        """Whether a pass's state is kept for the next one."""
        return self._kept is not None

    def _source(self) -> RDD[tuple[int, Any]]:
        """Blocks (or references to their local copies), beside the kept state if any."""
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

    def run(
        self,
        step: Step[P],
        payload: P,
        combine: Callable[[Any, Any], Any],
        *,
        keep_state: bool,
        reduce_partitions: int | None = None,
    ) -> list[tuple[Any, Any]]:
        """One pass: ``step`` on every block, then ``reduceByKey(combine)`` of what it emitted.

        Parameters
        ----------
        step : callable
            ``step(block, state, payload) -> (new_state, [(key, value), ...])``;
            ``state`` is what the previous kept pass returned for this block,
            None when no state is kept. Runs on the executors.
        payload : object
            Broadcast to every task.
        combine : callable
            Associative and commutative merge of two values of the same key.
        keep_state : bool
            Keep the new state for the next pass (dropping the previous one);
            otherwise the previous state stays kept.
        reduce_partitions : int, optional
            Partitions of the ``reduceByKey``; default: Spark's default parallelism.

        Returns
        -------
        list of (key, value)
            One merged value per key, in no particular order.
        """
        broadcast = self.context.broadcast(payload)
        reducers = reduce_partitions or self.context.defaultParallelism
        passed: RDD[tuple[int, tuple[Any, Emitted]]] | None = None

        def one_pass() -> list[tuple[Any, Any]]:
            nonlocal passed
            if passed is not None:
                passed.unpersist()
            passed = self._source().mapPartitions(
                _apply_step(step, broadcast), preservesPartitioning=True
            )
            if keep_state:
                passed.persist(StorageLevel.MEMORY_AND_DISK)
                # Cuts the lineage once materialised: it would otherwise grow by one
                # pass per iteration and need every destroyed broadcast.
                passed.localCheckpoint()
            return passed.flatMap(_emitted).reduceByKey(combine, numPartitions=reducers).collect()

        try:
            merged = self._with_local_copies(one_pass)
        except BaseException:
            if passed is not None:
                passed.unpersist()
            broadcast.destroy()
            raise
        if keep_state and passed is not None:
            self.release()
            self._kept = _KeptPass(passed, broadcast)
        else:
            broadcast.destroy()
        return merged

    def collect(self, function: Callable[[DigitBlock, Any], Iterable[Any]]) -> list[Any]:
        """``function(block, kept state)`` on every block, its items collected to the driver."""

        def run(items: Iterable[tuple[int, Any]]) -> Iterator[Any]:
            _, block, state = split_items(items)
            yield from function(block, state)

        return list(self._with_local_copies(lambda: self._source().mapPartitions(run).collect()))

    def release(self) -> None:
        """Drop the kept state."""
        if self._kept is not None:
            self._kept.drop()
            self._kept = None

    def close(self) -> None:
        """Drop the kept state and the local copies of the blocks."""
        self.release()
        if self.resident is not None:
            self.resident.remove()
