"""Parquet reader: binary and array pixels, label types, part-file order, every error."""

from __future__ import annotations

import pytest
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    ByteType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)
from readers_support import assert_rows_match, make_digits, part_files, write_parquet

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.readers import read_rows


def evaluate(rows):
    with raise_input_errors():
        return rows.collect()


def write_records(spark, folder, schema, records):
    spark.createDataFrame(records, schema).coalesce(1).write.parquet(str(folder))
    return folder


BINARY_SCHEMA = StructType(
    [StructField("label", LongType(), True), StructField("pixels", BinaryType(), True)]
)
ARRAY_SCHEMA = StructType(
    [StructField("label", LongType(), True), StructField("pixels", ArrayType(LongType()), True)]
)


@pytest.mark.parametrize("pixels_as_array", [False, True], ids=["binary", "array"])
def test_round_trip_directory(spark, tmp_path, pixels_as_array):
    digits = make_digits(20, seed=31, unlabelled_every=6)
    folder = write_parquet(spark, tmp_path / "d", digits, pixels_as_array=pixels_as_array)

    assert_rows_match(spark, read_rows(spark, str(folder)), digits)


def test_round_trip_single_part_file_with_byte_labels(spark, tmp_path):
    digits = make_digits(20, seed=32)
    folder = write_parquet(spark, tmp_path / "d", digits, label_type=ByteType())
    (part,) = part_files(folder)

    assert_rows_match(spark, read_rows(spark, str(part)), digits)


def test_ids_follow_part_file_names_not_sizes(spark, tmp_path):
    # Spark reads the bigger part first; ids must still follow part-00000, part-00001, ...
    digits = make_digits(20, seed=33)
    folder = write_parquet(spark, tmp_path / "d", digits, part_sizes=(3, 12, 5))
    assert len(part_files(folder)) == 3

    assert_rows_match(spark, read_rows(spark, str(folder)), digits)


def test_no_label_column_means_unlabelled(spark, tmp_path):
    digits = make_digits(20, seed=34, unlabelled_every=1)
    schema = StructType([StructField("pixels", BinaryType(), False)])
    folder = write_records(
        spark, tmp_path / "d", schema, [(img.tobytes(),) for img in digits.images]
    )

    assert_rows_match(spark, read_rows(spark, str(folder)), digits)


def digit_records(n):
    """``n`` valid ``(label, pixels)`` records with binary pixels."""
    return [(i % 10, bytes(784)) for i in range(n)]


@pytest.mark.parametrize(
    ("schema", "record", "reason"),
    [
        (BINARY_SCHEMA, (10, bytes(784)), r"label 10 outside 0\.\.9"),
        (BINARY_SCHEMA, (-3, bytes(784)), r"label -3 outside 0\.\.9"),
        (BINARY_SCHEMA, (1, bytes(783)), r"'pixels' holds 783 bytes, expected 784"),
        (BINARY_SCHEMA, (1, None), r"'pixels' is null"),
        (ARRAY_SCHEMA, (1, [0] * 785), r"'pixels' holds 785 values, expected 784"),
        (
            ARRAY_SCHEMA,
            (1, [0] * 16 + [256] + [0] * 767),
            r"pixel 256 outside 0\.\.255 \(index 16\)",
        ),
        (ARRAY_SCHEMA, (1, [0] * 20 + [None] + [0] * 763), r"pixel at index 20 is null"),
    ],
)
def test_bad_record_names_file_record_and_reason(spark, tmp_path, schema, record, reason):
    records = digit_records(5)
    if isinstance(schema.fields[1].dataType, ArrayType):
        records = [(label, list(pixels)) for label, pixels in records]
    records[3] = record
    folder = write_records(spark, tmp_path / "d", schema, records)
    (part,) = part_files(folder)

    with pytest.raises(InputError, match=rf"^{folder}/{part.name}: record 3: {reason}$"):
        evaluate(read_rows(spark, str(folder)))


@pytest.mark.parametrize(
    ("schema", "records", "reason"),
    [
        (
            StructType([StructField("label", DoubleType()), StructField("pixels", BinaryType())]),
            [(float("nan"), bytes(784)), (7.0, bytes(784))],
            r"column 'label' is double, expected an integer type",
        ),
        (
            StructType([StructField("label", StringType()), StructField("pixels", BinaryType())]),
            [("7", bytes(784))],
            r"column 'label' is string, expected an integer type",
        ),
        (
            StructType(
                [
                    StructField("label", IntegerType()),
                    StructField("pixels", ArrayType(DoubleType())),
                ]
            ),
            [(1, [float("nan")] * 784)],
            r"column 'pixels' is array<double>, expected binary or an array of integers",
        ),
        (
            StructType([StructField("label", IntegerType()), StructField("image", BinaryType())]),
            [(1, bytes(784))],
            r"no column 'pixels' \(columns: label, image\)",
        ),
    ],
    ids=["nan-label", "string-label", "nan-pixels", "no-pixels"],
)
def test_wrong_schema_is_refused_at_once(spark, tmp_path, schema, records, reason):
    folder = write_records(spark, tmp_path / "d", schema, records)

    with pytest.raises(InputError, match=rf"^{folder}: {reason}"):
        read_rows(spark, str(folder))


def test_no_rows_is_refused_at_once(spark, tmp_path):
    folder = write_records(spark, tmp_path / "d", BINARY_SCHEMA, [])

    with pytest.raises(InputError, match=rf"^{folder}: no digits in the input$"):
        read_rows(spark, str(folder))


def test_not_parquet(spark, tmp_path):
    path = tmp_path / "d.parquet"
    path.write_text("label,pixels\n")

    with pytest.raises(InputError, match=r"d\.parquet: cannot read as Parquet"):
        read_rows(spark, str(path))
