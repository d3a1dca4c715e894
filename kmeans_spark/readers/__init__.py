"""Read MNIST-style digits from IDX, JSON lines, CSV or Parquet into one schema.

Every reader yields rows ``(id, label, pixels)`` in the order of
:data:`~kmeans_spark.schema.DIGITS_SCHEMA`: ``id`` the 0-based position of the
digit in its input, ``label`` 0..9 or None, ``pixels`` 784 bytes.

Data is always read by Spark tasks (``sc.binaryFiles``, ``sc.textFile``,
``spark.read.parquet``), so any Hadoop file system works. What is cheap to know
on the driver is checked at once and raises :class:`~kmeans_spark.errors.InputError`:
the path exists and is readable, the format is known, an MNIST directory is
complete, a file is not empty. Everything about individual records is checked
in the tasks, when the rows are evaluated; wrap the action in
:func:`~kmeans_spark.errors.raise_input_errors` to get the same InputError on the
driver. :func:`read_digits` does that for you by default.

Bad records (``bad_records`` of :func:`read_dataset`, see :mod:`.records`):
``"fail"`` raises at the first one, as above; ``"skip"`` leaves them out of the
rows, every good digit keeping its id, and gives them as a second RDD of
:class:`~.records.Reject` (same message, in parts). Both RDDs are views of one
parse, so each action on either reads the input again. Faults of a whole file
fail under either policy.

Formats and their rules are documented in the module of each:
:mod:`.idx`, :mod:`.jsonlines`, :mod:`.csv`, :mod:`.parquet`; record checks and
the message format in :mod:`.records`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import RDD
from pyspark.sql import DataFrame, SparkSession

from kmeans_spark.errors import InputError, raise_input_errors
from kmeans_spark.readers import paths
from kmeans_spark.readers.csv import read_csv_rows
from kmeans_spark.readers.idx import is_labels_name, labels_beside, read_idx_rows
from kmeans_spark.readers.jsonlines import read_jsonl_rows
from kmeans_spark.readers.parquet import read_parquet_rows
from kmeans_spark.readers.records import (
    BAD_RECORD_POLICIES,
    FAIL,
    SKIP,
    Reject,
    Row,
    file_error,
    is_skip_policy,
    no_digits_error,
)
from kmeans_spark.schema import DIGITS_SCHEMA

__all__ = [
    "BAD_RECORD_POLICIES",
    "FAIL",
    "FORMATS",
    "MNIST_DIR",
    "SKIP",
    "Dataset",
    "Reject",
    "Row",
    "detect_format",
    "read_dataset",
    "read_digits",
    "read_rows",
]

FORMATS = ("idx", "jsonl", "csv", "parquet")
MNIST_DIR = "mnist-dir"
"""What :func:`detect_format` says for a directory holding the canonical MNIST files."""

_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".idx": "idx",
}
_MNIST_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    """The digits a job works on: training digits and, when there is one, a test set.

    Attributes
    ----------
    train : RDD of (int, int or None, bytes)
        The training digits (the job later splits train/validation by id).
    test : RDD of (int, int or None, bytes) or None
        The official test set of an MNIST directory, or the ``test_path`` input.
    train_source, test_source : str, str or None
        Human-readable description of where each came from, for logs and reports.
    train_rejects, test_rejects : RDD of Reject or None
        Under the ``"skip"`` policy, the bad records of each input (None under
        ``"fail"``, and for no test set).
    bad_records : {"fail", "skip"}
        The policy the inputs were read with.
    """

    train: RDD[Row]
    test: RDD[Row] | None
    train_source: str
    test_source: str | None
    train_rejects: RDD[Reject] | None = None
    test_rejects: RDD[Reject] | None = None
    bad_records: str = FAIL


@dataclass(frozen=True)
class _Input:
    """One input read: its good rows, its rejects (skip policy only) and its description."""

    rows: RDD[Row]
    rejects: RDD[Reject] | None
    source: str


def _is_reject(item: Row | Reject) -> bool:
    return isinstance(item, Reject)


def _is_row(item: Row | Reject) -> bool:
    return not isinstance(item, Reject)


def _input(tagged: RDD[Row | Reject], source: str, skip_bad: bool) -> _Input:
    """Split a reader's output into rows and rejects (only the skip policy yields rejects)."""
    if not skip_bad:
        return _Input(tagged, None, source)  # type: ignore[arg-type]  # rows only
    rows: RDD[Row] = tagged.filter(_is_row)  # type: ignore[assignment]
    rejects: RDD[Reject] = tagged.filter(_is_reject)  # type: ignore[assignment]
    return _Input(rows, rejects, source)


