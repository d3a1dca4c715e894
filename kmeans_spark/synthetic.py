"""More digits from MNIST: each a real digit moved by a random shift of up to 2 pixels.

Digit ``i`` is base digit ``i mod m`` shifted by ``(dy, dx)`` in ``[-2, 2]^2``, both drawn
from ``(seed, i)`` alone, so any slice of the data can be made anywhere (on the
executors) and every system sees the same digits.

:func:`synthetic_rows` makes them as reader rows on the executors, and
:func:`write_synthetic_parquet` writes them as a Parquet input for the jobs
(``jobs/make_digits.py``): a million digits without a million-digit file to fetch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from pyspark import RDD, Broadcast, SparkContext
from pyspark.sql import SparkSession

from kmeans_spark.blocks import Row
from kmeans_spark.hashing import uniform_by_id
from kmeans_spark.schema import DIGITS_SCHEMA, IMAGE_SIDE, N_PIXELS

MAX_SHIFT = 2
STREAM_SHIFT_Y = 11
STREAM_SHIFT_X = 12
_CHUNK = 10_000
"""Digits made at a time by :func:`synthetic_rows` (8 MB of pixels)."""
BaseDigits = tuple[npt.NDArray[np.uint8], npt.NDArray[np.integer]]
"""Base images of shape (m, 784) and their labels of shape (m,)."""


def shift_images(
    images: npt.NDArray[np.uint8], dy: npt.NDArray[np.int64], dx: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint8]:
    """Shift each 28 x 28 image by its own ``(dy, dx)``, filling with background.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 784)
    dy, dx : ndarray of int, shape (n,)
        Shifts in ``[-MAX_SHIFT, MAX_SHIFT]``; positive moves down / right.

    Returns
    -------
    ndarray of uint8, shape (n, 784)
    """
    pad = MAX_SHIFT
    side = IMAGE_SIDE
    padded = np.zeros((images.shape[0], side + 2 * pad, side + 2 * pad), dtype=np.uint8)
    padded[:, pad : pad + side, pad : pad + side] = images.reshape(-1, side, side)
    rows = (np.arange(side)[None, :] + pad - dy[:, None])[:, :, None]
    cols = (np.arange(side)[None, :] + pad - dx[:, None])[:, None, :]
    shifted = padded[np.arange(images.shape[0])[:, None, None], rows, cols]
    return shifted.reshape(-1, N_PIXELS)


def shifted_digits(
    base_images: npt.NDArray[np.uint8],
    base_labels: npt.NDArray[np.integer],
    ids: npt.NDArray[np.int64],
    seed: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The digits with the given ids, made from ``m`` base digits.

    Parameters
    ----------
    base_images : ndarray of uint8, shape (m, 784)
    base_labels : ndarray of int, shape (m,)
    ids : ndarray of int64, shape (n,)
    seed : int

    Returns
    -------
    images : ndarray of uint8, shape (n, 784)
    labels : ndarray of int64, shape (n,)
    """
    source = ids % base_images.shape[0]
    span = 2 * MAX_SHIFT + 1
    dy = (uniform_by_id(ids, seed, STREAM_SHIFT_Y) * span).astype(np.int64) - MAX_SHIFT
    dx = (uniform_by_id(ids, seed, STREAM_SHIFT_X) * span).astype(np.int64) - MAX_SHIFT
    return shift_images(base_images[source], dy, dx), base_labels[source].astype(np.int64)


