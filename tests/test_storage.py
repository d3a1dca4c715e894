"""Publishing output folders through Hadoop: whole or not at all, ``_SUCCESS`` last."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.storage import (
    SUCCESS_MARKER,
    check_output_dir,
    fetch_file,
    fetch_files,
    hadoop_path,
    publish_dir,
    replace_file,
)


def _files(folder: Path) -> list[str]:
    """Every file under ``folder``, relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _written_last(folder: Path, name: str) -> bool:
    """Whether no file under ``folder`` is newer than ``name`` (file times have ties)."""
    last = (folder / name).stat().st_mtime_ns
    return all(p.stat().st_mtime_ns <= last for p in folder.rglob("*"))


def _mount(spark, real: Path) -> str:
    """A ``viewfs://`` folder that Hadoop maps to ``real`` and Python's open() cannot reach.

    A fresh mount table per call: Hadoop caches a file system per URI authority.
    """
    table = f"kmeans{uuid.uuid4().hex[:8]}"
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    conf.set(f"fs.viewfs.mounttable.{table}.link./data", real.as_uri())
    real.mkdir(parents=True, exist_ok=True)
    return f"viewfs://{table}/data"


def test_hadoop_path_of_strings_and_local_paths(tmp_path) -> None:
    assert hadoop_path("hdfs:///models/m") == "hdfs:///models/m"
    assert hadoop_path("relative/m") == "relative/m"  # the default file system resolves it
    # A Path is the local disk; not percent-encoded, as Hadoop reads URI paths literally.
    assert hadoop_path(tmp_path / "a b") == f"file://{tmp_path}/a b"
    with pytest.raises(UsageError, match="empty path"):
        hadoop_path("")


def test_published_folder_has_every_file_and_success_last(spark, tmp_path) -> None:
    target = tmp_path / "out"
    with publish_dir(spark, str(target)) as output:
        assert output.target == f"file:{target}"
        assert not target.exists()
        (output.local / "model.json").write_text("{}")
        (output.local / "k2").mkdir()
        (output.local / "k2" / "centroids.npy").write_bytes(b"npy")
        output.mark_complete("k2")
        spark.range(3).coalesce(1).write.parquet(output.staging_path("table.parquet"))
    assert (target / "model.json").read_text() == "{}"
    assert (target / "k2" / "centroids.npy").read_bytes() == b"npy"
    assert spark.read.parquet(str(target / "table.parquet")).count() == 3
    assert (target / SUCCESS_MARKER).read_bytes() == b""
    assert (target / "k2" / SUCCESS_MARKER).exists()
    assert _written_last(target, SUCCESS_MARKER)
    # No checksum files beside the driver's files (Spark's writer leaves its own).
    assert not [name for name in _files(target) if name.endswith(".crc") and "parquet" not in name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging leftovers
    assert not output.local.exists()


def test_published_folder_has_the_usual_permissions(spark, tmp_path) -> None:
    umask = os.umask(0o022)
    try:
        with publish_dir(spark, tmp_path / "out") as output:
            (output.local / "a.txt").write_text("a")
            (output.local / "sub").mkdir()  # mkdtemp's 0700 must not leak either
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "sub").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "a.txt").stat().st_mode) == 0o644


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_leaves_no_target_and_no_leftovers(spark, tmp_path, error) -> None:
    target = tmp_path / "out"
    with pytest.raises(type(error)), publish_dir(spark, target) as output:
        (output.local / "half.json").write_text("{")
        spark.range(3).write.parquet(output.staging_path("table.parquet"))
        assert len(list(tmp_path.iterdir())) == 1  # the staging folder, hidden
        raise error
    assert list(tmp_path.iterdir()) == []
    assert not output.local.exists()


def test_a_failing_spark_writer_leaves_nothing(spark, tmp_path) -> None:
    def fail(value: int) -> int:
        raise ValueError(f"bad value {value}")

    frame = spark.createDataFrame(spark.sparkContext.parallelize([1, 2]).map(fail), "long")
    with pytest.raises(Exception, match="bad value"), publish_dir(spark, tmp_path / "o") as out:
        frame.write.parquet(out.staging_path("table.parquet"))
    assert list(tmp_path.iterdir()) == []


