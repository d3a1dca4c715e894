"""Parquet: a file, or a directory of part files as Spark writes them.

Columns (names case-insensitive, others ignored):

* ``pixels``: ``binary`` of 784 bytes, or ``array`` of any integer type with
  784 values 0..255;
* ``label``: any integer type, nullable; may be absent (all digits unlabelled).

Floating-point columns are refused when the schema is read, before any task
runs: a ``double`` label column (what pandas makes of integers with gaps) or
float pixels would need rounding rules we do not want to guess, and NaN has no
digit meaning. The message says which column and type.

Ids are positions: part files in name order, rows in file order. Spark packs
part files into partitions by size, not by name, so a global ``zipWithIndex``
would not follow name order; instead each row's file and row index come from the
``_metadata`` column, and one small job counts the rows of every file to turn
those into global positions. That job reads only Parquet footers, and finds an
input with no rows before anything else runs.

Under the ``"skip"`` policy a bad record (a null, a wrong number of pixels, a
value out of range) becomes a :class:`~.records.Reject` naming its part file
and row (``raw`` None: the reason quotes the value); schema faults still fail.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import unquote

import numpy as np
from py4j.protocol import Py4JError
from pyspark import RDD
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    ByteType,
    DataType,
    IntegerType,
    LongType,
    ShortType,
    StructType,
)

from kmeans_spark.readers import paths
from kmeans_spark.readers.records import (
    BadRecord,
    Reject,
    Row,
    check_label,
    check_pixel_count,
    file_error,
    no_digits_error,
    pixels_to_bytes,
    record_error,
)

_INTEGER_TYPES = (ByteType, ShortType, IntegerType, LongType)
LocatedRecord = tuple[str, int, object, object]
"""``(file URI, row index in file, label, pixels)`` as the located DataFrame yields it."""


def read_parquet_rows(spark: SparkSession, path: str, skip_bad: bool = False) -> RDD[Row | Reject]:
    """Digits of a Parquet file or directory; records are checked lazily by Spark tasks.

    Parameters
    ----------
    spark : SparkSession
    path : str
        A Parquet file or a directory of Parquet part files.
    skip_bad : bool, default False
        Yield a Reject for a bad record instead of raising (the ``"skip"`` policy).

    Returns
    -------
    RDD of (int, int or None, bytes), and Reject when ``skip_bad``
        ``(position, label, 784 pixel bytes)``, in no particular order; evaluating
        it raises InputError at the first bad record, unless ``skip_bad``.

    Raises
    ------
    InputError
        Not Parquet, no or wrongly typed ``pixels``/``label`` column, or no rows.
    """
    frame = _load(spark, path)
    label = _label_column(frame.schema, path)
    pixels_are_binary = _pixels_are_binary(frame.schema, path)
    offsets = _file_offsets(frame, path)
    sources = _sources(spark, path, list(offsets))
    located = frame.select(
        F.col("_metadata.file_path"), F.col("_metadata.row_index"), label, F.col("pixels")
    )
    convert = partial(
        _digit_of_record,
        offsets=offsets,
        sources=sources,
        pixels_are_binary=pixels_are_binary,
        skip_bad=skip_bad,
    )
    return located.rdd.map(convert)


def _load(spark: SparkSession, path: str) -> DataFrame:
    try:
        return spark.read.parquet(path)
    except (PySparkException, Py4JError) as exc:
        raise file_error(path, f"cannot read as Parquet ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _field_type(schema: StructType, name: str) -> DataType | None:
    """Type of the column ``name`` (case-insensitive, like Spark's resolution), or None."""
    for field in schema.fields:
        if field.name.lower() == name:
            return field.dataType
    return None


def _label_column(schema: StructType, path: str) -> Column:
    """The label column to select: ``label`` itself, or nulls when the file has none."""
    label_type = _field_type(schema, "label")
    if label_type is None:
        return F.lit(None).cast(IntegerType()).alias("label")
    if not isinstance(label_type, _INTEGER_TYPES):
        raise file_error(
            path,
            f"column 'label' is {label_type.simpleString()}, expected an integer type "
            "(byte, short, int or long; null for unlabelled digits)",
        )
    return F.col("label")


def _pixels_are_binary(schema: StructType, path: str) -> bool:
    """True for ``binary`` pixels, False for an integer array; InputError otherwise."""
    pixels_type = _field_type(schema, "pixels")
    if pixels_type is None:
        columns = ", ".join(schema.fieldNames()) or "none"
        raise file_error(path, f"no column 'pixels' (columns: {columns})")
    if isinstance(pixels_type, BinaryType):
        return True
    if isinstance(pixels_type, ArrayType) and isinstance(pixels_type.elementType, _INTEGER_TYPES):
        return False
    raise file_error(
        path,
        f"column 'pixels' is {pixels_type.simpleString()}, expected binary or an array of integers",
    )


def _file_offsets(frame: DataFrame, path: str) -> dict[str, int]:
    """Global position of the first row of each part file, files in name order.

    Returns
    -------
    dict of str to int
        Keyed by the file URI exactly as ``_metadata.file_path`` spells it.
    """
    file_path = F.col("_metadata.file_path").alias("file_path")
    try:
        counts = frame.select(file_path).groupBy("file_path").count().collect()
    except (PySparkException, Py4JError) as exc:
        raise file_error(path, f"cannot read as Parquet ({_first_line(exc)})") from None
    rows_per_file = {str(row["file_path"]): int(row["count"]) for row in counts}
    if not any(rows_per_file.values()):
        raise no_digits_error(path)
    names = sorted(rows_per_file)
    starts = np.cumsum([0, *(rows_per_file[name] for name in names)])[:-1]
    return {name: int(start) for name, start in zip(names, starts, strict=True)}


def _sources(spark: SparkSession, path: str, file_uris: list[str]) -> dict[str, str]:
    """The name used in messages for each file: the given path, or path/part-name."""
    if not paths.is_dir(spark, path):
        return dict.fromkeys(file_uris, path)
    return {uri: paths.join(path, unquote(paths.split(uri)[1])) for uri in file_uris}


def _digit_of_record(
    record: LocatedRecord,
    offsets: dict[str, int],
    sources: dict[str, str],
    pixels_are_binary: bool,
    skip_bad: bool = False,
) -> Row | Reject:
    file_uri, row_index, label, pixels = record
    try:
        checked_label = check_label(label)
        if pixels_are_binary:
            checked_pixels = _pixels_from_binary(pixels)
        else:
            checked_pixels = _pixels_from_array(pixels)
    except BadRecord as exc:
        if skip_bad:
            return Reject(sources[file_uri], "record", row_index, exc.reason)
        raise record_error(sources[file_uri], "record", row_index, exc.reason) from None
    return offsets[file_uri] + row_index, checked_label, checked_pixels


def _pixels_from_binary(pixels: object) -> bytes:
    if pixels is None:
        raise BadRecord("'pixels' is null")
    data = bytes(pixels)  # type: ignore[call-overload]  # bytearray from Spark's binary
    check_pixel_count(len(data), "'pixels' holds", "bytes")
    return data


def _pixels_from_array(pixels: object) -> bytes:
    if pixels is None:
        raise BadRecord("'pixels' is null")
    values = list(pixels)  # type: ignore[call-overload]
    check_pixel_count(len(values), "'pixels' holds", "values")
    try:
        array = np.array(values, dtype=np.int64)
    except TypeError:
        raise BadRecord(f"pixel at index {values.index(None)} is null") from None
    return pixels_to_bytes(array, "index", 0)
