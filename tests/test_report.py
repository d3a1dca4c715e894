"""report.html of a model folder: self-contained, and its tables hold the model's numbers."""

from __future__ import annotations

import base64
import csv
import json
import stat

import numpy as np
import pytest
from report_html import frequency_counts, parse_report
from report_support import sweep_models, train_model, write_inputs

from kmeans_spark.errors import InputError
from kmeans_spark.report import (
    REPORT_NAME,
    read_confusion_csv,
    read_model_folder,
    write_model_report,
    write_sweep_report,
)
from kmeans_spark.report_data import classified_sample
from kmeans_spark.report_source import read_report_digits, source_paths

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("report-input"))


@pytest.fixture(scope="module")
def model(spark, inputs, tmp_path_factory):
    return train_model(inputs, tmp_path_factory.mktemp("report") / "model")


@pytest.fixture(scope="module")
def digits(spark, model):
    record = json.loads((model / "model.json").read_text())
    found = read_report_digits(spark, record["input"], record["params"])
    yield found
    found.unpersist()


@pytest.fixture(scope="module")
def page(model, digits):
    path = write_model_report(model, digits.held_out, train=digits.train, gallery_label=3)
    return path, parse_report(path.read_text())


def _confusion(model, name="validation"):
    with (model / "confusion.csv").open() as handle:
        rows = [r for r in csv.reader(handle)][1:]
    return np.array([[int(v) for v in r[2:]] for r in rows if r[0] == name])


def test_page_is_self_contained(model, page) -> None:
    path, parsed = page
    assert path == model / REPORT_NAME
    text = path.read_text()
    assert "http://" not in text and "https://" not in text and "<link" not in text
    # History, centroids, two confusion matrices, gallery, examples, clusters.
    assert len(parsed.images) == 7
    for image in parsed.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix) and image["alt"]
        assert base64.b64decode(image["src"][len(prefix) :]).startswith(PNG_SIGNATURE)
    assert "imagesLoaded" in text  # the load script that browsers fill in
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in model.iterdir() if p.name.startswith(".")] == []


def test_parameters_and_metrics_tables(model, page) -> None:
    _, parsed = page
    metrics = json.loads((model / "metrics.json").read_text())
    (params,) = parsed.tables_of("params")
    values = dict(params.rows)
    assert values["k"] == "3" and values["seed"] == "2" and values["init"] == "k-means++"
    assert values["validation_fraction"] == "0.25" and values["split"] == "head"
    (errors,) = parsed.tables_of("errors")
    rows = {row[0]: row[1:] for row in errors.rows[1:]}
    for name in ("validation", "test"):
        record = metrics[name]
        assert rows[name][1:3] == [str(record["errors"]), str(record["size"])]
        assert float(rows[name][0]) == pytest.approx(record["error_rate"], abs=5e-5)
    assert rows["validation"][1] != "0"  # the mislabelled 5s are errors
    assert parsed.tables_of("restarts") == []  # one restart: no table


def test_frequency_tables_are_the_confusion_columns(model, page) -> None:
    _, parsed = page
    confusion = _confusion(model)
    labels = read_model_folder(model).centroid_labels
    tables = frequency_counts(parsed)
    assert sorted(tables) == sorted(str(v) for v in set(labels.tolist()))
    for label, counts in tables.items():
        assert counts == confusion[:, int(label)].tolist()
    # The walkthrough's question, answered: true 5s land in the 3 cluster.
    assert tables["3"][5] > 0 and tables["3"][3] > tables["3"][5]


def test_gallery_shows_the_seeded_sample(model, digits, page) -> None:
    _, parsed = page
    folder = read_model_folder(model)
    sample = classified_sample(
        digits.held_out, folder.centroids, folder.centroid_labels, 3, 16, seed=2
    )
    (gallery,) = [attrs for tag, attrs in parsed.data if "data-ids" in attrs]
    assert json.loads(gallery["data-ids"]) == sample.ids.tolist()
    assert json.loads(gallery["data-true"]) == sample.true_labels.tolist()
    assert 5 in sample.true_labels.tolist()