def synthetic_rows(
    sc: SparkContext,
    base_images: npt.NDArray[np.uint8],
    base_labels: npt.NDArray[np.integer],
    n: int,
    seed: int,
    slices: int,
) -> RDD[Row]:
    """Rows of ``n`` shifted digits, made on the executors from broadcast base digits.

    Parameters
    ----------
    sc : SparkContext
    base_images : ndarray of uint8, shape (m, 784)
    base_labels : ndarray of int, shape (m,)
    n : int
        Digits wanted; ids ``0..n-1``.
    seed : int
    slices : int
        Partitions of the result; slice ``s`` holds ids
        ``[s * n // slices, (s + 1) * n // slices)`` in ascending order.

    Returns
    -------
    RDD of (int, int or None, bytes)
        ``(id, label, 784 pixel bytes)``, the rows of
        :data:`~kmeans_spark.schema.DIGITS_SCHEMA`; a base label below 0
        (:data:`~kmeans_spark.schema.UNLABELLED`) gives None.
    """
    return _rows(sc, _share_base(sc, base_images, base_labels, n, slices), n, seed, slices)


def _share_base(
    sc: SparkContext,
    base_images: npt.NDArray[np.uint8],
    base_labels: npt.NDArray[np.integer],
    n: int,
    slices: int,
) -> Broadcast[BaseDigits]:
    """The checked base digits, broadcast to the executors."""
    if n < 1 or slices < 1:
        raise ValueError(f"need n >= 1 and slices >= 1, got n={n}, slices={slices}")
    if base_images.ndim != 2 or base_images.shape[1] != N_PIXELS or base_images.shape[0] < 1:
        raise ValueError(f"base images must have shape (m, {N_PIXELS}), got {base_images.shape}")
    if base_labels.shape != (base_images.shape[0],):
        raise ValueError(
            f"base labels must have shape ({base_images.shape[0]},), got {base_labels.shape}"
        )
    # The driver holds the m base digits (47 MB for MNIST's 60,000), never the n made ones.
    return sc.broadcast((np.ascontiguousarray(base_images, dtype=np.uint8), base_labels))


def _rows(
    sc: SparkContext, shared: Broadcast[BaseDigits], n: int, seed: int, slices: int
) -> RDD[Row]:
    def make(slice_index: int) -> Iterator[Row]:
        images, labels = shared.value
        start, stop = slice_index * n // slices, (slice_index + 1) * n // slices
        # A chunk at a time, so that a slice of any size costs a worker little memory.
        for chunk in range(start, stop, _CHUNK):
            ids = np.arange(chunk, min(chunk + _CHUNK, stop), dtype=np.int64)
            pixels, digit_labels = shifted_digits(images, labels, ids, seed)
            for digit_id, label, row in zip(
                ids.tolist(), digit_labels.tolist(), pixels, strict=True
            ):
                yield digit_id, (label if label >= 0 else None), row.tobytes()

    return sc.parallelize(range(slices), slices).flatMap(make)


def write_synthetic_parquet(
    spark: SparkSession,
    base_images: npt.NDArray[np.uint8],
    base_labels: npt.NDArray[np.integer],
    n: int,
    output: str,
    seed: int = 0,
    files: int = 8,
    overwrite: bool = False,
) -> None:
    """Write ``n`` shifted digits as a Parquet directory the readers take as input.

    Spark writes one part file per slice, from the executors: ``part-00000-*``
    holds the first ids, so the positions that
    :mod:`~kmeans_spark.readers.parquet` gives the digits (part files in name
    order, rows in file order) are their ids. Several files keep the input
    splittable: every reader task gets a share.

    Parameters
    ----------
    spark : SparkSession
    base_images : ndarray of uint8, shape (m, 784)
    base_labels : ndarray of int, shape (m,)
    n : int
    output : str
        A Hadoop path; refused when it exists, unless ``overwrite``.
    seed : int
    files : int
        Part files written.
    overwrite : bool
    """
    sc = spark.sparkContext
    shared = _share_base(sc, base_images, base_labels, n, files)
    try:
        # The rows are made to the schema: checking each in Python would cost more than
        # making it.
        frame = spark.createDataFrame(
            _rows(sc, shared, n, seed, files), DIGITS_SCHEMA, verifySchema=False
        )
        frame.write.mode("overwrite" if overwrite else "errorifexists").parquet(output)
    finally:
        shared.destroy()  # the rows are written: no task needs the base digits any more
