"""JSON lines: one object per line, ``{"label": 5, "data": "<base64 of 784 bytes>"}``.

Keys may come in any order; keys other than ``label`` and ``data`` are ignored
so that files carrying extra metadata still read. ``label`` may be absent or
``null`` (an unlabelled digit). The file may be plain or gzip-compressed; blank
lines follow :mod:`kmeans_spark.readers.lines` (only a blank last line is allowed).
A digit's id is its 0-based line index. Under the ``"skip"`` policy a bad line
(a misplaced blank one included) becomes a :class:`~.records.Reject` holding
the line's text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from functools import partial

from pyspark import RDD
from pyspark.sql import SparkSession

from kmeans_spark.readers.lines import BLANK_LINE_REASON, NumberedLine, is_blank, numbered_lines
from kmeans_spark.readers.records import (
    BadRecord,
    Reject,
    Row,
    check_label,
    check_pixel_count,
    record_error,
)

_JSON_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def read_jsonl_rows(spark: SparkSession, path: str, skip_bad: bool = False) -> RDD[Row | Reject]:
    """Digits of a JSON-lines file, parsed lazily by Spark tasks.

    Parameters
    ----------
    spark : SparkSession
    path : str
        One JSON-lines file, plain or ``.gz``.
    skip_bad : bool, default False
        Yield a Reject for a bad line instead of raising (the ``"skip"`` policy).

    Returns
    -------
    RDD of (int, int or None, bytes), and Reject when ``skip_bad``
        ``(line index, label, 784 pixel bytes)``; evaluating it raises InputError
        at the first malformed line, unless ``skip_bad``.
    """
    parse = partial(digits_of_lines, source=path, skip_bad=skip_bad)
    lines = numbered_lines(spark, path, keep_misplaced_blanks=skip_bad)
    return lines.mapPartitions(parse, preservesPartitioning=True)


def digits_of_lines(
    lines: Iterable[NumberedLine], source: str, skip_bad: bool = False
) -> Iterator[Row | Reject]:
    """Parse one partition of numbered lines into rows (what each Spark task runs).

    With ``skip_bad``, a malformed line (a blank one included) is yielded as a
    :class:`~.records.Reject` instead.

    Raises
    ------
    InputError
        ``"<source>: line <n>: <reason>"`` for the first malformed line, unless ``skip_bad``.
    """
    for index, line in lines:
        try:
            if is_blank(line):
                raise BadRecord(BLANK_LINE_REASON)
            label, pixels = digit_from_json(line)
        except BadRecord as exc:
            if not skip_bad:
                raise record_error(source, "line", index + 1, exc.reason) from None
            yield Reject(source, "line", index + 1, exc.reason, line)
            continue
        yield index, label, pixels


def digit_from_json(line: str) -> tuple[int | None, bytes]:
    """Parse one JSON line into ``(label, 784 pixel bytes)``.

    Raises
    ------
    BadRecord
        Not JSON, not an object, no ``data``, ``data`` not strict base64 of
        784 bytes, or an invalid label (see :func:`~.records.check_label`).
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise BadRecord(f"expected a JSON object, found {_json_type(record)}")
    if "data" not in record:
        raise BadRecord("missing key 'data'")
    label = check_label(record.get("label"))
    return label, _pixels_from_base64(record["data"])


def _pixels_from_base64(data: object) -> bytes:
    if not isinstance(data, str):
        raise BadRecord(f"'data' is {_json_type(data)}, expected a base64 string")
    try:
        # validate=True: without it, stray characters are silently dropped and a
        # damaged line could still decode to 784 (wrong) bytes.
        pixels = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRecord(f"'data' is not valid base64 ({exc})") from None
    check_pixel_count(len(pixels), "base64 'data' decodes to", "bytes")
    return pixels


def _json_type(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
