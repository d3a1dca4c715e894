"""The sweep job end to end on small data: one batch, every k's model, the figures' data."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import separated_digits, write_jsonl

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK
from kmeans_spark.jobs.sweep import main
from kmeans_spark.jobs.train import main as train_main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    pixels, labels = separated_digits(per_class=40, seed=3)
    folder = tmp_path_factory.mktemp("sweep-input")
    write_jsonl(folder / "train.jsonl", pixels, labels)
    write_jsonl(folder / "test.jsonl", pixels[:30], labels[:30])
    return folder / "train.jsonl", folder / "test.jsonl"


@pytest.fixture(scope="module")
def sweep(spark, inputs, tmp_path_factory):
    train, test = inputs
    out = tmp_path_factory.mktemp("sweep") / "out"
    argv = ["--input", str(train), "--test", str(test), "--k", "4,2-3", "--n-init", "3"]
    argv += ["--seed", "5", "--output", str(out), "--partitions", "3"]
    assert main(argv) == EXIT_OK
    return out


def test_sweep_writes_every_k_and_the_summary(spark, sweep) -> None:
    assert sorted(p.name for p in sweep.iterdir()) == [
        "_SUCCESS",
        "error_by_k.png",
        "k2",
        "k3",
        "k4",
        "report.html",
        "sweep.csv",
        "sweep.json",
    ]
    # Written last (ties allowed: file times are as fine as the kernel's clock tick).
    marker = (sweep / "_SUCCESS").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= marker for p in sweep.rglob("*"))
    record = json.loads((sweep / "sweep.json").read_text())
    assert [r["k"] for r in record["results"]] == [2, 3, 4]
    assert record["seconds"] > 0 and record["passes"] >= 2
    # Without --run-id, Spark's application id names the run, in every record.
    assert record["run_id"] == spark.sparkContext.applicationId
    for result in record["results"]:
        restarts = result["restarts"]
        assert len(restarts) == 3 and restarts[0]["seed"] == 5
        assert len({r["seed"] for r in restarts}) == 3
        kept = [r for r in restarts if r["kept"]]
        assert len(kept) == 1
        assert kept[0]["inertia"] == min(r["inertia"] for r in restarts) == result["inertia"]
        assert result["spread"]["inertia"]["min"] == result["inertia"]
        metrics = json.loads((sweep / result["model"] / "metrics.json").read_text())
        assert metrics["k"] == result["k"] and metrics["inertia"] == result["inertia"]
        assert metrics["run_id"] == record["run_id"]
        # Each k's folder loads alone (predict --model), so it is marked complete too.
        assert (sweep / result["model"] / "_SUCCESS").exists()
        assert metrics["validation"]["error_rate"] == result["validation_error_rate"]
        centroids = np.load(sweep / result["model"] / "centroids.npy", allow_pickle=False)
        assert centroids.shape == (result["k"], 784)
        page = (sweep / result["model"] / "report.html").read_text()
        assert "data:image/png;base64," in page and "../report.html" in page
    # Three separated classes: with k = 3 the best restart classifies every digit right.
    assert record["results"][1]["validation_error_rate"] == 0.0
    assert record["results"][1]["test_error_rate"] == 0.0
    with (sweep / "sweep.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["k"]) for r in rows] == [2, 3, 4]
    assert [int(r["restarts"]) for r in rows] == [3, 3, 3]
    assert [float(r["inertia"]) for r in rows] == [r["inertia"] for r in record["results"]]


def test_each_model_equals_the_train_job_with_its_kept_seed(sweep, inputs, tmp_path) -> None:
    train, test = inputs
    record = json.loads((sweep / "sweep.json").read_text())
    for result in record["results"]:
        seed = next(r["seed"] for r in result["restarts"] if r["kept"])
        out = tmp_path / f"alone-{result['k']}"
        argv = ["--input", str(train), "--test", str(test), "--k", str(result["k"])]
        argv += ["--seed", str(seed), "--output", str(out), "--partitions", "2"]
        assert train_main(argv) == EXIT_OK
        assert_array_equal(
            np.load(out / "centroids.npy"), np.load(sweep / result["model"] / "centroids.npy")
        )
        alone = json.loads((out / "metrics.json").read_text())
        assert alone["iterations"] == result["iterations"]


def test_existing_output_is_refused_before_reading(spark, inputs, tmp_path, capsys) -> None:
    (tmp_path / "out").mkdir()
    argv = ["--input", str(tmp_path / "missing.jsonl"), "--k", "2-3", "--output"]
    assert main([*argv, str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--overwrite" in err and "missing.jsonl" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("k", ["", "0-3", "5-2", "a,b", "3-"])
def test_bad_k_lists_exit_2_and_write_nothing(spark, inputs, tmp_path, capsys, k) -> None:
    train, _ = inputs
    out = tmp_path / "out"
    assert main(["--input", str(train), "--k", k, "--output", str(out)]) == EXIT_BAD_INPUT
    assert "--k" in capsys.readouterr().err
    assert not out.exists()


def test_restarts_beyond_one_with_given_centroids_are_refused(spark, inputs, tmp_path) -> None:
    train, _ = inputs
    np.save(tmp_path / "c.npy", np.zeros((2, 784)))
    argv = ["--input", str(train), "--k", "2", "--init-centroids", str(tmp_path / "c.npy")]
    argv += ["--n-init", "2", "--output", str(tmp_path / "out")]
    assert train_main(argv) == EXIT_BAD_INPUT


def test_an_interrupted_sweep_resumes_to_the_same_models(
    spark, inputs, sweep, tmp_path, monkeypatch, caplog
) -> None:
    from kmeans_spark.checkpoint import Checkpoint

    train, test = inputs
    out = tmp_path / "out"
    argv = ["--input", str(train), "--test", str(test), "--k", "4,2-3", "--n-init", "3"]
    argv += ["--seed", "5", "--output", str(out), "--partitions", "3"]
    save = Checkpoint.save
    saved: list[int] = []

    def save_then_die(self, state, identity) -> None:
        # The driver dies right after the second pass's checkpoint is written.
        save(self, state, identity)
        saved.append(state.passes)
        if len(saved) == 2:
            raise RuntimeError("driver lost")

    monkeypatch.setattr(Checkpoint, "save", save_then_die)
    assert main(argv) == 1
    assert not out.exists()
    assert (tmp_path / ".out.checkpoint").is_dir()
    monkeypatch.setattr(Checkpoint, "save", save)

    assert main([*argv, "--resume"]) == EXIT_OK
    assert "resumed after pass 2" in caplog.text
    assert not (tmp_path / ".out.checkpoint").exists()
    for k in (2, 3, 4):
        resumed, uninterrupted = out / f"k{k}", sweep / f"k{k}"
        assert (resumed / "centroids.npy").read_bytes() == (
            uninterrupted / "centroids.npy"
        ).read_bytes()
        kept = ("iterations", "converged", "inertia", "cluster_sizes", "restarts")
        resumed_metrics = json.loads((resumed / "metrics.json").read_text())
        expected = json.loads((uninterrupted / "metrics.json").read_text())
        assert {key: resumed_metrics[key] for key in kept} == {key: expected[key] for key in kept}
