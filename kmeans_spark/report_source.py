"""Re-reading a trained model's digits, to rebuild its report after the fact.

``model.json`` and ``sweep.json`` name the inputs as the readers describe them
(:attr:`~kmeans_spark.readers.Dataset.train_source`): a path, or for IDX
``IMAGES (labels: LABELS)`` / ``IMAGES (unlabelled)``. The digits are read
again, checked against the recorded fingerprint, and split as training split
them (same fraction, method and seed), so the report shows the very validation
digits the model was evaluated on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark import RDD
from pyspark.sql import SparkSession

from kmeans_spark.blocks import DigitBlocks, to_blocks
from kmeans_spark.errors import InputError
from kmeans_spark.readers import FAIL, Row, read_dataset, read_rows
from kmeans_spark.split import SPLIT_HEAD, split_train_validation

_IDX_LABELLED = re.compile(r"^(?P<images>.+) \(labels: (?P<labels>.+)\)$")
_IDX_UNLABELLED = re.compile(r"^(?P<images>.+) \(unlabelled\)$")


@dataclass
class ReportDigits:
    """The digits a rebuilt report draws on, cached.

    Attributes
    ----------
    train : DigitBlocks
        The training share.
    held_out : DigitBlocks or None
        The validation digits, or the test digits when training held none out;
        None when there are neither.
    held_out_name : str
        ``"validation"`` or ``"test"``.
    """

    train: DigitBlocks
    held_out: DigitBlocks | None
    held_out_name: str

    def unpersist(self) -> None:
        for blocks in (self.train, self.held_out):
            if blocks is not None:
                blocks.unpersist()


def source_paths(description: str) -> tuple[str, str | None, str | None]:
    """Path, IDX labels path and format of an input as a model records it.

    Returns
    -------
    (str, str or None, str or None)
        ``(path, labels_path, fmt)``: ``fmt`` is ``"idx"`` for IDX descriptions,
        else None (detected from the path, as training did).
    """
    labelled = _IDX_LABELLED.match(description)
    if labelled:
        return labelled["images"], labelled["labels"], "idx"
    unlabelled = _IDX_UNLABELLED.match(description)
    if unlabelled:
        return unlabelled["images"], None, "idx"
    return description, None, None


def _good_rows(
    spark: SparkSession, path: str, fmt: str | None, labels: str | None, bad_records: str
) -> RDD[Row]:
    """The digits of one input; under ``skip``, without its bad records."""
    if bad_records == FAIL:
        return read_rows(spark, path, fmt, labels)
    return read_dataset(spark, path, fmt, labels, bad_records=bad_records).train


def read_report_digits(
    spark: SparkSession,
    source: Mapping[str, Any],
    params: Mapping[str, Any],
    train_path: str | None = None,
    test_path: str | None = None,
    bad_records: str = FAIL,
) -> ReportDigits:
    """Read a model's (or a sweep's) input again and split it as training did.

    Parameters
    ----------
    spark : SparkSession
    source : mapping
        The ``input`` record of ``model.json`` or ``sweep.json``: ``train``,
        ``test``, ``fingerprint``.
    params : mapping
        The ``params`` record: ``validation_fraction``, ``split``, ``seed``,
        ``partitions``.
    train_path, test_path : str, optional
        Read these instead of the recorded inputs (moved data); their format is
        detected from the name.
    bad_records : {"fail", "skip"}
        The policy the model was trained with (``bad_records`` of
        ``metrics.json``): under ``skip`` the bad records are left out again, so
        the fingerprint matches.

    Returns
    -------
    ReportDigits
        Cached; the caller unpersists them.

    Raises
    ------
    InputError
        An input is missing or unreadable, or the training input's fingerprint
        is not the one recorded (the data changed since training).
    """
    recorded = source.get("train")
    if train_path is None and not recorded:
        raise InputError("the model records no training input: pass --input")
    path, labels, fmt = (
        (train_path, None, None) if train_path is not None else source_paths(str(recorded))
    )
    partitions = params.get("partitions")
    everything = to_blocks(_good_rows(spark, path, fmt, labels, bad_records), partitions)
    expected = source.get("fingerprint")
    if expected is not None and everything.fingerprint != expected:
        everything.unpersist()
        raise InputError(
            f"{path}: these digits are not the ones the model was trained on "
            f"(fingerprint {everything.fingerprint}, recorded {expected})"
        )
    train, validation = split_train_validation(
        everything,
        float(params.get("validation_fraction", 0.0)),
        str(params.get("split", SPLIT_HEAD)),
        int(params.get("seed", 0)),
    )
    if validation is not None:
        everything.unpersist()
        return ReportDigits(train, validation, "validation")
    test_source = test_path if test_path is not None else source.get("test")
    if not test_source:
        return ReportDigits(train, None, "validation")
    path, labels, fmt = (
        (test_path, None, None) if test_path is not None else source_paths(str(test_source))
    )
    test = to_blocks(_good_rows(spark, path, fmt, labels, bad_records), partitions)
    return ReportDigits(train, test, "test")
