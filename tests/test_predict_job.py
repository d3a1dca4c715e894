"""The predict job end to end: on a model the train job wrote, outputs, exit codes."""

from __future__ import annotations

import csv
import json

import pytest
from readers_support import jsonl_lines, make_digits, write_idx, write_text
from support import separated_digits, write_jsonl

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK
from kmeans_spark.jobs import predict as predict_job
from kmeans_spark.jobs import train as train_job


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A k=2 model of three digit classes, so that one class is misclassified, and its test file."""
    folder = tmp_path_factory.mktemp("trained")
    pixels, labels = separated_digits(per_class=20, seed=0)
    write_jsonl(folder / "train.jsonl", pixels, labels)
    test_pixels, test_labels = separated_digits(per_class=7, seed=1)
    write_jsonl(folder / "test.jsonl", test_pixels, test_labels)
    model = folder / "model"
    code = train_job.main(
        [
            "--input",
            str(folder / "train.jsonl"),
            "--test",
            str(folder / "test.jsonl"),
            "--k",
            "2",
            "--output",
            str(model),
            "--partitions",
            "3",
        ]
    )
    assert code == EXIT_OK
    return model, folder / "test.jsonl"


def _leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_predict_scores_the_test_file_as_the_train_job(spark, tmp_path, trained, capsys) -> None:
    model, test = trained
    out = tmp_path / "predictions"
    args = ["--model", str(model), "--input", str(test), "--output", str(out), "--csv"]
    assert predict_job.main([*args, "--partitions", "2"]) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS",
        "metrics.json",
        "predictions.csv",
        "predictions.parquet",
    ]
    # Written last (ties allowed: file times are as fine as the kernel's clock tick).
    marker = (out / "_SUCCESS").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= marker for p in out.rglob("*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run_id"] == spark.sparkContext.applicationId
    trained_test = json.loads((model / "metrics.json").read_text())["test"]
    assert 0 < metrics["error_rate"] == trained_test["error_rate"]
    for key in ("size", "errors", "unlabelled", "cluster_sizes"):
        assert metrics[key] == trained_test[key]
    with (model / "confusion.csv").open() as handle:
        test_rows = [[int(v) for v in row[2:]] for row in csv.reader(handle) if row[0] == "test"]
    assert metrics["confusion"] == test_rows
    assert metrics["digits"] == 21 and metrics["model"] == str(model)

    table = spark.read.parquet(str(out / "predictions.parquet"))
    assert table.columns == ["id", "label", "prediction", "cluster", "distance"]
    rows = table.collect()
    assert [r.id for r in rows] == list(range(21))  # written in id order
    errors = sum(r.prediction != r.label for r in rows)
    assert errors == metrics["errors"]
    centroid_labels = json.loads((model / "model.json").read_text())["centroid_labels"]
    assert all(r.prediction == centroid_labels[r.cluster] and r.distance > 0 for r in rows)
    csv_rows = spark.read.csv(str(out / "predictions.csv"), header=True, inferSchema=True)
    assert [tuple(r) for r in csv_rows.orderBy("id").collect()] == [tuple(r) for r in rows]

    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == (
        f"21 digits classified with k=2: error rate {metrics['error_rate']:.4f} "
        f"({metrics['errors']} of 21 labelled digits); written to {out}"
    )
    assert _leftovers(tmp_path) == []
    # The same predictions with another partitioning, replacing the folder.
    assert predict_job.main([*args, "--partitions", "7", "--overwrite"]) == EXIT_OK
    again = spark.read.parquet(str(out / "predictions.parquet")).collect()
    assert again == rows


def test_unlabelled_input_gives_predictions_and_no_metrics(spark, tmp_path, trained, capsys):
    model, _ = trained
    digits = make_digits(9, seed=5, unlabelled_every=1)
    data = write_text(tmp_path / "unlabelled.jsonl", jsonl_lines(digits))
    out = tmp_path / "out"
    code = predict_job.main(["--model", str(model), "--input", str(data), "--output", str(out)])
    assert code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "predictions.parquet"]
    rows = spark.read.parquet(str(out / "predictions.parquet")).collect()
    assert len(rows) == 9 and all(r.label is None for r in rows)
    assert "9 digits classified with k=2: no labels to score" in capsys.readouterr().out


def test_hadoop_uris_and_a_run_id(spark, tmp_path, trained, capsys) -> None:
    """file:// URIs for the model, the input and the output, which names the run."""
    model, test = trained
    argv = ["--model", f"file://{model}", "--input", f"file://{test}", "--run-id", "r-1"]
    assert predict_job.main([*argv, "--output", f"file://{tmp_path}/{{run_id}}"]) == EXIT_OK
    out = tmp_path / "r-1"
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS",
        "metrics.json",
        "predictions.parquet",
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run_id"] == "r-1" and metrics["model"] == f"file://{model}"
    assert metrics["size"] == 21
    assert f"written to file://{tmp_path}/r-1" in capsys.readouterr().out
    assert spark.read.parquet(f"file://{out}/predictions.parquet").count() == 21
    assert _leftovers(tmp_path) == []


def test_an_mnist_folder_predicts_its_test_set(spark, tmp_path, trained) -> None:
    model, _ = trained
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    write_idx(mnist, make_digits(12, seed=1), "train")
    write_idx(mnist, make_digits(5, seed=2), "t10k")
    out = tmp_path / "out"
    code = predict_job.main(["--model", str(model), "--input", str(mnist), "--output", str(out)])
    assert code == EXIT_OK
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["size"] == 5 and "t10k-images" in metrics["input"]


def test_bad_input_exits_2_and_writes_nothing(spark, tmp_path, trained, capsys) -> None:
    model, test = trained
    broken = tmp_path / "broken.jsonl"
    broken.write_text(test.read_text() + "not json\n")
    out = tmp_path / "out"
    args = ["--model", str(model), "--output", str(out)]
    assert predict_job.main([*args, "--input", str(broken)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "error:" in err and "broken.jsonl" in err and "line 22" in err
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--model": "missing-model"}, "no such model folder"),
        ({"--model": "test.jsonl"}, "not a model folder"),
        ({"--input": "missing.jsonl"}, "missing.jsonl"),
        ({"--output": "exists"}, "--overwrite"),
        ({"--partitions": "0"}, "--partitions must be >= 1"),
        ({"--labels": "labels.idx"}, "labels_path is only for IDX"),
        ({"--format": "csv"}, "header has 2 columns, expected 785"),
        ({"--model": None}, "--model"),
    ],
)
def test_usage_errors_exit_2(spark, tmp_path, trained, capsys, change, message) -> None:
    model, test = trained
    (tmp_path / "exists").mkdir()
    options = {"--model": str(model), "--input": str(test), "--output": "out"}
    options.update(change)
    argv = []
    for name, value in options.items():
        if value is None:
            continue
        if name in ("--output", "--labels") or value in ("missing-model", "missing.jsonl"):
            value = str(tmp_path / value)
        if value == "test.jsonl":
            value = str(test)
        argv += [name, value]
    assert predict_job.main(argv) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []
    assert [p.name for p in (tmp_path / "exists").iterdir()] == []
