"""Driver-side questions about paths, answered by Hadoop's FileSystem API.

Going through Hadoop rather than :mod:`os` is what lets one path string mean the
same thing to these checks and to the Spark readers that later open it:
``hdfs://``, ``s3a://`` and ``file://`` URIs work, and a plain path is resolved
against the default file system exactly as ``sc.textFile`` would resolve it
(the local disk under ``local[*]``). These helpers only touch metadata (existence,
type, size, listing); digits themselves are always read by Spark tasks.

Every failure becomes an :class:`~kmeans_spark.errors.InputError` naming the path,
so a typo or a missing connector reads as bad input, not as a Java stack trace.
They need a classic (JVM-backed) Spark session, not Spark Connect.
"""

from __future__ import annotations

from typing import Any

from py4j.protocol import Py4JError
from pyspark.sql import SparkSession

from kmeans_spark.errors import InputError


def java_reason(exc: Py4JError) -> str:
    """The first line of a Java exception's message, for a one-line error."""
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _hadoop(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """The Hadoop ``(FileSystem, Path)`` pair for ``path``.

    Raises
    ------
    InputError
        When Hadoop cannot make a path of the string or has no file system for
        its scheme (``foo://...``, or ``s3a://`` without the connector jars).
    """
    if not path:
        raise InputError("empty path: name a file or a directory")
    try:
        hadoop_path = spark._jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
        fs = hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration())
    except Py4JError as exc:
        raise InputError(f"{path}: cannot access ({java_reason(exc)})") from None
    return fs, hadoop_path


def _status(spark: SparkSession, path: str) -> Any:
    """The Hadoop ``FileStatus`` of ``path``; InputError when it does not exist."""
    fs, hadoop_path = _hadoop(spark, path)
    try:
        if not fs.exists(hadoop_path):
            raise InputError(f"{path}: no such file or directory")
        return fs.getFileStatus(hadoop_path)
    except Py4JError as exc:
        raise InputError(f"{path}: cannot access ({java_reason(exc)})") from None


def exists(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` names an existing file or directory."""
    fs, hadoop_path = _hadoop(spark, path)
    try:
        return bool(fs.exists(hadoop_path))
    except Py4JError as exc:
        raise InputError(f"{path}: cannot access ({java_reason(exc)})") from None


def is_dir(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` is an existing directory (InputError when it does not exist)."""
    return bool(_status(spark, path).isDirectory())


def file_size(spark: SparkSession, path: str) -> int:
    """Size of the file ``path`` in bytes, as stored (compressed size for ``.gz``)."""
    return int(_status(spark, path).getLen())


def list_dir(spark: SparkSession, path: str) -> list[str]:
    """Names (not paths) of the entries of directory ``path``, sorted.

    Sorted so that everything derived from a listing (the order of Parquet parts,
    hence digit ids) does not depend on the order the file system answers in.
    """
    fs, hadoop_path = _hadoop(spark, path)
    try:
        statuses = fs.listStatus(hadoop_path)
    except Py4JError as exc:
        raise InputError(f"{path}: cannot list directory ({java_reason(exc)})") from None
    return sorted(str(status.getPath().getName()) for status in statuses)


def require_readable(spark: SparkSession, path: str) -> None:
    """Raise InputError unless ``path`` exists and the current user may read it.

    The check is Hadoop's ``FileSystem.access``: permission bits on the local
    disk, ACLs or the store's own rules elsewhere.
    """
    fs, hadoop_path = _hadoop(spark, path)
    _status(spark, path)
    read = spark._jvm.org.apache.hadoop.fs.permission.FsAction.READ  # type: ignore[union-attr]
    try:
        fs.access(hadoop_path, read)
    except Py4JError as exc:
        raise InputError(f"{path}: not readable ({java_reason(exc)})") from None


def join(directory: str, name: str) -> str:
    """The path of entry ``name`` inside ``directory``; works for URIs and plain paths."""
    return f"{directory.rstrip('/')}/{name}" if directory else name


def split(path: str) -> tuple[str, str]:
    """``(directory, name)`` of ``path``; the directory is ``""`` for a bare file name."""
    directory, _, name = path.rstrip("/").rpartition("/")
    if not directory and path.startswith("/"):
        directory = "/"
    return directory, name
