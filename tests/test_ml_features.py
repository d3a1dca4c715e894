"""Features columns to the engine's rows: vector, array or binary; checked at the edge."""

from __future__ import annotations

import numpy as np
import pytest
from ml_support import DOUBLES, digits_frame, jobs_in
from numpy.testing import assert_array_equal
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DoubleType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)
from support import embed

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.ml import KMeans, KMeansModel
from kmeans_spark.ml.features import (
    ARRAY,
    BINARY,
    VECTOR,
    _digit_row,
    digit_rows,
    feature_kind,
    has_label_column,
    label_of,
    pixels_of,
    pixels_of_any,
)
from kmeans_spark.readers.records import BadRecord
from kmeans_spark.schema import N_PIXELS

PIXELS = (np.arange(N_PIXELS) % 256).astype(np.uint8)


def _schema(features_type, label_type=None) -> StructType:
    label = StructField("label", label_type or IntegerType())
    return StructType([StructField("features", features_type), label])


@pytest.mark.parametrize(
    ("data_type", "kind"),
    [
        (VectorUDT(), VECTOR),
        (ArrayType(DoubleType()), ARRAY),
        (ArrayType(IntegerType(), containsNull=False), ARRAY),
        (ArrayType(FloatType()), ARRAY),
        (BinaryType(), BINARY),
    ],
)
def test_feature_kinds(data_type, kind) -> None:
    assert feature_kind(_schema(data_type), "features") == kind


def test_wrong_or_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="features column 'pixels' not found; the DataFrame "):
        feature_kind(_schema(VectorUDT()), "pixels")
    with pytest.raises(InputError, match="'features' has type string; expected a vector"):
        feature_kind(_schema(StringType()), "features")
    with pytest.raises(InputError, match="has type array<string>"):
        feature_kind(_schema(ArrayType(StringType())), "features")
    with pytest.raises(InputError, match="label column 'label' has type string"):
        has_label_column(_schema(VectorUDT(), StringType()), "label")
    assert has_label_column(_schema(VectorUDT(), DoubleType()), "label")
    assert not has_label_column(_schema(VectorUDT()), "digit")  # set but absent: unused
    assert not has_label_column(_schema(VectorUDT()), None)


def test_every_kind_gives_the_same_pixels() -> None:
    floats = PIXELS.astype(np.float64)
    nonzero = np.flatnonzero(PIXELS)
    for value, kind in [
        (Vectors.dense(floats), VECTOR),
        (Vectors.sparse(N_PIXELS, nonzero.tolist(), floats[nonzero].tolist()), VECTOR),
        (PIXELS.tolist(), ARRAY),
        (floats.tolist(), ARRAY),
        (PIXELS.tobytes(), BINARY),
        (bytearray(PIXELS.tobytes()), BINARY),
    ]:
        assert_array_equal(pixels_of(value, kind), PIXELS)
        assert_array_equal(pixels_of_any(value), PIXELS)
    assert_array_equal(pixels_of_any(PIXELS), PIXELS)


def _with(index: int, value: float) -> list[float]:
    values = PIXELS.astype(np.float64).tolist()
    values[index] = value
    return values


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        (Vectors.dense(_with(7, 3.5)), VECTOR, "value 3.5 at index 7 is not an integer 0..255"),
        (_with(0, 256), ARRAY, "value 256 at index 0 is not an integer 0..255"),
        ([*PIXELS.tolist()[:-1], -1], ARRAY, "value -1 at index 783 is not an integer 0..255"),
        (_with(3, float("nan")), ARRAY, "value nan at index 3 is not an integer 0..255"),
        (Vectors.dense(_with(9, float("inf"))), VECTOR, "value inf at index 9 is not"),
        ([*PIXELS.tolist()[:5], None, *PIXELS.tolist()[6:]], ARRAY, "null at index 5"),
        (None, VECTOR, "the features are null"),
        (Vectors.dense([1.0, 2.0]), VECTOR, "vector of size 2, expected 784"),
        (Vectors.sparse(785, [], []), VECTOR, "vector of size 785, expected 784"),
        ([1, 2, 3], ARRAY, "array of 3 values, expected 784"),
        (bytes(783), BINARY, "binary value of 783 bytes, expected 784"),
    ],
)
def test_values_that_are_not_pixels(value, kind, reason) -> None:
    with pytest.raises(BadRecord, match=reason.replace(".", "\\.")):
        pixels_of(value, kind)


def test_labels() -> None:
    assert [label_of(v) for v in (0, 9, 3.0, None)] == [0, 9, 3, None]
    for bad in (3.5, 10, -1, float("nan"), 1e300):
        with pytest.raises(BadRecord, match=r"is not an integer 0\.\.9 or null"):
            label_of(bad)