def test_a_name_written_twice_fails_and_leaves_nothing(spark, tmp_path) -> None:
    with (
        pytest.raises(RuntimeError, match="both by Spark"),
        publish_dir(spark, tmp_path / "o") as out,
    ):
        spark.range(1).write.parquet(out.staging_path("t"))
        (out.local / "t").write_text("t")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_unless_overwrite(spark, tmp_path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(UsageError, match="--overwrite"), publish_dir(spark, target):
        pytest.fail("entered despite an existing output")  # pragma: no cover
    with publish_dir(spark, target, overwrite=True) as output:
        (output.local / "new.txt").write_text("new")
    assert _files(target) == [SUCCESS_MARKER, "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the old one is gone


def test_a_failed_overwrite_keeps_the_old_folder(spark, tmp_path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), publish_dir(spark, target, overwrite=True) as output:
        (output.local / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert _files(target) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_check_output_dir(spark, tmp_path) -> None:
    assert check_output_dir(spark, str(tmp_path / "new"), False) == f"file:{tmp_path}/new"
    assert check_output_dir(spark, f"file://{tmp_path}/new", False) == f"file:{tmp_path}/new"
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        check_output_dir(spark, tmp_path / "file", True)
    with pytest.raises(UsageError, match="cannot access"):
        check_output_dir(spark, "nosuchfs://host/out", False)
    with pytest.raises(UsageError, match="root"):
        check_output_dir(spark, "file:///", True)


def test_everything_goes_through_hadoop(spark, tmp_path) -> None:
    """Through a viewfs:// mount, which Python cannot open, the local folder gets the files."""
    real = tmp_path / "real"
    mounted = _mount(spark, real)
    with publish_dir(spark, f"{mounted}/out") as output:
        (output.local / "model.json").write_text('{"k": 2}')
        spark.range(4).write.parquet(output.staging_path("table.parquet"))
    assert (real / "out" / "model.json").read_text() == '{"k": 2}'
    assert (real / "out" / SUCCESS_MARKER).exists()
    assert spark.read.parquet(f"{mounted}/out/table.parquet").count() == 4
    (tmp_path / "page.html").write_text("<html>")
    replace_file(spark, tmp_path / "page.html", f"{mounted}/out/page.html")
    assert (real / "out" / "page.html").read_text() == "<html>"
    assert fetch_file(spark, f"{mounted}/out/model.json", tmp_path / "copy" / "model.json")
    assert (tmp_path / "copy" / "model.json").read_text() == '{"k": 2}'


def test_replace_file_replaces_or_creates(spark, tmp_path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    page = tmp_path / "report.html"
    page.write_text("new")
    assert replace_file(spark, page, str(folder / "report.html")) == f"file:{folder}/report.html"
    assert (folder / "report.html").read_text() == "new"
    page.write_text("newer")
    replace_file(spark, page, f"file://{folder}/report.html")
    assert (folder / "report.html").read_text() == "newer"
    assert [p.name for p in folder.iterdir()] == ["report.html"]  # no temporary, no .crc


def test_fetch_files(spark, tmp_path) -> None:
    folder = tmp_path / "model"
    (folder / "k2").mkdir(parents=True)
    (folder / "model.json").write_text("{}")
    (folder / "k2" / "model.json").write_text("{2}")
    local = tmp_path / "copy"
    names = ["model.json", "k2/model.json", "missing.json"]
    assert fetch_files(spark, f"file://{folder}", names, local) == names[:2]
    assert _files(local) == ["k2/model.json", "model.json"]
    assert (local / "k2" / "model.json").read_text() == "{2}"
    with pytest.raises(InputError, match="a folder, expected a file"):
        fetch_file(spark, str(folder / "k2"), local / "x")
    with pytest.raises(InputError, match="cannot access"):
        fetch_file(spark, "nosuchfs://host/x", local / "x")
