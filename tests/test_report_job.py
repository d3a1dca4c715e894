"""jobs/report.py: rebuilding the pages of a train folder and of a sweep folder; exit codes."""

from __future__ import annotations

import json

import pytest
from report_html import frequency_counts, parse_report
from report_support import sweep_models, train_model, write_inputs

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK
from kmeans_spark.jobs.report import main
from kmeans_spark.report import REPORT_NAME


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("report-job-input"))


def test_rebuilds_a_train_folder(spark, inputs, tmp_path, capsys) -> None:
    model = train_model(inputs, tmp_path / "model")
    (model / REPORT_NAME).unlink(missing_ok=True)
    argv = ["--model", str(model), "--gallery-label", "3", "--gallery-size", "8", "--seed", "4"]
    assert main(argv) == EXIT_OK
    assert f"report written to {model / REPORT_NAME}" in capsys.readouterr().out
    parsed = parse_report((model / REPORT_NAME).read_text())
    (gallery,) = [attrs for _, attrs in parsed.data if "data-ids" in attrs]
    ids = json.loads(gallery["data-ids"])
    validation_size = json.loads((model / "model.json").read_text())["input"]["validation_size"]
    assert len(ids) == 8 and all(i < validation_size for i in ids)  # head split: the first ids
    assert len(parsed.images) == 7 and parsed.tables_of("examples")
    first = (model / REPORT_NAME).read_text()
    assert main(argv) == EXIT_OK  # rebuilt in place, the same page
    assert (model / REPORT_NAME).read_text() == first
    assert not [p for p in model.iterdir() if p.name.startswith(".")]


def test_rebuilds_a_folder_named_by_a_uri(spark, inputs, tmp_path) -> None:
    model = train_model(inputs, tmp_path / "model")
    before = (model / REPORT_NAME).read_text()
    (model / REPORT_NAME).write_text("stale")
    assert main(["--model", f"file://{model}"]) == EXIT_OK
    assert (model / REPORT_NAME).read_text() == before  # same inputs, same page
    assert sorted(p.name for p in model.iterdir()) == [
        "_SUCCESS",
        "centroids.npy",
        "centroids.png",
        "confusion.csv",
        "metrics.json",
        "model.json",
        "report.html",
    ]


def test_rebuilds_a_sweep_folder_and_every_k(spark, inputs, tmp_path) -> None:
    sweep = sweep_models(inputs, tmp_path / "sweep")
    for page in sweep.rglob(REPORT_NAME):
        page.unlink()
    assert main(["--model", str(sweep), "--gallery-label", "3"]) == EXIT_OK
    parsed = parse_report((sweep / REPORT_NAME).read_text())
    (results,) = parsed.tables_of("results")
    assert [row[0] for row in results.rows[1:]] == ["2", "3"]
    for k in (2, 3):
        page = parse_report((sweep / f"k{k}" / REPORT_NAME).read_text())
        assert [attrs for _, attrs in page.data if "data-ids" in attrs]  # digits were shown
        assert "../report.html" in page.links
        assert frequency_counts(page)  # one table per inferred label
    assert not [p for p in sweep.rglob("*") if p.name.startswith(".")]  # no temporary pages


def test_bad_model_folder_exits_2(spark, tmp_path, capsys) -> None:
    assert main(["--model", str(tmp_path / "missing")]) == EXIT_BAD_INPUT
    assert "neither a model folder nor a sweep folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--model", str(empty)]) == EXIT_BAD_INPUT
    (empty / "model.json").write_text("{not json")
    assert main(["--model", str(empty)]) == EXIT_BAD_INPUT
    assert "not readable JSON" in capsys.readouterr().err
    assert not (empty / REPORT_NAME).exists()


def test_bad_options_and_moved_data_exit_2(spark, inputs, tmp_path, capsys) -> None:
    model = train_model(inputs, tmp_path / "model")
    assert main(["--model", str(model), "--gallery-label", "10"]) == EXIT_BAD_INPUT
    assert main(["--model", str(model), "--gallery-size", "0"]) == EXIT_BAD_INPUT
    missing = tmp_path / "moved.jsonl"
    assert main(["--model", str(model), "--input", str(missing)]) == EXIT_BAD_INPUT
    assert "moved.jsonl" in capsys.readouterr().err
