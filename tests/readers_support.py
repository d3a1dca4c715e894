"""Test digits, writers for every input format, and the expected DataFrame.

The readers' tests build small random digits here, write them with code that
does not share anything with the readers (plain ``gzip``/``json``/``base64``,
:func:`~kmeans_spark.idx_format.encode_idx`, Spark's own Parquet writer), and
compare what the readers return with what was written.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from chispa import assert_df_equality
from pyspark import RDD
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import ArrayType, BinaryType, DataType, LongType, StructField, StructType

from kmeans_spark.errors import raise_input_errors
from kmeans_spark.idx_format import encode_idx
from kmeans_spark.schema import DIGITS_SCHEMA, IMAGE_SIDE, N_PIXELS


@dataclass(frozen=True)
class Digits:
    """Digits as written: ``labels`` (n,) with -1 for unlabelled, ``images`` (n, 784) uint8."""

    labels: npt.NDArray[np.int64]
    images: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, index: int) -> int | None:
        value = int(self.labels[index])
        return None if value < 0 else value

    def rows(self) -> list[tuple[int, int | None, bytes]]:
        """The rows a reader must return, ``(id, label, pixels)``, ids from 0."""
        return [(i, self.label(i), self.images[i].tobytes()) for i in range(len(self))]


def make_digits(n: int = 20, seed: int = 0, unlabelled_every: int = 0) -> Digits:
    """``n`` random digits; every ``unlabelled_every``-th one (if > 0) has no label.

    Pixels are drawn from the whole 0..255 range and include both ends, so a
    reader that clips, sign-extends or drops a byte fails the comparison.
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, N_PIXELS), dtype=np.uint8)
    images[0, :2] = (0, 255)
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    if unlabelled_every:
        labels[::unlabelled_every] = -1
    return Digits(labels, images)


def expected_frame(spark: SparkSession, digits: Digits) -> DataFrame:
    return spark.createDataFrame(digits.rows(), DIGITS_SCHEMA)


def assert_rows_match(spark: SparkSession, rows: RDD, digits: Digits) -> None:
    """Compare a reader's rows with the written digits, ids included.

    Rows are put in id order on the driver (a Spark sort would cost a shuffle per
    test); the DataFrame built from them still goes through DIGITS_SCHEMA's checks.
    """
    with raise_input_errors():
        collected = sorted(rows.collect(), key=lambda row: row[0])
    actual = spark.createDataFrame(collected, DIGITS_SCHEMA)
    assert_df_equality(actual, expected_frame(spark, digits))


def assert_frame_matches(spark: SparkSession, frame: DataFrame, digits: Digits) -> None:
    """Compare a reader's DataFrame (schema included) with the written digits."""
    actual = spark.createDataFrame(sorted(frame.collect(), key=lambda row: row.id), frame.schema)
    assert_df_equality(actual, expected_frame(spark, digits))


# --- IDX -------------------------------------------------------------------


def idx_bytes(values: npt.ArrayLike, gz: bool) -> bytes:
    payload = encode_idx(np.asarray(values, dtype=np.uint8))
    return gzip.compress(payload, mtime=0) if gz else payload


def write_idx(
    folder: Path, digits: Digits, prefix: str = "train", gz: bool = True, labels: bool = True
) -> Path:
    """Write ``<prefix>-images-idx3-ubyte[.gz]`` (and its labels file); return the images path."""
    suffix = ".gz" if gz else ""
    images = digits.images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    images_path = folder / f"{prefix}-images-idx3-ubyte{suffix}"
    images_path.write_bytes(idx_bytes(images, gz))
    if labels:
        (folder / f"{prefix}-labels-idx1-ubyte{suffix}").write_bytes(idx_bytes(digits.labels, gz))
    return images_path


# --- JSON lines ------------------------------------------------------------


def json_line(label: int | None, pixels: bytes, rng: np.random.Generator) -> str:
    """One JSON line with its keys in a random order (label omitted when None)."""
    record: dict[str, object] = {"data": base64.b64encode(pixels).decode("ascii")}
    if label is not None:
        record["label"] = label
    keys = list(record)
    rng.shuffle(keys)
    return json.dumps({key: record[key] for key in keys})


def write_text(path: Path, lines: list[str], final_newline: str = "\n") -> Path:
    text = "\n".join(lines) + final_newline
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def jsonl_lines(digits: Digits, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return [json_line(digits.label(i), digits.images[i].tobytes(), rng) for i in range(len(digits))]


# --- CSV -------------------------------------------------------------------

CSV_HEADER = ",".join(["label", *(f"pixel{i}" for i in range(N_PIXELS))])


def csv_lines(digits: Digits, separator: str = ",") -> list[str]:
    """One CSV line per digit: label (empty when unlabelled), then 784 pixels."""
    lines = []
    for i in range(len(digits)):
        label = digits.label(i)
        fields = ["" if label is None else str(label), *map(str, digits.images[i].tolist())]
        lines.append(separator.join(fields))
    return lines


# --- Parquet ---------------------------------------------------------------


def write_parquet(
    spark: SparkSession,
    folder: Path,
    digits: Digits,
    pixels_as_array: bool = False,
    label_type: DataType | None = None,
    part_sizes: tuple[int, ...] | None = None,
) -> Path:
    """Write ``digits`` as Parquet part files, in order, ``part_sizes`` rows per file.

    Parameters
    ----------
    label_type : DataType or None
        Type of the ``label`` column (long by default; None values stay null).
    part_sizes : tuple of int, optional
        Rows of each part file, in digit order; one file by default. Unequal sizes
        make Spark read the parts in an order different from their names.
    """
    label_field = StructField("label", label_type or LongType(), nullable=True)
    pixel_type: DataType = ArrayType(LongType()) if pixels_as_array else BinaryType()
    schema = StructType([label_field, StructField("pixels", pixel_type, nullable=True)])
    records = []
    for i in range(len(digits)):
        pixels = digits.images[i].tolist() if pixels_as_array else digits.images[i].tobytes()
        records.append((digits.label(i), pixels))
    sizes = part_sizes or (len(records),)
    starts = np.cumsum([0, *sizes])
    sc = spark.sparkContext
    parts = [sc.parallelize(records[a:b], 1) for a, b in itertools.pairwise(starts)]
    spark.createDataFrame(sc.union(parts), schema).write.parquet(str(folder))
    return folder


def part_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))