def detect_format(spark: SparkSession, path: str) -> str:
    """Tell the format of ``path`` from its name, or from a directory's contents.

    Parameters
    ----------
    spark : SparkSession
    path : str
        A file, or a directory (MNIST files, or Parquet part files).

    Returns
    -------
    str
        ``"idx"``, ``"jsonl"``, ``"csv"``, ``"parquet"`` or ``"mnist-dir"``.
        A file's name decides, after dropping ``.gz``: ``.jsonl``/``.json``/``.ndjson``,
        ``.csv``, ``.parquet``/``.pq``, and ``.idx`` or an ``idx1``/``idx3`` name
        (``train-images-idx3-ubyte``). A directory is ``mnist-dir`` when it holds
        any of the canonical MNIST file names (read_dataset then names any that
        are missing), ``parquet`` when it holds ``.parquet`` files.

    Raises
    ------
    InputError
        The path does not exist, or its format cannot be told; pass ``fmt``.
    """
    if paths.is_dir(spark, path):
        return _directory_format(spark, path)
    name = paths.split(path)[1].lower()
    name = name.removesuffix(".gz")
    for extension, fmt in _EXTENSIONS.items():
        if name.endswith(extension):
            return fmt
    if "idx1" in name or "idx3" in name:
        return "idx"
    raise file_error(
        path, f"cannot tell the format from the file name; pass fmt= one of {', '.join(FORMATS)}"
    )


def _directory_format(spark: SparkSession, path: str) -> str:
    names = paths.list_dir(spark, path)
    canonical = {stem + suffix for stem in _MNIST_STEMS.values() for suffix in ("", ".gz")}
    if canonical.intersection(names):
        return MNIST_DIR
    if any(name.endswith(".parquet") for name in names):
        return "parquet"
    raise file_error(path, "directory holds neither the four MNIST files nor Parquet files")


def _mnist_files(spark: SparkSession, directory: str) -> dict[str, str]:
    """Paths of the four canonical MNIST files in ``directory``, raw preferred to ``.gz``.

    Raises
    ------
    InputError
        Naming every file that is missing (in neither variant).
    """
    names = set(paths.list_dir(spark, directory))
    found: dict[str, str] = {}
    missing: list[str] = []
    for role, stem in _MNIST_STEMS.items():
        present = [name for name in (stem, stem + ".gz") if name in names]
        if present:
            found[role] = paths.join(directory, present[0])
        else:
            missing.append(f"{stem}[.gz]")
    if missing:
        raise file_error(directory, f"incomplete MNIST directory: missing {', '.join(missing)}")
    return found


def read_rows(
    spark: SparkSession, path: str, fmt: str | None = None, labels_path: str | None = None
) -> RDD[Row]:
    """Digits of one input as a lazy RDD of ``(id, label, pixels)``.

    Parameters
    ----------
    spark : SparkSession
    path : str
        A file in any of :data:`FORMATS`, a Parquet directory, or an MNIST
        directory (its training set is read).
    fmt : str, optional
        One of :data:`FORMATS` or ``"mnist-dir"``; detected from ``path`` when None.
    labels_path : str, optional
        IDX only: the labels file, when it is not beside the images file under
        its canonical name.

    Returns
    -------
    RDD of (int, int or None, bytes)
        Malformed records raise InputError inside the Spark task that meets them;
        wrap actions in :func:`~kmeans_spark.errors.raise_input_errors`.

    Raises
    ------
    InputError
        At once, for what the driver can check cheaply: path missing or not
        readable, unknown format, ``labels_path`` given for a non-IDX input,
        incomplete MNIST directory, empty file, wrong Parquet columns.
    """
    return _read(spark, path, fmt, labels_path, skip_bad=False).rows


def _read(
    spark: SparkSession, path: str, fmt: str | None, labels_path: str | None, skip_bad: bool
) -> _Input:
    """:func:`read_rows` under either policy, also returning a description of the source."""
    paths.require_readable(spark, path)
    fmt = detect_format(spark, path) if fmt is None else fmt
    if fmt not in (*FORMATS, MNIST_DIR):
        raise InputError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if labels_path is not None and fmt != "idx":
        raise file_error(path, f"labels_path is only for IDX images, not {fmt} input")
    if fmt == MNIST_DIR:
        files = _mnist_files(spark, path)
        return _read_idx(spark, files["train_images"], files["train_labels"], skip_bad)
    if fmt == "parquet":
        return _input(read_parquet_rows(spark, path, skip_bad), path, skip_bad)
    _require_nonempty_file(spark, path, fmt)
    if fmt == "idx":
        return _read_idx(spark, path, labels_path or _labels_of(spark, path), skip_bad)
    if fmt == "jsonl":
        return _input(read_jsonl_rows(spark, path, skip_bad), path, skip_bad)
    return _input(read_csv_rows(spark, path, skip_bad), path, skip_bad)