def test_digit_rows_are_positions_labels_and_bytes(spark) -> None:
    pixels = embed([[i, 2 * i] for i in range(7)])
    frame = digits_frame(spark, pixels, [1, 2, 3, 4, 5, 6, 7], kind=ARRAY, partitions=3)
    rows, labelled = digit_rows(frame, "features", "label")
    assert labelled
    assert sorted(rows.collect()) == [(i, i + 1, pixels[i].tobytes()) for i in range(7)]
    rows, labelled = digit_rows(frame, "features", None)
    assert not labelled and [label for _, label, _ in rows.collect()] == [None] * 7


def _frame_with_bad_row(spark, kind: str, bad_value, labels=None):
    """Eight good rows of ``kind`` and ``bad_value`` as row 5."""
    pixels = embed([[i, i] for i in range(8)])
    frame = digits_frame(spark, pixels, labels, kind=kind, partitions=3)
    schema = frame.schema
    rows = [tuple(row) for row in frame.collect()]
    rows[5] = (bad_value, *rows[5][1:])
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, 3), schema)


@pytest.mark.parametrize(
    ("kind", "bad", "message"),
    [
        (
            VECTOR,
            Vectors.dense(_with(7, 3.5)),
            "column 'features': row 5: value 3.5 at index 7 is not an integer 0..255",
        ),
        (BINARY, bytes(783), "column 'features': row 5: binary value of 783 bytes, expected"),
    ],
)
def test_fit_names_the_column_row_and_reason(spark, kind, bad, message) -> None:
    frame = _frame_with_bad_row(spark, kind, bad)
    with pytest.raises(InputError) as caught:
        KMeans(k=2, initMode="random").fit(frame)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


def test_a_row_names_its_column_position_and_reason() -> None:
    # What each task does with one indexed row (see digit_rows).
    row = (PIXELS.tobytes(), 3.0)
    assert _digit_row("pixels", BINARY, "digit", (row, 41)) == (41, 3, PIXELS.tobytes())
    assert _digit_row("pixels", BINARY, None, (row, 41)) == (41, None, PIXELS.tobytes())
    with pytest.raises(InputError, match=r"^column 'digit': row 41: label 12 is not an integer"):
        _digit_row("pixels", BINARY, "digit", ((PIXELS.tobytes(), 12), 41))
    with pytest.raises(InputError, match=r"^column 'pixels': row 41: the features are null$"):
        _digit_row("pixels", BINARY, "digit", ((None, 1), 41))


def test_schema_problems_are_found_before_any_spark_job(spark) -> None:
    frame = digits_frame(spark, embed([[0, 0], [1, 1], [5, 5]]), [1, 2, 3])
    words = frame.selectExpr("features", "'x' AS digit")
    with jobs_in(spark, "ml-feature-checks") as jobs:
        with pytest.raises(InputError, match="features column 'pixels' not found"):
            KMeans(featuresCol="pixels").fit(frame)
        with pytest.raises(InputError, match="features column 'label' has type int"):
            KMeans(featuresCol="label").fit(frame)
        with pytest.raises(InputError, match="label column 'digit' has type string"):
            KMeans(labelCol="digit").fit(words)
    assert jobs() == []


def test_transform_checks_rows_as_fit_does(spark) -> None:
    model = KMeansModel(embed([[0, 0], [10, 10]]).astype(np.float64))
    frame = _frame_with_bad_row(spark, DOUBLES, _with(4, 0.25))
    with pytest.raises(InputError, match="features column 'features' not found"):
        model.transform(frame.withColumnRenamed("features", "pixels"))
    transformed = model.transform(frame)  # lazy: rows are checked when evaluated
    with pytest.raises(InputError) as caught, raise_input_errors():
        transformed.collect()
    # Where the bad row lies: transform names it by partition and position within it.
    (partition, position), *_ = frame.rdd.mapPartitionsWithIndex(
        lambda index, rows: [(index, i) for i, row in enumerate(rows) if row[0][4] == 0.25]
    ).collect()
    assert str(caught.value) == (
        f"column 'features': partition {partition}, row {position}: "
        "value 0.25 at index 4 is not an integer 0..255"
    )
    with pytest.raises(InputError, match=r"^predict: vector of size 2, expected 784$"):
        model.predict(Vectors.dense([1.0, 2.0]))
    with pytest.raises(InputError, match=r"^predict: array of <U1 values, expected numbers$"):
        model.predict(["x"] * N_PIXELS)
