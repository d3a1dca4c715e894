"""From a DataFrame's features column to the engine's digits, validated at the edge.

The engine is exact on MNIST pixels: 784 integers 0..255 a row. A features
column may hold them as

* a ``pyspark.ml.linalg`` vector (``VectorUDT``, dense or sparse) of size 784,
* an array of numbers (any integer or floating-point element type) of length 784,
* a binary value of 784 bytes.

Every value must be an integer 0..255 (``3.0`` is fine; ``3.5``, ``256``, ``-1``,
NaN and null are not). A bad row raises :class:`~kmeans_spark.errors.InputError`
whose one-line message names the column, the row and the reason, e.g.::

    column 'features': row 17: value 3.5 at index 102 is not an integer 0..255

Column problems that the schema shows (missing column, wrong type) are found on
the driver before any Spark job runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark import RDD
from pyspark.ml.linalg import Vector, VectorUDT
from pyspark.sql import DataFrame
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    ByteType,
    DataType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StructType,
)

from kmeans_spark.blocks import Row
from kmeans_spark.errors import InputError
from kmeans_spark.readers.records import BadRecord, one_line
from kmeans_spark.schema import MAX_PIXEL, N_CLASSES, N_PIXELS

VECTOR, ARRAY, BINARY = "vector", "array", "binary"
"""The kinds of features column."""

_NUMBER_TYPES = (ByteType, ShortType, IntegerType, LongType, FloatType, DoubleType)
EXPECTED_FEATURES = (
    f"a vector of size {N_PIXELS}, an array of {N_PIXELS} numbers or a binary of "
    f"{N_PIXELS} bytes, every value an integer 0..{MAX_PIXEL}"
)


def row_error(column: str, where: str, reason: str) -> InputError:
    """InputError about one row: ``"column '<column>': <where>: <reason>"``, on one line."""
    return InputError(one_line(f"column {column!r}: {where}: {reason}"))


def _column_type(schema: StructType, column: str, role: str) -> DataType:
    """The type of a top-level column, or InputError naming the columns there are."""
    if column not in schema.fieldNames():
        raise InputError(
            f"{role} column {column!r} not found; the DataFrame has columns "
            f"{', '.join(repr(name) for name in schema.fieldNames()) or 'none'}"
        )
    return schema[column].dataType


def feature_kind(schema: StructType, column: str) -> str:
    """How a features column holds its pixels: :data:`VECTOR`, :data:`ARRAY` or :data:`BINARY`.

    Raises
    ------
    InputError
        The column is missing or of another type.
    """
    data_type = _column_type(schema, column, "features")
    if isinstance(data_type, VectorUDT):
        return VECTOR
    if isinstance(data_type, ArrayType) and isinstance(data_type.elementType, _NUMBER_TYPES):
        return ARRAY
    if isinstance(data_type, BinaryType):
        return BINARY
    raise InputError(
        f"features column {column!r} has type {data_type.simpleString()}; "
        f"expected {EXPECTED_FEATURES}"
    )


def has_label_column(schema: StructType, column: str | None) -> bool:
    """Whether ``column`` is set and present; InputError when present but not numeric."""
    if column is None or column not in schema.fieldNames():
        return False
    data_type = schema[column].dataType
    if not isinstance(data_type, _NUMBER_TYPES):
        raise InputError(
            f"label column {column!r} has type {data_type.simpleString()}; "
            f"expected numbers 0..{N_CLASSES - 1} or null"
        )
    return True


def _checked_pixels(values: npt.NDArray[Any], shown: Sequence[Any]) -> npt.NDArray[np.uint8]:
    """``values`` (shape (784,)) as uint8, or BadRecord at the first non-pixel.

    ``shown`` holds the values as the user gave them, for the message.
    """
    if np.issubdtype(values.dtype, np.integer):
        good = (values >= 0) & (values <= MAX_PIXEL)
    else:
        # NaN fails every comparison, so it is caught here too.
        good = (values >= 0) & (values <= MAX_PIXEL) & (np.floor(values) == values)
    if not good.all():
        index = int(np.flatnonzero(~good)[0])
        raise BadRecord(f"value {shown[index]!r} at index {index} is not an integer 0..{MAX_PIXEL}")
    return values.astype(np.uint8)


def pixels_of(value: Any, kind: str) -> npt.NDArray[np.uint8]:
    """The 784 pixels of one features value.

    Parameters
    ----------
    value : Vector, sequence of numbers, bytes or None
        As Spark gives the column's value to Python.
    kind : {"vector", "array", "binary"}

    Returns
    -------
    ndarray of uint8, shape (784,)

    Raises
    ------
    BadRecord
        With the reason the value is not a digit.
    """
    if value is None:
        raise BadRecord("the features are null")
    if kind == BINARY:
        data = bytes(value)
        if len(data) != N_PIXELS:
            raise BadRecord(f"binary value of {len(data)} bytes, expected {N_PIXELS}")
        return np.frombuffer(data, dtype=np.uint8)
    if kind == VECTOR:
        if value.size != N_PIXELS:
            raise BadRecord(f"vector of size {value.size}, expected {N_PIXELS}")
        values = value.toArray()
        return _checked_pixels(values, values.tolist())
    if len(value) != N_PIXELS:
        raise BadRecord(f"array of {len(value)} values, expected {N_PIXELS}")
    if None in value:
        raise BadRecord(f"null at index {list(value).index(None)}")
    values = np.asarray(value)
    if values.dtype.kind not in "iuf":
        raise BadRecord(f"array of {values.dtype} values, expected numbers")
    return _checked_pixels(values, value)


def pixels_of_any(value: Any) -> npt.NDArray[np.uint8]:
    """The pixels of a single Python value: a Vector, bytes, or a sequence of numbers.

    Raises
    ------
    BadRecord
    """
    if isinstance(value, Vector):
        return pixels_of(value, VECTOR)
    if isinstance(value, bytes | bytearray | memoryview):
        return pixels_of(value, BINARY)
    if value is None:
        return pixels_of(value, ARRAY)
    return pixels_of(list(np.asarray(value).ravel().tolist()), ARRAY)


def label_of(value: Any) -> int | None:
    """A label 0..9 from an integer or an integral float; None stays None.

    Raises
    ------
    BadRecord
        For NaN, a fraction, or a number outside 0..9.
    """
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < N_CLASSES:
        raise BadRecord(f"label {value!r} is not an integer 0..{N_CLASSES - 1} or null")
    return value


def _digit_row(
    features_col: str, kind: str, label_col: str | None, indexed: tuple[Any, int]
) -> Row:
    """``(position, label, pixels)`` of one indexed row of ``(features[, label])``."""
    row, position = indexed
    try:
        pixels = pixels_of(row[0], kind).tobytes()
    except BadRecord as bad:
        raise row_error(features_col, f"row {position}", bad.reason) from None
    label = None
    if label_col is not None:
        try:
            label = label_of(row[1])
        except BadRecord as bad:
            raise row_error(label_col, f"row {position}", bad.reason) from None
    return position, label, pixels


def digit_rows(
    dataset: DataFrame, features_col: str, label_col: str | None
) -> tuple[RDD[Row], bool]:
    """The engine's rows ``(id, label or None, 784 bytes)`` of a DataFrame.

    Parameters
    ----------
    dataset : DataFrame
    features_col : str
    label_col : str, optional
        Used when set and present in ``dataset``.

    Returns
    -------
    rows : RDD of (int, int or None, bytes)
        ``id`` is the row's position in ``dataset`` (``zipWithIndex``), so that
        seeded choices do not depend on partitioning. ``zipWithIndex`` counts
        the rows of each partition in one Spark job (none for one partition);
        the rows are checked later, when evaluated: a bad one raises InputError.
    labelled : bool
        Whether the labels come from ``label_col``.

    Raises
    ------
    InputError
        Missing or wrongly typed columns, found from the schema.
    """
    kind = feature_kind(dataset.schema, features_col)
    labelled = has_label_column(dataset.schema, label_col)
    columns = [dataset[features_col]]
    if labelled and label_col is not None:
        columns.append(dataset[label_col])
    convert = partial(_digit_row, features_col, kind, label_col if labelled else None)
    return dataset.select(*columns).rdd.zipWithIndex().map(convert), labelled


def pixel_batches(
    rows: Iterable[Any], column_index: int, column: str, kind: str, partition: int, size: int
) -> Iterator[tuple[list[Any], npt.NDArray[np.uint8]]]:
    """Rows of one partition in batches, each with its pixel matrix.

    Parameters
    ----------
    rows : iterable of pyspark.sql.Row
    column_index : int
        Position of the features column in each row.
    column : str
        Its name, for messages.
    kind : {"vector", "array", "binary"}
    partition : int
        The partition's index, for messages.
    size : int
        Rows per batch.

    Yields
    ------
    batch : list of Row
    pixels : ndarray of uint8, shape (len(batch), 784)

    Raises
    ------
    InputError
        At the first bad row, named by partition and position in it.
    """
    iterator = iter(rows)
    start = 0
    while batch := list(itertools.islice(iterator, size)):
        pixels = np.empty((len(batch), N_PIXELS), dtype=np.uint8)
        for offset, row in enumerate(batch):
            try:
                pixels[offset] = pixels_of(row[column_index], kind)
            except BadRecord as bad:
                where = f"partition {partition}, row {start + offset}"
                raise row_error(column, where, bad.reason) from None
        yield batch, pixels
        start += len(batch)
