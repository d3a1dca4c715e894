from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.evaluation import Evaluation, majority_labels
from kmeans_spark.experiment import (
    DataSummary,
    ExperimentResult,
    Restart,
    SweepResult,
    TrainParams,
)
from kmeans_spark.lloyd import IterationStats, LloydResult
from kmeans_spark.model_io import (
    TrainedModel,
    load_centroids,
    load_model,
    write_model,
)
from kmeans_spark.storage import SUCCESS_MARKER
from kmeans_spark.sweep_io import write_sweep


def test_load_centroids_round_trip(tmp_path) -> None:
    values = np.random.default_rng(0).random((3, 784))
    np.save(tmp_path / "c.npy", values)
    assert_array_equal(load_centroids(tmp_path / "c.npy", 3), values)


def test_load_centroids_through_hadoop(spark, tmp_path) -> None:
    values = np.random.default_rng(0).random((3, 784))
    np.save(tmp_path / "c.npy", values)
    uri = f"file://{tmp_path}/c.npy"
    assert_array_equal(load_centroids(uri, 3, spark=spark), values)
    with pytest.raises(InputError, match=f"^{re.escape(uri)}: centroids have shape"):
        load_centroids(uri, 4, spark=spark)  # the message names the file as given
    with pytest.raises(InputError, match=r"missing\.npy: no such file"):
        load_centroids(f"file://{tmp_path}/missing.npy", spark=spark)
    with pytest.raises(InputError, match="expected a file"):
        load_centroids(str(tmp_path), spark=spark)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 10)), "shape"),
        (np.zeros((2, 784)), "shape"),
        (np.full((3, 784), np.nan), "NaN"),
        (np.array([{"a": 1}] * 3, dtype=object), "readable"),
    ],
)
def test_load_centroids_rejects_bad_files(tmp_path, array, message) -> None:
    np.save(tmp_path / "c.npy", array, allow_pickle=True)
    with pytest.raises(InputError, match=message):
        load_centroids(tmp_path / "c.npy", 3)


def test_load_centroids_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_centroids(tmp_path / "missing.npy")


# --- write_model's hook, load_model -------------------------------------------------------


def _result(k: int = 3) -> ExperimentResult:
    """A small trained-looking result, built by hand (no Spark needed to write it)."""
    rng = np.random.default_rng(1)
    label_counts = np.array(
        [[5, 0, 0, 1, 0, 0, 0, 0, 0, 0], [0] * 10, [0, 0, 4, 0, 0, 0, 0, 0, 0, 2]]
    )
    model = LloydResult(
        centroids=rng.random((k, 784)) * 255,
        iterations=2,
        converged=True,
        inertia=12.5,
        cluster_sizes=label_counts.sum(axis=1),
        label_counts=label_counts,
        history=[IterationStats(1, 12, 3.0, 20.0, 0.1), IterationStats(2, 0, 0.0, 12.5, 0.1)],
    )
    confusion = np.zeros((10, 11), dtype=np.int64)
    confusion[0, 0], confusion[2, 2], confusion[3, 0] = 3, 2, 1
    test = Evaluation(confusion, np.array([4, 0, 2]), 0)
    return ExperimentResult(
        params=TrainParams(k=k),
        model=model,
        centroid_labels=majority_labels(label_counts),
        validation=None,
        test=test,
        data=DataSummary(12, 0, 0, "0" * 16, "1" * 16),
        seconds={"load": 0.0, "init": 0.0, "train": 0.0, "evaluate": 0.0, "total": 0.0},
        restarts=[Restart(1, 20.0, 12.5, 2, True, None, None, True)],
    )


SOURCES = {"train": "train.jsonl", "test": "test.jsonl"}


def test_write_model_then_load_model(spark, tmp_path) -> None:
    result = _result()
    target = tmp_path / "model"
    written = write_model(
        target, result, SOURCES, extra=lambda staging: (staging / "x.txt").write_text("x")
    )
    assert written == f"file:{target}"
    assert (target / "x.txt").read_text() == "x"  # the hook's file is published with the model
    assert (target / SUCCESS_MARKER).exists()
    # Without a run id, Spark's application id names the run.
    for name in ("model.json", "metrics.json"):
        record = json.loads((target / name).read_text())
        assert record["run_id"] == spark.sparkContext.applicationId
    loaded = load_model(target)
    assert isinstance(loaded, TrainedModel) and loaded.path == str(target) and loaded.k == 3
    assert_array_equal(loaded.centroids, result.model.centroids)
    assert loaded.centroids.dtype == np.float64
    assert loaded.centroid_labels.tolist() == [0, -1, 2]
    assert loaded.centroid_labels.dtype == np.int64
    assert loaded.model["params"]["n_init"] == 1
    assert loaded.metrics is not None
    assert loaded.metrics["label_counts"] == result.model.label_counts.tolist()


def test_model_through_hadoop_with_a_run_id(spark, tmp_path) -> None:
    result = _result()
    uri = f"file://{tmp_path}/model"
    assert (
        write_model(uri, result, SOURCES, spark=spark, run_id="nightly-7")
        == f"file:{tmp_path}/model"
    )
    loaded = load_model(uri, spark=spark)
    assert loaded.path == uri and loaded.model["run_id"] == "nightly-7"
    assert loaded.metrics is not None and loaded.metrics["run_id"] == "nightly-7"
    assert_array_equal(loaded.centroids, result.model.centroids)
    with pytest.raises(UsageError, match="--overwrite"):
        write_model(uri, result, SOURCES, spark=spark)
    write_model(uri, result, SOURCES, overwrite=True, spark=spark, run_id="nightly-8")
    assert load_model(uri, spark=spark).model["run_id"] == "nightly-8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def _failing_hook(staging: Path) -> None:
    (staging / "report.html").write_text("<html>")
    raise RuntimeError("report failed")


