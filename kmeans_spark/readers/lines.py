"""Numbered lines of a text file, read by Spark, with one policy for blank lines.

Shared by the JSON-lines and CSV readers. The file is read with
``sc.textFile`` (plain or ``.gz``, any Hadoop file system) and numbered with
``zipWithIndex``, so a line's number does not depend on partitioning.

Blank-line policy (a line that is empty or only whitespace):

* the **last line of the file** may be blank and is skipped; editors and
  ``echo >>`` easily leave one extra newline, and it carries no digit;
* a blank line **anywhere else** is an InputError. Skipping it would shift every
  later id away from its line, and a gap in the middle of a data file usually
  means it was cut or concatenated wrongly. Under the ``"skip"`` bad-record
  policy it is a bad record like any other (``keep_misplaced_blanks``: the
  line is passed on, and the parser rejects it with :data:`BLANK_LINE_REASON`);
  ids, being line indices, do not shift.

A final newline (``...}\\n``) is not a blank line at all: Hadoop's line reader
does not report an empty line after it.

gzip (a name ending ``.gz``): decompressed by the task, in Python, from
``sc.binaryFiles``, rather than by Hadoop's codec under ``sc.textFile``. A
``.gz`` file is one partition either way, but a truncated or corrupt stream then
raises InputError naming the file, where Hadoop's ``EOFException`` kills the
Python worker and reaches the job as a crash. Lines are split the same way
(``\\n``, ``\\r\\n``, ``\\r``) and decoded as UTF-8 with replacement characters.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from functools import partial

from pyspark import RDD
from pyspark.sql import SparkSession

from kmeans_spark.readers.records import file_error, record_error

NumberedLine = tuple[int, str]
"""``(0-based line index, line text)``."""

BLANK_LINE_REASON = "blank line (only the last line of the file may be blank)"


def is_blank(line: str) -> bool:
    """Whether ``line`` is empty or only whitespace (``str.strip`` would leave nothing)."""
    return not line or line.isspace()


def numbered_lines(
    spark: SparkSession, path: str, keep_misplaced_blanks: bool = False
) -> RDD[NumberedLine]:
    """The non-blank lines of the text file ``path`` with their 0-based index.

    Lazy, but ``zipWithIndex`` runs one job to count the lines of every
    partition but the last (none for a ``.gz`` file, which is one partition).

    Parameters
    ----------
    spark : SparkSession
    path : str
        A single text file, plain or gzip-compressed.
    keep_misplaced_blanks : bool, default False
        Pass a blank line that is not the last line on, for the parser to reject
        (the ``"skip"`` policy), rather than raise InputError.

    Returns
    -------
    RDD of (int, str)
        ``(index, line)`` for every line but a blank last one, in file order.
        Evaluating it raises InputError at the first misplaced blank line,
        unless ``keep_misplaced_blanks``.
    """
    if is_gzip_name(path):
        # One partition, so it is also the last: no counting job is needed.
        drop_final_blank = partial(
            _without_final_blank,
            last_partition=0,
            source=path,
            keep_misplaced=keep_misplaced_blanks,
        )
        return _gzip_lines(spark, path).mapPartitionsWithIndex(
            drop_final_blank, preservesPartitioning=True
        )
    lines = spark.sparkContext.textFile(path)
    last_partition = lines.getNumPartitions() - 1
    drop_blanks = partial(
        _without_final_blank,
        last_partition=last_partition,
        source=path,
        keep_misplaced=keep_misplaced_blanks,
    )
    return lines.zipWithIndex().mapPartitionsWithIndex(drop_blanks, preservesPartitioning=True)


def first_line(spark: SparkSession, path: str) -> str | None:
    """The first line of the text file ``path`` (None when it has none), read by one task."""
    if is_gzip_name(path):
        first = _gzip_lines(spark, path).take(1)
        return first[0][0] if first else None
    lines = spark.sparkContext.textFile(path).take(1)
    return lines[0] if lines else None


def is_gzip_name(path: str) -> bool:
    """Whether ``path`` is read as gzip: its name ends ``.gz``, as for Hadoop's codec."""
    return path.lower().endswith(".gz")


def _gzip_lines(spark: SparkSession, path: str) -> RDD[tuple[str, int]]:
    """``(line, 0-based index)`` of a gzip text file, one partition, as ``zipWithIndex`` gives."""
    files = spark.sparkContext.binaryFiles(path).coalesce(1)
    return files.flatMap(partial(_gunzipped_lines, source=path))


def gunzipped_lines(content: bytes, source: str) -> Iterator[tuple[str, int]]:
    """Lines of gzip-compressed text with their 0-based index, decompressed lazily.

    Raises
    ------
    InputError
        ``"<source>: corrupt or truncated gzip data (...)"``, when the stream is
        not gzip, is cut short, or fails its CRC. A cut stream raises before its
        partial last line is yielded (the line's end is never seen). Corrupt data
        is only caught by the CRC at the end of the stream, so garbled lines may
        be yielded first, and the record parser usually rejects one of them.
    """
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as raw:
            # newline=None: universal newlines, the separators Hadoop's reader knows.
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline=None)
            for index, line in enumerate(text):
                yield line.removesuffix("\n"), index
    except (OSError, EOFError, zlib.error) as exc:
        raise file_error(source, f"corrupt or truncated gzip data ({exc})") from None


def _gunzipped_lines(item: tuple[str, bytes], source: str) -> Iterator[tuple[str, int]]:
    return gunzipped_lines(item[1], source)


def _without_final_blank(
    partition: int,
    pairs: Iterable[tuple[str, int]],
    last_partition: int,
    source: str,
    keep_misplaced: bool = False,
) -> Iterator[NumberedLine]:
    """Yield ``(index, line)`` for the lines of one partition, enforcing the blank policy.

    A blank line is held back until we know whether anything follows it: another
    line in this partition, or (as far as one task can tell) any later partition.
    Only the last partition can hold the last line of the file. A misplaced one
    raises InputError, or with ``keep_misplaced`` is yielded like any line.
    """
    blank: NumberedLine | None = None
    for line, index in pairs:
        if blank is not None:
            if not keep_misplaced:
                raise _misplaced_blank(source, blank[0])
            yield blank
            blank = None
        if is_blank(line):
            blank = index, line
        else:
            yield index, line
    if blank is not None and partition != last_partition:
        if not keep_misplaced:
            raise _misplaced_blank(source, blank[0])
        yield blank


def _misplaced_blank(source: str, index: int) -> Exception:
    return record_error(source, "line", index + 1, BLANK_LINE_REASON)