def _require_nonempty_file(spark: SparkSession, path: str, fmt: str) -> None:
    if paths.is_dir(spark, path):
        raise file_error(path, f"is a directory; {fmt} input must be a single file")
    if paths.file_size(spark, path) == 0:
        raise no_digits_error(path)


def _labels_of(spark: SparkSession, images_path: str) -> str | None:
    """The labels file beside ``images_path``; InputError when given a labels file."""
    if is_labels_name(images_path):
        raise file_error(
            images_path,
            "is an IDX labels file; pass the images file (its labels are found beside it)",
        )
    return labels_beside(spark, images_path)


def _read_idx(
    spark: SparkSession, images_path: str, labels_path: str | None, skip_bad: bool
) -> _Input:
    if labels_path is None:
        rows = read_idx_rows(spark, images_path, None, skip_bad)
        return _input(rows, f"{images_path} (unlabelled)", skip_bad)
    paths.require_readable(spark, labels_path)
    _require_nonempty_file(spark, labels_path, "idx")
    source = f"{images_path} (labels: {labels_path})"
    return _input(read_idx_rows(spark, images_path, labels_path, skip_bad), source, skip_bad)


def read_digits(
    spark: SparkSession,
    path: str,
    fmt: str | None = None,
    labels_path: str | None = None,
    validate: bool = True,
) -> DataFrame:
    """Digits of one input as a DataFrame of :data:`~kmeans_spark.schema.DIGITS_SCHEMA`.

    Parameters
    ----------
    spark, path, fmt, labels_path
        As for :func:`read_rows`.
    validate : bool, default True
        Run one pass over all records now, so that any malformed record or an
        input without digits raises InputError here rather than in a later
        action. It costs one full read; cache the result if that matters.

    Returns
    -------
    DataFrame
        Columns ``id`` (long), ``label`` (int, nullable), ``pixels`` (binary, 784 bytes).
    """
    rows = read_rows(spark, path, fmt, labels_path)
    if validate:
        with raise_input_errors():
            n_digits = rows.count()
        if n_digits == 0:
            raise no_digits_error(path)
    return spark.createDataFrame(rows, DIGITS_SCHEMA)


def read_dataset(
    spark: SparkSession,
    path: str,
    fmt: str | None = None,
    labels_path: str | None = None,
    test_path: str | None = None,
    bad_records: str = FAIL,
) -> Dataset:
    """Training digits and, when there is one, a test set.

    Parameters
    ----------
    spark : SparkSession
    path : str
        An MNIST directory (train = the ``train-*`` files, test = the ``t10k-*``
        files), or a single input in any format (train).
    fmt, labels_path : str, optional
        As for :func:`read_rows`, for ``path`` only.
    test_path : str, optional
        A test input in any format (detected from its name); not allowed with an
        MNIST directory, which brings its own test set.
    bad_records : {"fail", "skip"}, default "fail"
        What a bad record does, in either input: raise InputError in the task
        that meets it, or become a Reject (``Dataset.train_rejects`` and
        ``test_rejects``) while the good rows keep their ids. File-level faults
        raise under both.

    Returns
    -------
    Dataset

    Raises
    ------
    InputError
        As for :func:`read_rows`, for either input.
    UsageError
        An unknown ``bad_records``.
    """
    skip_bad = is_skip_policy(bad_records)
    paths.require_readable(spark, path)
    fmt = detect_format(spark, path) if fmt is None else fmt
    if fmt == MNIST_DIR:
        if test_path is not None or labels_path is not None:
            raise file_error(
                path,
                "is an MNIST directory with its own labels and test set; "
                "do not also pass labels_path or test_path",
            )
        files = _mnist_files(spark, path)
        train = _read_idx(spark, files["train_images"], files["train_labels"], skip_bad)
        test: _Input | None = _read_idx(spark, files["test_images"], files["test_labels"], skip_bad)
    else:
        train = _read(spark, path, fmt, labels_path, skip_bad)
        test = None if test_path is None else _read(spark, test_path, None, None, skip_bad)
    return Dataset(
        train.rows,
        None if test is None else test.rows,
        train.source,
        None if test is None else test.source,
        train.rejects,
        None if test is None else test.rejects,
        bad_records,
    )
