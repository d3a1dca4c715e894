"""CSV: one digit per line, the label then 784 pixel columns.

``label,p0,...,p783``. An empty label field means an unlabelled digit. The file
may be plain or ``.gz``; fields are separated by commas, without quoting.

Header: optional, recognised by its first line: when the first field is neither
empty nor a number (``label``, ``"y"``), the line is a header and is skipped.
A first field that is a number of the wrong kind (``7.0``, ``nan``) is *not*
taken for a header, so the line is rejected instead of silently dropped.
A header must still have 785 columns.

Ids count data lines from 0 (the header is not a digit); messages name the line
as it is numbered in the file, from 1, header included. Blank lines follow
:mod:`kmeans_spark.readers.lines`. Under the ``"skip"`` policy a bad line (a
misplaced blank one included) becomes a :class:`~.records.Reject` holding the
line's text; a header of the wrong width still fails the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial

import numpy as np
import numpy.typing as npt
from pyspark import RDD
from pyspark.sql import SparkSession

from kmeans_spark.readers.lines import (
    BLANK_LINE_REASON,
    NumberedLine,
    first_line,
    is_blank,
    numbered_lines,
)
from kmeans_spark.readers.records import (
    BadRecord,
    Reject,
    Row,
    file_error,
    first_pixel_out_of_range,
    label_from_text,
    no_digits_error,
    pixel_out_of_range,
    record_error,
)
from kmeans_spark.schema import MAX_PIXEL, N_PIXELS

N_FIELDS = 1 + N_PIXELS
FIRST_PIXEL_COLUMN = 2
"""1-based column of pixel 0: the label is column 1."""


def read_csv_rows(spark: SparkSession, path: str, skip_bad: bool = False) -> RDD[Row | Reject]:
    """Digits of a CSV file, parsed lazily by Spark tasks.

    Looking for a header needs the first line, so this runs one small Spark job
    (``take(1)``) at once; it also finds an empty file before anything else runs.

    Parameters
    ----------
    spark : SparkSession
    path : str
        One CSV file, plain or ``.gz``.
    skip_bad : bool, default False
        Yield a Reject for a bad line instead of raising (the ``"skip"`` policy).

    Returns
    -------
    RDD of (int, int or None, bytes), and Reject when ``skip_bad``
        ``(data line index, label, 784 pixel bytes)``; evaluating it raises
        InputError at the first malformed line, unless ``skip_bad``.

    Raises
    ------
    InputError
        The file has no line at all, or its header has the wrong number of columns.
    """
    first = first_line(spark, path)
    if first is None:
        raise no_digits_error(path)
    header_lines = 1 if is_header(first) else 0
    if header_lines:
        n_columns = first.count(",") + 1
        if n_columns != N_FIELDS:
            raise file_error(
                path, f"header has {n_columns} columns, expected {N_FIELDS} (label and pixels)"
            )
    parse = partial(digits_of_lines, source=path, header_lines=header_lines, skip_bad=skip_bad)
    lines = numbered_lines(spark, path, keep_misplaced_blanks=skip_bad)
    return lines.mapPartitions(parse, preservesPartitioning=True)


def is_header(first_line: str) -> bool:
    """Whether the first line of a CSV file is a header rather than a digit."""
    first_field = first_line.split(",", 1)[0].strip()
    if not first_field:
        return False  # an empty label: an unlabelled digit
    try:
        float(first_field)
    except ValueError:
        return True
    return False


def digits_of_lines(
    lines: Iterable[NumberedLine], source: str, header_lines: int, skip_bad: bool = False
) -> Iterator[Row | Reject]:
    """Parse one partition of numbered lines into rows (what each Spark task runs).

    ``header_lines`` (0 or 1) lines at the top of the file are skipped and not
    counted in ids. With ``skip_bad``, a malformed line (a blank one included)
    is yielded as a :class:`~.records.Reject` instead.

    Raises
    ------
    InputError
        ``"<source>: line <n>: <reason>"`` for the first malformed line, unless ``skip_bad``.
    """
    for index, line in lines:
        if index < header_lines:
            continue
        try:
            if is_blank(line):
                raise BadRecord(BLANK_LINE_REASON)
            label, pixels = digit_from_csv(line)
        except BadRecord as exc:
            if not skip_bad:
                raise record_error(source, "line", index + 1, exc.reason) from None
            yield Reject(source, "line", index + 1, exc.reason, line)
            continue
        yield index - header_lines, label, pixels


def digit_from_csv(line: str) -> tuple[int | None, bytes]:
    """Parse one CSV line into ``(label, 784 pixel bytes)``.

    Raises
    ------
    BadRecord
        Wrong number of fields, a label that is not an integer 0..9 or empty,
        or a pixel that is not an integer 0..255.
    """
    stripped = line.strip()
    n_fields = stripped.count(",") + 1
    if n_fields != N_FIELDS:
        raise BadRecord(
            f"expected {N_FIELDS} fields (label and {N_PIXELS} pixels), found {n_fields}"
        )
    label_text, _, pixel_text = stripped.partition(",")
    label = label_from_text(label_text)
    values = _pixel_values(pixel_text)
    bad = first_pixel_out_of_range(values)
    if bad is not None:
        # Show the field as written: numpy saturates huge values at the int64 limit.
        shown = pixel_text.split(",")[bad].strip()
        raise pixel_out_of_range(shown, f"column {FIRST_PIXEL_COLUMN + bad}")
    return label, values.astype(np.uint8).tobytes()


def _pixel_values(pixel_text: str) -> npt.NDArray[np.int64]:
    """The 784 comma-separated integers of ``pixel_text`` (whose field count is right).

    Returns
    -------
    ndarray of int64, shape (784,)
        Within the int64 limits: a field beyond them raises BadRecord (out of range).
    """
    if _is_plain_digits(pixel_text):
        # The common, well-formed case parsed in C, about 6x faster than int() per
        # field. Safe only because the text is already known to be bare decimal
        # fields: on anything else np.fromstring stops early with just a warning.
        return np.fromstring(pixel_text, dtype=np.int64, sep=",")
    fields = pixel_text.split(",")
    try:
        # Whitespace around fields, signs: the label's rule (str.strip, then int()),
        # field by field. numpy's own string parsing is close but not equal (it
        # refuses "\x1c7", which str.strip clears), and then the error path found
        # no bad field to name. Values beyond int64 overflow here and are reported
        # as out of range by _first_bad_pixel.
        return np.array([int(field.strip()) for field in fields], dtype=np.int64)
    except (ValueError, OverflowError):
        raise _first_bad_pixel(fields) from None


def _is_plain_digits(pixel_text: str) -> bool:
    """True when the text is only ASCII digits and commas with no empty field."""
    return (
        pixel_text.isascii()
        and pixel_text.replace(",", "").isdigit()
        and ",," not in pixel_text
        and not pixel_text.startswith(",")
        and not pixel_text.endswith(",")
    )


def _first_bad_pixel(fields: list[str]) -> BadRecord:
    """Describe the first field numpy could not convert (error path only)."""
    for offset, field in enumerate(fields):
        column = f"column {FIRST_PIXEL_COLUMN + offset}"
        text = field.strip()
        if not text:
            return BadRecord(f"pixel {column} is empty")
        try:
            value = int(text)
        except ValueError:
            return BadRecord(f"pixel {text!r} is not an integer ({column})")
        if not 0 <= value <= MAX_PIXEL:
            return pixel_out_of_range(value, column)
    return BadRecord("pixels are not all integers")