def test_failing_hook_leaves_no_model(spark, tmp_path) -> None:
    with pytest.raises(RuntimeError, match="report failed"):
        write_model(tmp_path / "model", _result(), SOURCES, extra=_failing_hook)
    assert list(tmp_path.iterdir()) == []


def test_failing_hook_leaves_no_sweep(spark, tmp_path) -> None:
    result = _result()
    sweep = SweepResult([result], passes=2, seconds=result.seconds)
    with pytest.raises(RuntimeError, match="report failed"):
        write_sweep(tmp_path / "sweep", sweep, SOURCES, extra=_failing_hook)
    assert list(tmp_path.iterdir()) == []
    seen: list[list[str]] = []
    write_sweep(
        tmp_path / "sweep",
        sweep,
        SOURCES,
        extra=lambda staging: seen.append(sorted(p.name for p in staging.iterdir())),
        run_id="sweep-1",
    )
    # The hook sees every standard file of the sweep.
    assert seen == [["error_by_k.png", "k3", "sweep.csv", "sweep.json"]]
    assert (tmp_path / "sweep" / "k3" / "model.json").exists()
    # Each k's folder loads alone, so it says it is complete too.
    assert (tmp_path / "sweep" / "k3" / SUCCESS_MARKER).exists()
    assert (tmp_path / "sweep" / SUCCESS_MARKER).exists()
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["run_id"] == "sweep-1"
    k3 = json.loads((tmp_path / "sweep" / "k3" / "model.json").read_text())
    assert k3["run_id"] == "sweep-1"


def _old_model_folder(folder: Path, k: int = 2) -> np.ndarray:
    """A model folder as the train job wrote it before restarts and k-means++ (no metrics)."""
    folder.mkdir()
    centroids = np.arange(k * 784, dtype=np.float64).reshape(k, 784) % 255
    np.save(folder / "centroids.npy", centroids)
    record = {
        "format_version": 1,
        "algorithm": "lloyd",
        "k": k,
        "n_features": 784,
        "centroid_labels": [7, 1][:k],
        "params": {
            "seed": 1,
            "max_iter": 300,
            "tol": 0.0,
            "empty_cluster": "farthest",
            "validation_fraction": 0.25,
            "split": "head",
            "partitions": None,
            "init": "random",
        },
        "input": {
            "train": "data/mnist/train-images-idx3-ubyte.gz",
            "test": "data/mnist/t10k-images-idx3-ubyte.gz",
            "fingerprint": "0123456789abcdef",
            "test_fingerprint": None,
            "train_size": 45000,
            "validation_size": 15000,
            "test_size": 10000,
        },
    }
    (folder / "model.json").write_text(json.dumps(record, indent=2))
    return centroids


def test_load_model_of_an_older_run(tmp_path) -> None:
    centroids = _old_model_folder(tmp_path / "old")
    loaded = load_model(str(tmp_path / "old"))
    assert_array_equal(loaded.centroids, centroids)
    assert loaded.centroid_labels.tolist() == [7, 1]
    assert loaded.metrics is None
    assert "n_init" not in loaded.model["params"]


def _edit_model_json(folder: Path, **changes: object) -> None:
    record = json.loads((folder / "model.json").read_text())
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    (folder / "model.json").write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: shutil.rmtree(f), "no such model folder"),
        (lambda f: (shutil.rmtree(f), f.write_text("x")), "not a model folder"),
        (lambda f: (f / "model.json").unlink(), "no model.json"),
        (lambda f: (f / "model.json").write_text("{not json"), "not valid JSON"),
        (lambda f: (f / "model.json").write_text("[1, 2]"), "expected a JSON object"),
        (lambda f: _edit_model_json(f, centroid_labels=None), "'centroid_labels' must be"),
        (lambda f: _edit_model_json(f, centroid_labels=[7, 10]), r"centroid_labels\[1\] is 10"),
        (lambda f: _edit_model_json(f, centroid_labels=[7, True]), r"centroid_labels\[1\]"),
        (lambda f: _edit_model_json(f, centroid_labels=[7, 1, 2], k=3), "holds 2 centroids"),
        (lambda f: _edit_model_json(f, k=5), "k is 5 but there are 2 centroid_labels"),
        (lambda f: _edit_model_json(f, format_version=2), "newer than this code reads"),
        (lambda f: (f / "centroids.npy").unlink(), "centroids.npy: no such file"),
        (lambda f: np.save(f / "centroids.npy", np.zeros((2, 10))), "shape"),
        (lambda f: (f / "metrics.json").write_text("nan nan"), "metrics.json: not valid JSON"),
    ],
)
def test_load_model_rejects_broken_folders(spark, tmp_path, damage, message) -> None:
    folder = tmp_path / "model"
    _old_model_folder(folder)
    damage(folder)
    with pytest.raises(InputError, match=message):
        load_model(folder)
    # Through Hadoop too, naming the folder as given.
    with pytest.raises(InputError, match=message) as raised:
        load_model(f"file://{folder}", spark=spark)
    assert str(raised.value).startswith(f"file://{folder}")
