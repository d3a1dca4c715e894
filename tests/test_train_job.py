"""The train job end to end on small data: outputs, exit codes, nothing half-written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import separated_digits, write_jsonl

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK
from kmeans_spark.jobs.train import main


@pytest.fixture(scope="module")
def digits():
    """Three well-separated digit classes, 30 each, interleaved."""
    return separated_digits()


@pytest.fixture()
def inputs(tmp_path, digits):
    pixels, labels = digits
    train = tmp_path / "train.jsonl"
    write_jsonl(train, pixels, labels)
    test = tmp_path / "test.jsonl"
    write_jsonl(test, pixels[:30], labels[:30])
    return train, test


def test_train_writes_the_model_folder(spark, tmp_path, inputs, capsys) -> None:
    train, test = inputs
    out = tmp_path / "model"
    code = main(
        [
            "--input",
            str(train),
            "--test",
            str(test),
            "--k",
            "3",
            "--seed",
            "2",
            "--output",
            str(out),
            "--partitions",
            "3",
        ]
    )
    assert code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS",
        "centroids.npy",
        "centroids.png",
        "confusion.csv",
        "metrics.json",
        "model.json",
        "report.html",
    ]
    # The marker is empty and written last, once everything else is in place (ties
    # allowed: file times are as fine as the kernel's clock tick).
    marker = out / "_SUCCESS"
    assert marker.stat().st_size == 0
    assert all(p.stat().st_mtime_ns <= marker.stat().st_mtime_ns for p in out.iterdir())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    metrics = json.loads((out / "metrics.json").read_text())
    model = json.loads((out / "model.json").read_text())
    # Without --run-id, Spark's application id names the run.
    assert metrics["run_id"] == model["run_id"] == spark.sparkContext.applicationId
    centroids = np.load(out / "centroids.npy", allow_pickle=False)
    assert centroids.shape == (3, 784) and centroids.dtype == np.float64
    # Clusters are perfectly separated: every held-out digit is classified right.
    assert sorted(model["centroid_labels"]) == [3, 5, 8]
    validation = metrics["validation"]
    assert (validation["error_rate"], validation["size"], validation["errors"]) == (0.0, 22, 0)
    assert sum(validation["cluster_sizes"]) == 22
    assert metrics["test"]["error_rate"] == 0.0 and metrics["test"]["size"] == 30
    assert metrics["train"]["size"] == 68  # 90 - floor(0.25 * 90)
    assert metrics["converged"] and metrics["iterations"] == len(metrics["history"])
    assert {"k", "seed", "iterations", "converged", "inertia", "history", "seconds"} <= set(metrics)
    assert set(metrics["history"][0]) >= {"iteration", "moved", "max_shift", "inertia", "seconds"}
    assert model["k"] == 3 and model["params"]["seed"] == 2
    assert len(model["input"]["fingerprint"]) == 16
    with (out / "confusion.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["set", "true_label", *map(str, range(10)), "none"]
    validation_rows = {int(r[1]): [int(v) for v in r[2:]] for r in rows[1:] if r[0] == "validation"}
    assert sum(validation_rows[5]) == validation_rows[5][5] > 0
    printed = capsys.readouterr().out
    assert "validation error rate: 0.0000" in printed and "test error rate" in printed


def test_same_seed_same_model_any_partitioning(spark, tmp_path, inputs) -> None:
    train, _ = inputs
    models = []
    for partitions in (1, 2, 7):
        out = tmp_path / f"model-{partitions}"
        assert (
            main(
                [
                    "--input",
                    str(train),
                    "--k",
                    "4",
                    "--seed",
                    "5",
                    "--output",
                    str(out),
                    "--partitions",
                    str(partitions),
                ]
            )
            == EXIT_OK
        )
        models.append(np.load(out / "centroids.npy"))
    for other in models[1:]:
        assert_array_equal(other, models[0])


def test_hadoop_uris_run_id_and_overwrite(spark, tmp_path, inputs, digits) -> None:
    """file:// URIs for the input, --init-centroids and --output, which names the run."""
    train, _ = inputs
    pixels, _ = digits
    np.save(tmp_path / "init.npy", pixels[[0, 1, 2]].astype(np.float64))
    argv = ["--input", f"file://{train}", "--init-centroids", f"file://{tmp_path}/init.npy"]
    argv += ["--k", "3", "--max-iter", "2", "--output", f"file://{tmp_path}/runs/{{run_id}}"]
    assert main([*argv, "--run-id", "nightly-7"]) == EXIT_OK
    out = tmp_path / "runs" / "nightly-7"
    assert (out / "_SUCCESS").exists() and (out / "report.html").exists()
    model = json.loads((out / "model.json").read_text())
    assert model["run_id"] == "nightly-7" and model["params"]["init"] == "given"
    assert json.loads((out / "metrics.json").read_text())["run_id"] == "nightly-7"
    # The same run again replaces the folder only with --overwrite.
    (out / "stale.txt").write_text("from an older run")
    assert main([*argv, "--run-id", "nightly-7"]) == EXIT_BAD_INPUT
    assert (out / "stale.txt").exists()
    assert main([*argv, "--run-id", "nightly-7", "--overwrite"]) == EXIT_OK
    assert not (out / "stale.txt").exists() and (out / "_SUCCESS").exists()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["nightly-7"]


def test_init_centroids_and_config_file(spark, tmp_path, inputs, digits) -> None:
    train, _ = inputs
    pixels, _ = digits
    init = tmp_path / "init.npy"
    np.save(init, pixels[[0, 1, 2]].astype(np.float64))
    config = tmp_path / "train.toml"
    config.write_text(f'k = 3\nmax_iter = 1\ninit_centroids = "{init}"\n')
    out = tmp_path / "model"
    assert main(["--config", str(config), "--input", str(train), "--output", str(out)]) == EXIT_OK
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 1
    model = json.loads((out / "model.json").read_text())
    assert model["params"]["init"] == "given" and model["params"]["max_iter"] == 1


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [("not json at all", "line 91"), ('{"label": 3}', "missing key 'data'")],
)
def test_bad_input_exits_2_and_writes_nothing(
    spark, tmp_path, inputs, capsys, bad_line, message
) -> None:
    train, _ = inputs
    with train.open("a") as handle:
        handle.write(bad_line + "\n")
    out = tmp_path / "model"
    assert main(["--input", str(train), "--k", "3", "--output", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "error:" in err and str(train.name) in err and message in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".model")] == []


def test_usage_errors_exit_2(spark, tmp_path, inputs, capsys) -> None:
    train, _ = inputs
    existing = tmp_path / "exists"
    existing.mkdir()
    assert main(["--input", str(train), "--output", str(existing)]) == EXIT_BAD_INPUT
    assert "--overwrite" in capsys.readouterr().err
    # Checked before anything is read or trained: a missing input is not even noticed.
    missing = str(tmp_path / "missing.jsonl")
    assert main(["--input", missing, "--output", str(existing)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--overwrite" in err and "missing.jsonl" not in err
    assert main(["--input", str(train), "--output", str(tmp_path / "m"), "--k", "0"]) == 2
    assert main(["--output", str(tmp_path / "m")]) == EXIT_BAD_INPUT
    assert "--input is required" in capsys.readouterr().err
    assert main(["--input", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "m")]) == 2
    assert not (tmp_path / "m").exists()
