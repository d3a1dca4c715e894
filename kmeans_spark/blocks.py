"""Digits as compact numpy blocks, one per Spark partition, parsed once and cached.

A :class:`DigitBlock` holds the digits of one partition as a ``uint8`` matrix
(784 bytes a digit) beside their ids, labels and exact squared norms. The engine
works on a :class:`DigitBlocks`: an RDD of ``(partition_index, DigitBlock)`` with
exactly one block per partition and a known partitioner, so that per-iteration
state (the previous assignment) can be placed beside each block without a
shuffle (see :mod:`kmeans_spark.lloyd`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyspark import RDD, StorageLevel

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.schema import N_CLASSES, N_PIXELS, UNLABELLED

Row = tuple[int, "int | None", bytes]

logger = logging.getLogger(__name__)

LARGE_BLOCK_DIGITS = 30_000
"""Blocks of more digits (23.5 MB) are logged with a hint to raise the partitions."""


@dataclass(frozen=True)
class DigitBlock:
    """The digits of one partition.

    Attributes
    ----------
    ids : ndarray of int64, shape (n,)
        Position of each digit in its input, ascending.
    labels : ndarray of int8, shape (n,)
        True labels 0..9, or ``UNLABELLED`` (-1).
    pixels : ndarray of uint8, shape (n, 784)
        C-contiguous pixel rows.
    sq_norms : ndarray of int64, shape (n,)
        Exact squared Euclidean norm of every row.
    """

    ids: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int8]
    pixels: npt.NDArray[np.uint8]
    sq_norms: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def select(self, mask: npt.NDArray[np.bool_]) -> DigitBlock:
        """The sub-block of rows where ``mask`` (shape (n,)) is true."""
        return DigitBlock(self.ids[mask], self.labels[mask], self.pixels[mask], self.sq_norms[mask])


def squared_norms(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Exact ``sum(x**2)`` of each row of a ``(n, 784)`` uint8 matrix, as int64 ``(n,)``."""
    wide = pixels.astype(np.int32)
    return np.einsum("ij,ij->i", wide, wide).astype(np.int64)


def block_from_rows(rows: Iterable[Row]) -> DigitBlock:
    """Pack ``(id, label, pixels)`` rows into one block sorted by id.

    Parameters
    ----------
    rows : iterable of (int, int or None, bytes)
        Rows in the schema of :data:`kmeans_spark.schema.DIGITS_SCHEMA`, already
        validated by a reader (784 bytes each, labels in 0..9 or None).

    Returns
    -------
    DigitBlock
    """
    ids: list[int] = []
    labels: list[int] = []
    chunks: list[bytes] = []
    for digit_id, label, pixels in rows:
        ids.append(digit_id)
        labels.append(UNLABELLED if label is None else label)
        chunks.append(pixels)
    id_array = np.asarray(ids, dtype=np.int64)
    label_array = np.asarray(labels, dtype=np.int8)
    pixel_matrix = np.frombuffer(b"".join(chunks), dtype=np.uint8).reshape(-1, N_PIXELS)
    order = np.argsort(id_array, kind="stable")
    pixel_matrix = np.ascontiguousarray(pixel_matrix[order])
    return DigitBlock(
        id_array[order], label_array[order], pixel_matrix, squared_norms(pixel_matrix)
    )


def fingerprint_terms(block: DigitBlock) -> int:
    """Sum (mod 2**64) of a 64-bit hash of every ``(id, label, pixels)`` digit.

    A sum is independent of how digits are spread over partitions, so the
    fingerprint of a data set does not depend on the partitioning.
    """
    total = 0
    rows = zip(block.ids.tolist(), block.labels.tolist(), block.pixels, strict=True)
    for digit_id, label, row in rows:
        digest = hashlib.blake2b(digest_size=8)
        digest.update(digit_id.to_bytes(8, "little", signed=True))
        digest.update(label.to_bytes(1, "little", signed=True))
        digest.update(row.tobytes())
        total += int.from_bytes(digest.digest(), "little")
    return total & 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class BlockSummary:
    """Counts over a set of blocks, merged on the driver."""

    digits: int
    labelled: int
    fingerprint: int
    class_counts: tuple[int, ...]

    @staticmethod
    def of(block: DigitBlock) -> BlockSummary:
        labelled = block.labels[block.labels >= 0]
        counts = np.bincount(labelled, minlength=N_CLASSES)
        return BlockSummary(
            len(block), int(labelled.size), fingerprint_terms(block), tuple(int(c) for c in counts)
        )

    def merge(self, other: BlockSummary) -> BlockSummary:
        return BlockSummary(
            self.digits + other.digits,
            self.labelled + other.labelled,
            (self.fingerprint + other.fingerprint) & 0xFFFFFFFFFFFFFFFF,
            tuple(a + b for a, b in zip(self.class_counts, other.class_counts, strict=True)),
        )


