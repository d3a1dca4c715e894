"""Executor-local, memory-mapped copies of cached blocks, so that passes do not stream them.

PySpark hands a cached partition from the JVM to the Python worker on every pass:
for the 60,000 MNIST digits that is 47 MB copied through a socket and unpickled
per Lloyd iteration, about a third of an iteration's time, and proportionally
more at larger n. :class:`ResidentBlocks` writes every block once, as ``.npy``
files, into its executor's application folder (``SparkFiles.getRootDirectory()``,
removed with the application) and caches only a small :class:`ResidentBlock`
reference per partition. A pass memory-maps the arrays: after the first pass
they come from the page cache.

Spark schedules a pass's task where its cached reference lives, which is where
the files are. Should a task run on an executor without the files (the one that
wrote them was lost, or Spark placed the task elsewhere), it raises
:class:`ResidentBlockMissing`; :meth:`ResidentBlocks.rewrite` then writes the
copies afresh from the cached blocks, and the caller retries the pass.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from pyspark import RDD, StorageLevel

from kmeans_spark.blocks import DigitBlock, DigitBlocks

_FIELDS = ("ids", "labels", "pixels", "sq_norms")
MISSING_MARKER = "ResidentBlockMissing"


class ResidentBlockMissing(RuntimeError):
    """A task found no executor-local copy of its block."""


@dataclass(frozen=True)
class ResidentBlock:
    """Where one partition's block lies on the executor that wrote it.

    Attributes
    ----------
    folder : str
        Absolute path of the folder holding ``ids.npy``, ``labels.npy``,
        ``pixels.npy`` and ``sq_norms.npy``.
    size : int
        Number of digits, checked on load.
    """

    folder: str
    size: int

    def load(self) -> DigitBlock:
        """The block, its arrays memory-mapped read-only.

        Raises
        ------
        ResidentBlockMissing
            When this executor does not hold the files.
        """
        try:
            # Plain ndarray views of the maps: numpy.memmap's subclass hooks cost on every slice.
            arrays = [
                np.asarray(np.load(os.path.join(self.folder, f"{name}.npy"), mmap_mode="r"))
                for name in _FIELDS
            ]
        except FileNotFoundError:
            raise ResidentBlockMissing(
                f"{MISSING_MARKER}: no local copy of a block at {self.folder}"
            ) from None
        block = DigitBlock(*arrays)
        if len(block) != self.size:
            raise ResidentBlockMissing(f"{MISSING_MARKER}: {self.folder} holds another block")
        return block


def _resident_root() -> str:
    from pyspark import SparkFiles

    return os.path.join(SparkFiles.getRootDirectory(), "kmeans_spark_blocks")


def _write_copies(
    token: str,
) -> Callable[[Iterable[tuple[int, DigitBlock]]], Iterator[tuple[int, ResidentBlock]]]:
    def run(items: Iterable[tuple[int, DigitBlock]]) -> Iterator[tuple[int, ResidentBlock]]:
        for key, block in items:
            folder = os.path.join(_resident_root(), token, f"part-{key:05d}")
            staging = f"{folder}.tmp-{uuid.uuid4().hex}"
            os.makedirs(staging)
            for name in _FIELDS:
                np.save(os.path.join(staging, f"{name}.npy"), getattr(block, name))
            # A retried or speculative task may have written the same folder already.
            try:
                os.rename(staging, folder)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
            yield key, ResidentBlock(folder, len(block))

    return run


def _remove_copies(token: str) -> Callable[[Iterable[object]], None]:
    def run(_: Iterable[object]) -> None:
        shutil.rmtree(os.path.join(_resident_root(), token), ignore_errors=True)

    return run


class ResidentBlocks:
    """Executor-local copies of a :class:`DigitBlocks`, referenced by a small cached RDD.

    Parameters
    ----------
    blocks : DigitBlocks
        The cached blocks to copy; they stay cached, as the source of rewrites.
    """

    def __init__(self, blocks: DigitBlocks) -> None:
        self.blocks = blocks
        self.rdd: RDD[tuple[int, ResidentBlock]] | None = None
        self._token = ""
        self.rewrite()

    def rewrite(self) -> None:
        """(Re)write the copies from the cached blocks, and cache the references."""
        self.remove()
        self._token = uuid.uuid4().hex
        rdd = self.blocks.rdd.mapPartitions(_write_copies(self._token), preservesPartitioning=True)
        rdd.persist(StorageLevel.MEMORY_AND_DISK)
        rdd.count()
        self.rdd = rdd

    def remove(self) -> None:
        """Delete the copies (on the executors that run the clean-up) and the references."""
        if self.rdd is None:
            return
        # One clean-up task per partition reaches most executors; the application's
        # own clean-up removes whatever another executor still holds.
        self.rdd.foreachPartition(_remove_copies(self._token))
        self.rdd.unpersist()
        self.rdd = None


def is_missing_copy(exc: BaseException) -> bool:
    """Whether a failed Spark action failed because a task found no local copy."""
    return MISSING_MARKER in str(exc)
