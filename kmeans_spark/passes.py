"""Passes over cached blocks that keep per-partition state between them.

Lloyd's iterations and the k-means++ / k-means|| initialisations share one
shape: every pass broadcasts a small payload from the driver, runs a *step* on
each block beside the state that the previous pass left for that block, emits
``(key, value)`` pairs that one ``reduceByKey`` merges, and keeps the new state
for the next pass. :class:`BlockPasses` runs such passes.

The state stays on the executors, in a file beside the executor-local block
copies (:mod:`kmeans_spark.resident`), at a path that the pass number and the
partition name: the next pass's task finds it there. Every pass is a narrow map
over the cached blocks (or references to their local copies), so Spark runs
partition ``i`` on the executor that caches it, pass after pass: the file is
there. (A union of the blocks with a cached RDD of the previous pass would
co-locate the two, but Spark places a union's task by host only, so with two
executors on one host a task often ran beside neither.) Keeping the state out of
Spark's cache spares every pass from shipping it through the JVM three times
(cached, read back for the shuffle, read back by the next pass).

A task that finds no state file (its executor was lost, or Spark ran the task
elsewhere) fails the pass with :data:`STATE_MISSING_MARKER`; a caller that can
do without the state for a pass asks :meth:`BlockPasses.run` to re-run it
without (``lost_state="restart"``). A caller whose state can be rebuilt from
what the driver knows (the initialisations: D^2 is the distance to the centres
chosen so far) also gives ``payload_without_state``: the re-run, and every pass
after it until one keeps a state again, broadcasts that payload instead, and the
step rebuilds the state from it. :meth:`BlockPasses.collect` can likewise hand
the function None for a lost state (``lost_state="none"``).
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from pyspark import RDD, Broadcast

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.errors import raise_input_errors
from kmeans_spark.resident import ResidentBlock, ResidentBlocks, is_missing_copy

logger = logging.getLogger(__name__)

STATE_MISSING_MARKER = "KMeansSparkStateMissing"
LOST_STATE_POLICIES = ("fail", "restart")
COLLECT_LOST_STATE_POLICIES = ("fail", "none")

P = TypeVar("P")
Emitted = list[tuple[Any, Any]]
Step = Callable[[DigitBlock, Any, P], tuple[Any, Emitted]]
"""``step(block, previous_state_or_None, payload) -> (new_state, emitted pairs)``."""


class StateMissing(RuntimeError):
    """A task found no local file of the state its partition's previous pass kept."""


