"""Numbered lines of a text file, read by Spark, with one policy for blank lines.

Shared by the JSON-lines and CSV readers. The file is read with
``sc.textFile`` (plain or ``.gz``, any Hadoop file system) and numbered with
``zipWithIndex``, so a line's number does not depend on partitioning.

Blank-line policy (a line that is empty or only whitespace):

* the **last line of the file** may be blank and is skipped; editors and
  ``echo >>`` easily leave one extra newline, and it carries no digit;
* a blank line **anywhere else** is an InputError. Skipping it would shift every
  later id away from its line, and a gap in the middle of a data file usually
  means it was cut or concatenated wrongly.

A final newline (``...}\\n``) is not a blank line at all: Hadoop's line reader
does not report an empty line after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial

from pyspark import RDD
from pyspark.sql import SparkSession

from kmeans_spark.readers.records import record_error

NumberedLine = tuple[int, str]
"""``(0-based line index, line text)``."""


def numbered_lines(spark: SparkSession, path: str) -> RDD[NumberedLine]:
    """The non-blank lines of the text file ``path`` with their 0-based index.

    Lazy, but ``zipWithIndex`` runs one job to count the lines of every
    partition but the last (none for a ``.gz`` file, which is one partition).

    Parameters
    ----------
    spark : SparkSession
    path : str
        A single text file, plain or gzip-compressed.

    Returns
    -------
    RDD of (int, str)
        ``(index, line)`` for every line but a blank last one, in file order.
        Evaluating it raises InputError at the first misplaced blank line.
    """
    lines = spark.sparkContext.textFile(path)
    last_partition = lines.getNumPartitions() - 1
    drop_blanks = partial(_without_final_blank, last_partition=last_partition, source=path)
    return lines.zipWithIndex().mapPartitionsWithIndex(drop_blanks, preservesPartitioning=True)


def _without_final_blank(
    partition: int,
    pairs: Iterable[tuple[str, int]],
    last_partition: int,
    source: str,
) -> Iterator[NumberedLine]:
    """Yield ``(index, line)`` for the lines of one partition, enforcing the blank policy.

    A blank line is held back until we know whether anything follows it: another
    line in this partition, or (as far as one task can tell) any later partition.
    Only the last partition can hold the last line of the file.
    """
    blank_index: int | None = None
    for line, index in pairs:
        if blank_index is not None:
            raise _misplaced_blank(source, blank_index)
        if line.strip():
            yield index, line
        else:
            blank_index = index
    if blank_index is not None and partition != last_partition:
        raise _misplaced_blank(source, blank_index)


def _misplaced_blank(source: str, index: int) -> Exception:
    return record_error(
        source, "line", index + 1, "blank line (only the last line of the file may be blank)"
    )
