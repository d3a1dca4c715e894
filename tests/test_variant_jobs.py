"""The variants through the jobs: train, sweep, predict, report and the comparison job."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import write_jsonl

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK
from kmeans_spark.jobs.compare_variants import main as compare_main
from kmeans_spark.jobs.predict import main as predict_main
from kmeans_spark.jobs.report import main as report_main
from kmeans_spark.jobs.sweep import main as sweep_main
from kmeans_spark.jobs.train import main as train_main
from kmeans_spark.variant_comparison import QUICK_CONFIGURATIONS, select_configurations
from kmeans_spark.variants.algorithms import assign
from kmeans_spark.variants.features import FeatureSpace


def ten_classes(n: int, seed: int, spread: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Digits of ten classes: noisy copies of ten nearby prototypes (a few % overlap)."""
    rng = np.random.default_rng(100)  # the same prototypes for training and test
    prototypes = 128 + rng.integers(-20, 21, (10, 784))
    noise = np.random.default_rng(seed)
    labels = noise.integers(0, 10, n)
    pixels = prototypes[labels] + noise.normal(0, spread, (n, 784))
    return np.clip(pixels, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("variant-inputs")
    train_pixels, train_labels = ten_classes(400, 1)
    test_pixels, test_labels = ten_classes(100, 2)
    write_jsonl(folder / "train.jsonl", train_pixels, train_labels)
    write_jsonl(folder / "test.jsonl", test_pixels, test_labels)
    return folder, (test_pixels, test_labels)


def train_args(folder, output, *extra):
    return [
        "--input",
        str(folder / "train.jsonl"),
        "--test",
        str(folder / "test.jsonl"),
        "--output",
        str(output),
        "--partitions",
        "2",
        "--validation-fraction",
        "0",
        *extra,
    ]


def test_train_and_predict_a_per_class_k_medians_model_of_deskewed_digits(
    spark, inputs, tmp_path
) -> None:
    folder, (test_pixels, test_labels) = inputs
    model_dir = tmp_path / "model"
    options = ["--algorithm", "k-medians", "--preprocess", "deskew", "--per-class", "2"]
    assert train_main(train_args(folder, model_dir, *options)) == EXIT_OK
    model = json.loads((model_dir / "model.json").read_text())
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert model["variant"] == {
        "algorithm": "k-medians",
        "preprocess": ["deskew"],
        "per_class": True,
        "k_per_class": 2,
    }
    assert model["k"] == 20
    assert metrics["variant"] == model["variant"]
    assert model["centroid_labels"] == np.repeat(np.arange(10), 2).tolist()
    assert not (model_dir / "report.html").exists()  # drawn for raw-pixel k-means only
    centroids = np.load(model_dir / "centroids.npy", allow_pickle=False)
    assert centroids.shape == (20, 784)
    # The test error the job reports is that of L1-nearest centres of deskewed digits.
    space = FeatureSpace("k-medians", ("deskew",))
    assigned, _ = assign("k-medians", space.transform(test_pixels), centroids)
    expected_errors = int((np.repeat(np.arange(10), 2)[assigned] != test_labels).sum())
    assert expected_errors > 0, "the data should make errors, for the counts to mean something"
    assert metrics["test"]["errors"] == expected_errors

    predictions = tmp_path / "predictions"
    code = predict_main(
        [
            "--model",
            str(model_dir),
            "--input",
            str(folder / "test.jsonl"),
            "--output",
            str(predictions),
        ]
    )
    assert code == EXIT_OK
    predicted = json.loads((predictions / "metrics.json").read_text())
    assert predicted["errors"] == expected_errors
    table = spark.read.parquet(str(predictions / "predictions.parquet")).orderBy("id").collect()
    assert [row.cluster for row in table] == assigned.tolist()

    # report.html is not drawn for a variant: a clear refusal, not a wrong page.
    assert report_main(["--model", str(model_dir)]) == EXIT_BAD_INPUT


def test_a_spherical_sweep_writes_every_k_with_its_variant(spark, inputs, tmp_path) -> None:
    folder, _ = inputs
    output = tmp_path / "sweep"
    options = ["--algorithm", "spherical", "--k", "10,12", "--max-iter", "10"]
    assert sweep_main(train_args(folder, output, *options)) == EXIT_OK
    record = json.loads((output / "sweep.json").read_text())
    assert record["variant"] == {"algorithm": "spherical", "preprocess": [], "per_class": False}
    assert [r["k"] for r in record["results"]] == [10, 12]
    for k in (10, 12):
        centroids = np.load(output / f"k{k}" / "centroids.npy", allow_pickle=False)
        np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, rtol=1e-9)


def test_a_per_class_sweep_takes_its_k_from_per_class(spark, inputs, tmp_path) -> None:
    folder, _ = inputs
    output = tmp_path / "per-class"
    options = ["--per-class", "1,3", "--preprocess", "normalize", "--max-iter", "5"]
    assert sweep_main(train_args(folder, output, *options)) == EXIT_OK
    for k in (1, 3):
        assert np.load(output / f"k{k}" / "centroids.npy").shape == (10 * k, 784)


@pytest.mark.parametrize(
    "options",
    [
        ["--preprocess", "deskew,blur"],
        ["--per-class", "0"],
        ["--per-class", "two"],
        ["--algorithm", "k-medians", "--resume"],
        ["--per-class", "500"],  # more centres than a class has digits
    ],
)
def test_bad_variant_options_exit_2_and_write_nothing(spark, inputs, tmp_path, options) -> None:
    folder, _ = inputs
    output = tmp_path / "bad"
    assert train_main(train_args(folder, output, *options)) == EXIT_BAD_INPUT
    assert not output.exists()


def test_the_comparison_job_agrees_with_the_train_job(spark, inputs, tmp_path) -> None:
    folder, _ = inputs
    output = tmp_path / "comparison"
    only = "k-means-per-class,spherical"
    argv = ["--input", str(folder / "train.jsonl"), "--test", str(folder / "test.jsonl")]
    argv += ["--output", str(output), "--quick", "--only", only, "--partitions", "2"]
    assert compare_main(argv) == EXIT_OK
    rows = json.loads((output / "comparison.json").read_text())["rows"]
    assert [(r["configuration"], r["k"]) for r in rows] == [
        ("k-means-per-class", 10),
        ("spherical", 16),
    ]
    assert rows[0]["centres"] == 100 and rows[1]["centres"] == 16
    assert (output / "comparison.md").read_text().count("\n") == 4
    # Each row is the model the train job trains with the same options.
    per_class = tmp_path / "per-class-model"
    options = ["--per-class", "10", "--max-iter", "20"]
    assert train_main(train_args(folder, per_class, *options)) == EXIT_OK
    metrics = json.loads((per_class / "metrics.json").read_text())
    assert rows[0]["test_error_rate"] == metrics["test"]["error_rate"]
    assert rows[0]["iterations"] == metrics["iterations"]


def test_configurations_are_selected_by_name() -> None:
    assert select_configurations(None, quick=True) == QUICK_CONFIGURATIONS
    (chosen,) = select_configurations(["k-medians"])
    assert chosen.ks == (16, 100)
    with pytest.raises(Exception, match="unknown configuration"):
        select_configurations(["k-modes"])