def _load_state(path: str) -> Any:
    """The state a kept pass saved at ``path`` on this executor; StateMissing if none."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise StateMissing(f"{STATE_MISSING_MARKER}: no local state at {path}") from None
    # Our own task wrote this file in this application: not user input.
    with handle:
        return pickle.load(handle)


def _state_root() -> str:
    from pyspark import SparkFiles

    return os.path.join(SparkFiles.getRootDirectory(), "kmeans_spark_state")


def _state_path(token: str, pass_id: int, key: int) -> str:
    return os.path.join(_state_root(), token, f"pass-{pass_id:06d}-part-{key:05d}.pkl")


def _save_state(path: str, state: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = f"{path}.tmp-{uuid.uuid4().hex}"
    with open(staging, "wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(staging, path)  # a retried task replaces its earlier attempt's file whole


def _remove_states(token: str) -> Callable[[Iterable[object]], None]:
    def run(_: Iterable[object]) -> None:
        shutil.rmtree(os.path.join(_state_root(), token), ignore_errors=True)

    return run


def block_and_state(
    items: Iterable[tuple[int, Any]], token: str, kept_id: int | None
) -> tuple[int, DigitBlock, Any]:
    """The one block of a partition and the state the kept pass ``kept_id`` left for it.

    Parameters
    ----------
    items : iterable of (int, DigitBlock or ResidentBlock)
        The partition: exactly one keyed block, or a reference to its local copy.
    token, kept_id
        Name the state file; no state is read when ``kept_id`` is None.

    Returns
    -------
    (partition key, block, previous state or None)
    """
    key, block = -1, None
    for item_key, value in items:
        key = item_key
        block = value.load() if isinstance(value, ResidentBlock) else value
    if not isinstance(block, DigitBlock):
        raise RuntimeError(f"partition {key} holds no digit block: partitioning was lost")
    previous = None if kept_id is None else _load_state(_state_path(token, kept_id, key))
    return key, block, previous


def block_and_state_or_none(
    items: Iterable[tuple[int, Any]], token: str, kept_id: int | None
) -> tuple[int, DigitBlock, Any]:
    """:func:`block_and_state`, with None for a state this executor does not hold."""
    block_items = list(items)
    try:
        return block_and_state(block_items, token, kept_id)
    except StateMissing:
        return block_and_state(block_items, token, None)


def _apply_step(
    step: Step[P],
    payload: Broadcast[P],
    token: str,
    kept_id: int | None,
    keep_as: int | None,
    obsolete: int | None,
) -> Callable[[Iterable[tuple[int, Any]]], Iterator[tuple[Any, Any]]]:
    """The task of a pass: the step on pass ``kept_id``'s state, its own saved as ``keep_as``."""

    def run(items: Iterable[tuple[int, Any]]) -> Iterator[tuple[Any, Any]]:
        key, block, previous = block_and_state(items, token, kept_id)
        state, emitted = step(block, previous, payload.value)
        if obsolete is not None:  # a pass that no later pass reads any more
            try:
                os.remove(_state_path(token, obsolete, key))
            except FileNotFoundError:
                pass  # written on another executor: removed with the rest at close
        if keep_as is not None:
            _save_state(_state_path(token, keep_as, key), state)
        yield from emitted

    return run


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
        self._kept_id: int | None = None
        self._obsolete_id: int | None = None
        self._passes = 0
        self._state_lost = False
        self._token = uuid.uuid4().hex
        self.last_pass_had_state = False
        """Whether the last :meth:`run` read a kept state (False after a restart without)."""

    def _source(self) -> RDD[tuple[int, Any]]:
        """The cached blocks, or the cached references to their local copies."""
        if self.resident is not None and self.resident.rdd is not None:
            return self.resident.rdd
        return self.blocks.rdd

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
        lost_state: str = "fail",
        payload_without_state: P | None = None,
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
        lost_state : {"fail", "restart"}
            When a task finds no kept state: fail, or drop the kept state and run
            the pass again without (``last_pass_had_state`` tells which happened).
        payload_without_state : object, optional
            With ``lost_state="restart"``: what to broadcast instead of
            ``payload`` when the pass runs without the state it needs, so that
            the step can rebuild that state (it sees None). Used for the re-run
            and for every later pass given one, until a pass keeps a state again.

        Returns
        -------
        list of (key, value)
            One merged value per key, in no particular order.
        """
        if lost_state not in LOST_STATE_POLICIES:
            raise ValueError(f"lost_state must be one of {LOST_STATE_POLICIES}, got {lost_state!r}")
        if payload_without_state is not None and lost_state != "restart":
            raise ValueError('payload_without_state needs lost_state="restart"')
        first_payload = payload
        if payload_without_state is not None and self._state_lost:
            first_payload = payload_without_state
        broadcasts = [self.context.broadcast(first_payload)]
        reducers = reduce_partitions or self.context.defaultParallelism
        self._passes += 1
        keep_as = self._passes if keep_state else None

        def one_pass() -> list[tuple[Any, Any]]:
            self.last_pass_had_state = self._kept_id is not None
            function = _apply_step(
                step, broadcasts[-1], self._token, self._kept_id, keep_as, self._obsolete_id
            )
            emitted = self._source().mapPartitions(function)
            return emitted.reduceByKey(combine, numPartitions=reducers).collect()

        try:
            try:
                merged = self._with_local_copies(one_pass)
            except Exception as exc:
                if lost_state != "restart" or STATE_MISSING_MARKER not in str(exc):
                    raise
                self.release()
                self._state_lost = True
                if payload_without_state is not None:
                    logger.warning(
                        "a task found no kept state (executor lost?): "
                        "pass run again, the state rebuilt from the driver's"
                    )
                    broadcasts.append(self.context.broadcast(payload_without_state))
                else:
                    logger.warning("a task found no kept state (executor lost?): pass run without")
                merged = self._with_local_copies(one_pass)
        finally:
            for broadcast in broadcasts:
                broadcast.destroy()
        self._obsolete_id = None
        if keep_state:
            self._state_lost = False
            # Tasks of the next pass delete this one's files; a retried task of
            # this pass may still need them until then.
            self._obsolete_id = self._kept_id
            self._kept_id = keep_as
        return merged

    def collect(
        self, function: Callable[[DigitBlock, Any], Iterable[Any]], lost_state: str = "fail"
    ) -> list[Any]:
        """``function(block, kept state)`` on every block, its items collected to the driver.

        Parameters
        ----------
        function : callable
            Runs on the executors; receives None as the state when none is kept.
        lost_state : {"fail", "none"}
            When a task finds no kept state (its executor was lost): fail, or
            call ``function`` with None, for a function that can do without.
        """
        if lost_state not in COLLECT_LOST_STATE_POLICIES:
            raise ValueError(
                f"lost_state must be one of {COLLECT_LOST_STATE_POLICIES}, got {lost_state!r}"
            )
        token, kept_id = self._token, self._kept_id
        read = block_and_state_or_none if lost_state == "none" else block_and_state

        def run(items: Iterable[tuple[int, Any]]) -> Iterator[Any]:
            _, block, state = read(items, token, kept_id)
            yield from function(block, state)

        return list(self._with_local_copies(lambda: self._source().mapPartitions(run).collect()))

    def kept_state_paths(self) -> list[str]:
        """Where each partition's kept state file lies on the executor that runs it.

        Empty when no state is kept. One small job; for diagnostics and tests.
        """
        if self._kept_id is None:
            return []
        token, kept_id = self._token, self._kept_id

        def run(items: Iterable[tuple[int, Any]]) -> Iterator[str]:
            for key, _ in items:
                yield _state_path(token, kept_id, key)

        return sorted(self._source().mapPartitions(run).collect())

    def release(self) -> None:
        """Forget the kept state (its local files go at :meth:`close`)."""
        self._kept_id = None

    def close(self) -> None:
        """Drop the kept state, its local files and the local copies of the blocks."""
        self.release()
        if self._passes:
            # One clean-up task per partition reaches most executors; the application's
            # own clean-up removes whatever another executor still holds.
            # Over the small references to the local copies where there are some: over the
            # cached blocks, every task would load its whole block only to remove a folder.
            self._source().foreachPartition(_remove_states(self._token))
        if self.resident is not None:
            self.resident.remove()
