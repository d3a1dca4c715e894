"""IDX (the MNIST distribution format): an images file and, beside it, its labels file.

Both files are read whole by *one* Spark task (``sc.binaryFiles``), because the
i-th label belongs to the i-th image and the header of each file is needed to
find either. gzip is recognised by its magic bytes, not by the file name.

The labels file of ``.../train-images-idx3-ubyte[.gz]`` is found beside it as
``train-labels-idx1-ubyte`` with the same compression suffix or the other one
(``images.idx3`` / ``labels.idx1``, as some mirrors name them, work too). No
labels file means unlabelled digits. A digit's id is its index in the file.

Under the ``"skip"`` policy a label byte outside 0..9 is the one fault of a
single record: that digit becomes a :class:`~.records.Reject` of the labels
file (``raw`` None), the others keep their indices. Everything else (header,
gzip, sizes, counts that differ) is about a whole file and fails either way.

The resulting RDD has a single partition: the decoding cannot be split, and
callers that want parallelism repartition (they usually build blocks anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import partial

import numpy as np
import numpy.typing as npt
from pyspark import RDD
from pyspark.sql import SparkSession

from kmeans_spark.idx_format import IMAGES_MAGIC, LABELS_MAGIC, decode_idx, maybe_gunzip
from kmeans_spark.readers import paths
from kmeans_spark.readers.records import (
    LABEL_RANGE,
    Reject,
    Row,
    file_error,
    first_label_out_of_range,
    record_error,
)
from kmeans_spark.schema import N_CLASSES, N_PIXELS

_IMAGES_PART = re.compile(r"images([-.])idx3")
_LABELS_PART = re.compile(r"labels[-.]idx1")
_GZ = ".gz"
_IMAGES = "images"
_LABELS = "labels"


def labels_beside(spark: SparkSession, images_path: str) -> str | None:
    """The existing labels file named after ``images_path``, or None.

    ``dir/t10k-images-idx3-ubyte.gz`` looks for ``dir/t10k-labels-idx1-ubyte.gz``,
    then ``dir/t10k-labels-idx1-ubyte``.
    """
    directory, name = paths.split(images_path)
    if not _IMAGES_PART.search(name):
        return None
    labels_name = _IMAGES_PART.sub(r"labels\g<1>idx1", name)
    other = labels_name[: -len(_GZ)] if labels_name.endswith(_GZ) else labels_name + _GZ
    for candidate in (labels_name, other):
        path = paths.join(directory, candidate)
        if paths.exists(spark, path):
            return path
    return None


def is_labels_name(path: str) -> bool:
    """Whether ``path`` is named like an MNIST labels file."""
    return bool(_LABELS_PART.search(paths.split(path)[1]))


def read_idx_rows(
    spark: SparkSession, images_path: str, labels_path: str | None, skip_bad: bool = False
) -> RDD[Row | Reject]:
    """Digits of an IDX images file and its (optional) labels file.

    Parameters
    ----------
    spark : SparkSession
    images_path : str
        An IDX images file, ``(n, 28, 28)`` unsigned bytes, plain or gzip.
    labels_path : str or None
        Its IDX labels file, ``(n,)`` unsigned bytes; None for unlabelled digits.
        The caller has checked both exist (see :func:`labels_beside`).
    skip_bad : bool, default False
        Yield a Reject for a digit whose label byte is outside 0..9 instead of
        raising (the ``"skip"`` policy).

    Returns
    -------
    RDD of (int, int or None, bytes), and Reject when ``skip_bad``
        One partition of ``(index, label, 784 pixel bytes)``. Evaluating it raises
        InputError for a bad header, corrupt gzip, counts that differ, or (unless
        ``skip_bad``) a label byte outside 0..9.
    """
    sc = spark.sparkContext
    # Tag each file with its role before the union, so the task never has to
    # match the URIs Hadoop hands back against the strings we were given.
    files = sc.binaryFiles(images_path).map(lambda item: (_IMAGES, item[1]))
    if labels_path is not None:
        labels = sc.binaryFiles(labels_path).map(lambda item: (_LABELS, item[1]))
        files = files.union(labels)
    decode = partial(
        _digits_of_files,
        images_source=images_path,
        labels_source=labels_path,
        skip_bad=skip_bad,
    )
    return files.coalesce(1).mapPartitions(decode)


def _digits_of_files(
    files: Iterable[tuple[str, bytes]],
    images_source: str,
    labels_source: str | None,
    skip_bad: bool = False,
) -> Iterator[Row | Reject]:
    """Decode the images (and labels) file held by this one partition into rows."""
    contents = dict(files)
    images = _decode(contents[_IMAGES], images_source, IMAGES_MAGIC).reshape(-1, N_PIXELS)
    labels: list[int | None]
    if labels_source is None:
        labels = [None] * len(images)
    else:
        label_array = _decode(contents[_LABELS], labels_source, LABELS_MAGIC)
        _check_label_count(label_array, len(images), images_source, labels_source)
        if not skip_bad:
            _check_label_values(label_array, labels_source)
        labels = label_array.tolist()
    for index, (label, pixels) in enumerate(zip(labels, images, strict=True)):
        if label is not None and not 0 <= label < N_CLASSES:
            yield Reject(labels_source or images_source, "record", index, _bad_label(label))
            continue
        yield index, label, pixels.tobytes()


def _bad_label(label: int) -> str:
    return f"label {label} outside {LABEL_RANGE}"


def _decode(data: bytes, source: str, magic: int) -> npt.NDArray[np.uint8]:
    return decode_idx(maybe_gunzip(data, source), source, magic)


def _check_label_count(
    labels: npt.NDArray[np.uint8], n_images: int, images_source: str, labels_source: str
) -> None:
    """Raise InputError unless there is one label per image (a fault of the whole pair).

    Parameters
    ----------
    labels : ndarray of uint8, shape (n_labels,)
    n_images : int
    """
    if len(labels) != n_images:
        _, labels_name = paths.split(labels_source)
        raise file_error(
            images_source,
            f"image and label counts differ ({n_images} images, {len(labels)} labels "
            f"in {labels_name})",
        )


def _check_label_values(labels: npt.NDArray[np.uint8], labels_source: str) -> None:
    """Raise InputError at the first label outside 0..9 (the fail policy)."""
    bad = first_label_out_of_range(labels)
    if bad is not None:
        raise record_error(labels_source, "record", bad, _bad_label(int(labels[bad])))