def partition_of_key(key: int) -> int:
    """Partition function of every :class:`DigitBlocks` RDD: the key is the partition index.

    One module-level function object, so that Spark sees all block RDDs derived
    from the same shuffle as co-partitioned.
    """
    return key


def concat_blocks(blocks: Iterable[DigitBlock]) -> DigitBlock:
    """One block holding the rows of several, sorted by id."""
    parts = list(blocks)
    if not parts:
        return block_from_rows([])
    ids = np.concatenate([b.ids for b in parts])
    order = np.argsort(ids, kind="stable")
    return DigitBlock(
        ids[order],
        np.concatenate([b.labels for b in parts])[order],
        np.ascontiguousarray(np.concatenate([b.pixels for b in parts])[order]),
        np.concatenate([b.sq_norms for b in parts])[order],
    )


def _split_for_partitions(
    partitions: int,
) -> Callable[[Iterable[Row]], Iterator[tuple[int, DigitBlock]]]:
    """Pack an input partition's rows into one sub-block per target partition.

    Rows become numpy arrays where they are read, so the shuffle that places them
    moves a few large arrays instead of one Python object per digit.
    """

    def run(rows: Iterable[Row]) -> Iterator[tuple[int, DigitBlock]]:
        block = block_from_rows(rows)
        targets = block.ids % partitions
        for target in range(partitions):
            part = block.select(targets == target)
            if len(part):
                yield target, part

    return run


def _merge_partition(
    index: int, parts: Iterable[tuple[int, DigitBlock]]
) -> Iterator[tuple[int, DigitBlock]]:
    yield index, concat_blocks(part for _, part in parts)


@dataclass
class DigitBlocks:
    """A cached RDD of ``(partition_index, DigitBlock)``, one block per partition.

    Attributes
    ----------
    rdd : RDD of (int, DigitBlock)
        Persisted; partitioned by :func:`partition_of_key`.
    summary : BlockSummary
        Number of digits, of labelled digits, class counts and the data fingerprint.
    """

    rdd: RDD[tuple[int, DigitBlock]]
    summary: BlockSummary

    @property
    def num_digits(self) -> int:
        return self.summary.digits

    @property
    def num_partitions(self) -> int:
        return self.rdd.getNumPartitions()

    @property
    def fingerprint(self) -> str:
        """Hex fingerprint of the digits' ids, labels and pixels."""
        return f"{self.summary.fingerprint:016x}"

    def select(self, keep: Callable[[DigitBlock], npt.NDArray[np.bool_]]) -> DigitBlocks:
        """A new cached set of blocks holding the rows where ``keep(block)`` is true.

        ``keep`` runs on the executors; the partitioning is preserved.
        """
        selected = self.rdd.mapValues(lambda block: block.select(keep(block)))
        return _cache_and_summarise(selected)

    def unpersist(self) -> None:
        self.rdd.unpersist()


def _cache_and_summarise(rdd: RDD[tuple[int, DigitBlock]]) -> DigitBlocks:
    rdd = rdd.persist(StorageLevel.MEMORY_AND_DISK)
    with raise_input_errors():
        summary = rdd.map(lambda kv: BlockSummary.of(kv[1])).reduce(BlockSummary.merge)
    return DigitBlocks(rdd, summary)


def to_blocks(rows: RDD[Row], num_partitions: int | None = None) -> DigitBlocks:
    """Parse rows once into cached numpy blocks, one per partition.

    Parameters
    ----------
    rows : RDD of (int, int or None, bytes)
        Digits as the readers yield them (see :mod:`kmeans_spark.readers`).
    num_partitions : int, optional
        Number of blocks; default: the Spark context's default parallelism.

    Returns
    -------
    DigitBlocks
        Cached and counted. Malformed input surfaces here as :class:`InputError`.

    Raises
    ------
    InputError
        A reader rejected a record, or the input holds no digits.
    """
    partitions = num_partitions or rows.context.defaultParallelism
    if partitions < 1:
        raise ValueError(f"num_partitions must be >= 1, got {partitions}")
    blocks = (
        rows.mapPartitions(_split_for_partitions(partitions))
        .partitionBy(partitions, partition_of_key)
        .mapPartitionsWithIndex(_merge_partition, preservesPartitioning=True)
    )
    result = _cache_and_summarise(blocks)
    if result.num_digits == 0:
        result.unpersist()
        raise InputError("no digits in the input")
    per_block = result.num_digits / partitions
    if per_block > LARGE_BLOCK_DIGITS:
        # Each block is one record in the JVM (the driver's, in local mode): past a few
        # tens of MB, a 1 GB heap runs out (docs/reliability.md, "Memory").
        logger.warning(
            "%d digits in %d partitions: blocks of %.0f MB; with a small executor or driver "
            "heap, pass --partitions %d or more",
            result.num_digits,
            partitions,
            per_block * N_PIXELS / 1e6,
            -(-result.num_digits // LARGE_BLOCK_DIGITS),
            extra={"event": "large_blocks", "partitions": partitions},
        )
    return result
