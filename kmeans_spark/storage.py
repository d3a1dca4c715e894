"""Job outputs published whole on Hadoop file systems, and small files fetched from them.

Outputs and inputs are Hadoop paths, so that one string means the same place to
the driver and to Spark's readers and writers: ``hdfs://``, ``s3a://`` (with its
connector) and ``file://`` URIs, and plain paths, which resolve against the
default file system (the local disk under ``local[*]``, HDFS on most clusters).
A :class:`pathlib.Path` always names the local disk: it becomes a ``file://``
URI. The driver never ``open()``\\ s a cluster's storage: it writes its small
files (JSON, ``.npy``, figures, pages) to a local temporary folder and copies
them up with Hadoop's ``FileSystem.copyFromLocalFile``, and reads by copying
down with ``copyToLocalFile``; Spark's own writers write on the target file
system directly, from the executors.

:func:`publish_dir` makes an output folder appear whole or not at all:

1. everything is written to a hidden staging folder beside the target,
   ``<parent>/.<name>.tmp-<unique>`` (hidden, so that readers of ``<parent>``
   skip it, as Hadoop's input formats skip names starting with ``.``);
2. the local files are copied up into it, then an empty ``_SUCCESS`` marker is
   written last, as Hadoop's output committers do: a folder with ``_SUCCESS``
   is complete;
3. the staging folder is renamed to the target. With ``overwrite``, the old
   folder is first renamed aside and deleted once the new one is in place.

A rename is atomic on HDFS and on the local disk, so readers see the old folder
or the new one. On S3 (``s3a://``) it is a copy of every object followed by a
delete: a reader can see a partly copied folder, whose missing ``_SUCCESS``
says so. Should anything fail (or the job be interrupted), the staging folder
and the local temporary folder are deleted and the target is left as it was.

On the local disk the raw file system is used for the driver's files, so that no
Hadoop ``.crc`` checksum files appear beside them (Spark's own writers still
leave theirs). Folders and files get Hadoop's default permissions under
``fs.permissions.umask-mode`` (0755 and 0644 with the default umask 022).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from py4j.java_gateway import is_instance_of
from py4j.protocol import Py4JError
from pyspark.sql import SparkSession

from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.readers.paths import java_reason

logger = logging.getLogger(__name__)

SUCCESS_MARKER = "_SUCCESS"


def hadoop_path(path: str | os.PathLike[str]) -> str:
    """The Hadoop path of ``path``: a str as it is, a path-like as a ``file://`` URI.

    Raises
    ------
    UsageError
        For an empty string.
    """
    if isinstance(path, str):
        if not path:
            raise UsageError("empty path: name a file or a folder")
        return path
    # Not Path.as_uri(): it percent-encodes (a space becomes %20), and Hadoop takes
    # the path of a URI string literally.
    return f"file://{Path(path).absolute()}"


def active_session(spark: SparkSession | None) -> SparkSession:
    """``spark``, else the Spark session active in this thread.

    Raises
    ------
    RuntimeError
        When there is none: writing goes through Hadoop, which lives in Spark's JVM.
    """
    session = spark if spark is not None else SparkSession.getActiveSession()
    if session is None:
        raise RuntimeError("no active Spark session: Hadoop file systems need one")
    return session


def _jvm(spark: SparkSession) -> Any:
    return spark._jvm


def _gateway(spark: SparkSession) -> Any:
    return spark.sparkContext._gateway


def _hadoop_conf(spark: SparkSession) -> Any:
    return spark._jsc.hadoopConfiguration()


def _local_uri(path: Path) -> str:
    return f"file://{path.absolute()}"


def _resolve(
    spark: SparkSession, path: str, error: type[UsageError] | type[InputError]
) -> tuple[Any, Any]:
    """The Hadoop ``(FileSystem, qualified Path)`` of ``path``; ``error`` when Hadoop has none."""
    try:
        hadoop = _jvm(spark).org.apache.hadoop.fs.Path(path)
        fs = hadoop.getFileSystem(_hadoop_conf(spark))
        return fs, fs.makeQualified(hadoop)
    except Py4JError as exc:
        raise error(f"{path}: cannot access ({java_reason(exc)})") from None


def _for_writing(spark: SparkSession, fs: Any) -> Any:
    """``fs`` without its checksum layer (the local disk's), so that no ``.crc`` files appear."""
    if is_instance_of(_gateway(spark), fs, "org.apache.hadoop.fs.ChecksumFileSystem"):
        return fs.getRawFileSystem()
    return fs


def check_output_dir(spark: SparkSession, path: str | os.PathLike[str], overwrite: bool) -> str:
    """Fail early, before any work, when the output folder may not be (re)written.

    Returns
    -------
    str
        The fully qualified target (``file:/...``, ``hdfs://namenode:8020/...``).

    Raises
    ------
    UsageError
        The folder exists and ``overwrite`` is false, the path names a file or
        the root, or Hadoop has no file system for it.
    """
    location = hadoop_path(path)
    fs, target = _resolve(spark, location, UsageError)
    if target.getParent() is None:
        raise UsageError(f"output {location}: the root cannot be an output folder")
    try:
        exists = bool(fs.exists(target))
        is_dir = exists and bool(fs.getFileStatus(target).isDirectory())
    except Py4JError as exc:
        raise UsageError(f"output {location}: cannot access ({java_reason(exc)})") from None
    if exists and not overwrite:
        raise UsageError(f"output folder {location} exists: pass --overwrite to replace it")
    if exists and not is_dir:
        raise UsageError(f"output path {location} exists and is not a folder")
    return str(target.toString())


@dataclass
class OutputDir:
    """An output folder being written (see :func:`publish_dir`).

    Attributes
    ----------
    target : str
        The folder it becomes, fully qualified.
    staging : str
        The hidden staging folder on the target's file system, fully qualified:
        Spark's writers write here (``df.write.parquet(out.staging_path(name))``).
    local : Path
        A local temporary folder for the files the driver makes; copied into
        ``staging`` at the end. Its names must differ from those Spark writes.
    complete_subfolders : list of str
        Folders (relative, ``/``-separated) that get their own ``_SUCCESS``
        before the folder's own; see :meth:`mark_complete`.
    """

    target: str
    staging: str
    local: Path
    complete_subfolders: list[str] = field(default_factory=list)

    def staging_path(self, name: str) -> str:
        """The path of entry ``name`` of the staging folder, for Spark's writers."""
        return f"{self.staging.rstrip('/')}/{name}"

    def mark_complete(self, subfolder: str) -> None:
        """Give local ``subfolder`` its own ``_SUCCESS`` when published (it is loadable alone)."""
        self.complete_subfolders.append(subfolder)


def _rename(fs: Any, source: Any, target: Any) -> None:
    # FileSystem.rename answers false, rather than raising, for most failures.
    if not fs.rename(source, target):
        raise OSError(f"cannot rename {source.toString()} to {target.toString()}")


def _delete_quietly(fs: Any, path: Any) -> None:
    """Delete ``path`` recursively; a failure is logged, not raised (we are cleaning up)."""
    try:
        fs.delete(path, True)
    except Py4JError as exc:
        logger.warning("could not delete %s: %s", path.toString(), java_reason(exc))


def remove_quietly(spark: SparkSession, path: str) -> None:
    """Delete the Hadoop path ``path`` recursively if it exists; failures are logged, not raised."""
    try:
        fs, target = _resolve(spark, path, UsageError)
    except UsageError as exc:
        logger.warning("could not delete %s: %s", path, exc)
        return
    _delete_quietly(fs, target)


def _touch(fs: Any, path: Any) -> None:
    fs.create(path, True).close()


def _upload(spark: SparkSession, fs: Any, local: Path, staging: Any) -> None:
    """Copy every entry of ``local`` into ``staging`` (folders recursively)."""
    hadoop_path_class = _jvm(spark).org.apache.hadoop.fs.Path
    for entry in sorted(local.iterdir()):
        destination = hadoop_path_class(staging, entry.name)
        # Copying onto an existing folder would nest the copy inside it.
        if fs.exists(destination):
            raise RuntimeError(f"{entry.name} was written both by Spark and on the driver")
        fs.copyFromLocalFile(False, True, hadoop_path_class(_local_uri(entry)), destination)


@contextmanager
def publish_dir(
    spark: SparkSession, path: str | os.PathLike[str], overwrite: bool = False
) -> Iterator[OutputDir]:
    """An output folder that appears at ``path``, with ``_SUCCESS``, when the block completes.

    Parameters
    ----------
    spark : SparkSession
    path : str or path-like
        The folder to create: a Hadoop path (see the module's docstring).
    overwrite : bool
        Replace an existing folder.

    Yields
    ------
    OutputDir
        Write the driver's files into ``.local`` and Spark's into
        ``.staging_path(name)``. Should the block raise, both are deleted and
        ``path`` is left as it was.

    Raises
    ------
    UsageError
        As :func:`check_output_dir`, on entering.
    """
    check_output_dir(spark, path, overwrite)
    location = hadoop_path(path)
    fs, target = _resolve(spark, location, UsageError)
    fs = _for_writing(spark, fs)
    hadoop_path_class = _jvm(spark).org.apache.hadoop.fs.Path
    parent, name = target.getParent(), str(target.getName())
    staging = hadoop_path_class(parent, f".{name}.tmp-{uuid.uuid4().hex}")
    local = Path(tempfile.mkdtemp(prefix=f"kmeans-spark-{name}-"))
    output = OutputDir(str(target.toString()), str(staging.toString()), local)
    try:
        if not fs.mkdirs(staging):
            raise OSError(f"cannot create {output.staging}")
        yield output
        _upload(spark, fs, local, staging)
        for subfolder in output.complete_subfolders:
            _touch(fs, hadoop_path_class(hadoop_path_class(staging, subfolder), SUCCESS_MARKER))
        # Last: its presence says that everything else is in place.
        _touch(fs, hadoop_path_class(staging, SUCCESS_MARKER))
        _move_into_place(spark, fs, staging, target, overwrite, location)
    except BaseException:
        _delete_quietly(fs, staging)
        raise
    finally:
        shutil.rmtree(local, ignore_errors=True)


def _move_into_place(
    spark: SparkSession, fs: Any, staging: Any, target: Any, overwrite: bool, location: str
) -> None:
    """Rename the finished staging folder to ``target``, replacing an old one when allowed."""
    # Checked again: the target may have appeared while the job ran, and renaming onto
    # an existing folder would move the staging folder inside it.
    if not fs.exists(target):
        _rename(fs, staging, target)
        return
    if not overwrite:
        raise UsageError(f"output folder {location} appeared while the job ran")
    retired = _jvm(spark).org.apache.hadoop.fs.Path(
        target.getParent(), f".{target.getName()}.old-{uuid.uuid4().hex}"
    )
    _rename(fs, target, retired)
    try:
        _rename(fs, staging, target)
    except BaseException:
        _rename(fs, retired, target)  # put the old folder back
        raise
    _delete_quietly(fs, retired)


def replace_file(spark: SparkSession, local_file: Path, path: str) -> str:
    """Copy ``local_file`` to the Hadoop path ``path``, replacing it as atomically as possible.

    The copy goes to a hidden temporary name beside ``path`` and is renamed onto
    it: readers see the old file or the new one, never a partial one. The local
    disk replaces a file in one rename; HDFS refuses to rename onto an existing
    file, so Hadoop's ``FileContext`` renames with ``OVERWRITE`` there (atomic on
    HDFS; a delete, then a rename, on stores that cannot do better).

    Returns
    -------
    str
        The fully qualified path written.
    """
    fs, target = _resolve(spark, path, UsageError)
    fs = _for_writing(spark, fs)
    jvm = _jvm(spark)
    temporary = jvm.org.apache.hadoop.fs.Path(
        target.getParent(), f".{target.getName()}.tmp-{uuid.uuid4().hex}"
    )
    try:
        source = jvm.org.apache.hadoop.fs.Path(_local_uri(local_file))
        fs.copyFromLocalFile(False, True, source, temporary)
        if not fs.rename(temporary, target):
            rename = jvm.org.apache.hadoop.fs.Options.Rename
            options = _gateway(spark).new_array(rename, 1)
            options[0] = rename.OVERWRITE
            context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(
                target.toUri(), _hadoop_conf(spark)
            )
            context.rename(temporary, target, options)
    except BaseException:
        _delete_quietly(fs, temporary)
        raise
    return str(target.toString())


def fetch_file(spark: SparkSession, path: str, local_file: Path) -> bool:
    """Copy the file at Hadoop path ``path`` to ``local_file``; False when there is none.

    Raises
    ------
    InputError
        Hadoop cannot access ``path`` or it names a folder.
    """
    fs, source = _resolve(spark, path, InputError)
    try:
        if not fs.exists(source):
            return False
        if fs.getFileStatus(source).isDirectory():
            raise InputError(f"{path}: a folder, expected a file")
        local_file.parent.mkdir(parents=True, exist_ok=True)
        # useRawLocalFileSystem: no .crc file beside the local copy.
        destination = _jvm(spark).org.apache.hadoop.fs.Path(_local_uri(local_file))
        fs.copyToLocalFile(False, source, destination, True)
    except Py4JError as exc:
        raise InputError(f"{path}: cannot read ({java_reason(exc)})") from None
    return True


def fetch_files(spark: SparkSession, folder: str, names: Iterable[str], local: Path) -> list[str]:
    """Copy the files ``names`` (relative, ``/``-separated) of a Hadoop folder into ``local``.

    Returns
    -------
    list of str
        The names copied; those missing from ``folder`` are left out.
    """
    return [
        name
        for name in names
        if fetch_file(spark, f"{folder.rstrip('/')}/{name}", local.joinpath(*name.split("/")))
    ]