def test_confusion_examples_table(model, page) -> None:
    _, parsed = page
    folder = read_model_folder(model)
    (examples,) = parsed.tables_of("examples")
    header, *rows = examples.rows
    assert header[:3] == ["digit id", "true", "classified as"]
    assert rows and all(row[1:3] == ["5", "3"] for row in rows)  # the only confusion
    fives = np.flatnonzero(folder.centroid_labels == 5).tolist()
    for row in rows:
        claimer = int(row[3].lstrip("#"))
        assert folder.centroid_labels[claimer] == 3
        assert int(row[5].lstrip("#")) in fives
        assert float(row[6]) > float(row[4])  # the 3 centroid is nearer: why it was claimed


def test_page_without_digits_leaves_them_out(model, tmp_path) -> None:
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("model.json", "metrics.json", "centroids.npy", "confusion.csv"):
        (copy / name).write_bytes((model / name).read_bytes())
    write_model_report(copy)
    parsed = parse_report((copy / REPORT_NAME).read_text())
    assert len(parsed.images) == 5  # no gallery, no examples
    assert "rebuild the page with jobs/report.py" in (copy / REPORT_NAME).read_text()
    assert frequency_counts(parsed)["3"] == _confusion(model)[:, 3].tolist()
    # A second write replaces the page in place, leaving no temporary file behind.
    write_model_report(copy, gallery_label=8)
    assert sorted(p.name for p in copy.iterdir())[-1] == REPORT_NAME
    assert not [p for p in copy.iterdir() if p.name.startswith(".")]


def test_sweep_page_links_every_k(spark, inputs, tmp_path) -> None:
    sweep = sweep_models(inputs, tmp_path / "sweep")
    record = json.loads((sweep / "sweep.json").read_text())
    write_sweep_report(sweep)  # no digits: pages from the files alone
    parsed = parse_report((sweep / REPORT_NAME).read_text())
    (results,) = parsed.tables_of("results")
    assert results.links == ["k2/report.html", "k3/report.html"]
    for row, result in zip(results.rows[1:], record["results"], strict=True):
        assert row[0] == str(result["k"]) and row[3] == str(result["iterations"])
        assert float(row[1]) == pytest.approx(result["validation_error_rate"], abs=5e-5)
        assert row[6] == "2"
    assert len(parsed.images) == 1
    for k in (2, 3):
        model_page = parse_report((sweep / f"k{k}" / REPORT_NAME).read_text())
        assert "../report.html" in model_page.links


def test_reading_folders_and_sources(model, tmp_path) -> None:
    matrices = read_confusion_csv(model / "confusion.csv")
    assert sorted(matrices) == ["test", "validation"]
    assert matrices["validation"].shape == (10, 11)
    assert read_confusion_csv(tmp_path / "missing.csv") == {}
    with pytest.raises(InputError, match=r"model\.json"):
        read_model_folder(tmp_path)
    assert source_paths("d/train-images-idx3-ubyte.gz (labels: d/train-labels-idx1-ubyte.gz)") == (
        "d/train-images-idx3-ubyte.gz",
        "d/train-labels-idx1-ubyte.gz",
        "idx",
    )
    assert source_paths("x/images.idx (unlabelled)") == ("x/images.idx", None, "idx")
    assert source_paths("data/digits (1).jsonl") == ("data/digits (1).jsonl", None, None)


def test_changed_data_is_refused(spark, model, inputs, tmp_path) -> None:
    record = json.loads((model / "model.json").read_text())
    train, _ = inputs
    lines = train.read_text().splitlines(keepends=True)
    changed = tmp_path / "changed.jsonl"
    changed.write_text("".join(lines[1:] + lines[:1]))
    with pytest.raises(InputError, match="not the ones the model was trained on"):
        read_report_digits(spark, record["input"], record["params"], train_path=str(changed))
