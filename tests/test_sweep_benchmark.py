"""The sweep benchmark job on small data: every system trains the same models."""

from __future__ import annotations

import json

import pytest
from support import separated_digits, write_jsonl

from kmeans_spark.errors import EXIT_OK
from kmeans_spark.jobs.bench_sweep import main


@pytest.fixture(scope="module")
def bench_output(spark, tmp_path_factory):
    pixels, labels = separated_digits(per_class=30, seed=4)
    folder = tmp_path_factory.mktemp("bench-sweep")
    write_jsonl(folder / "train.jsonl", pixels, labels)
    out = folder / "out"
    argv = ["--input", str(folder / "train.jsonl"), "--k", "2-3", "--seed", "3"]
    argv += ["--output", str(out), "--partitions", "2"]
    assert main(argv) == EXIT_OK
    return out


def test_every_system_trains_the_same_models(bench_output) -> None:
    results = json.loads((bench_output / "sweep_benchmark.json").read_text())
    systems = results["systems"]
    assert list(systems) == ["batched", "sequential", "sklearn-float64", "sklearn-float32"]
    for k in ("2", "3"):  # no cluster empties here: scikit-learn re-seeds them its own way
        iterations = {name: system["per_k"][k]["iterations"] for name, system in systems.items()}
        # Same initial centroids and stopping rule: the same Lloyd path, in float64 at least.
        assert iterations["batched"] == iterations["sequential"] == iterations["sklearn-float64"]
        assert (
            systems["batched"]["per_k"][k]["inertia"]
            == systems["sequential"]["per_k"][k]["inertia"]
        )
        assert systems["sklearn-float64"]["per_k"][k]["inertia"] == pytest.approx(
            systems["batched"]["per_k"][k]["inertia"], rel=1e-9
        )
    for name, ratio in results["ratios"].items():
        assert ratio == pytest.approx(systems[name]["seconds"] / systems["batched"]["seconds"])
    assert results["params"]["training_digits"] == 68  # 90 digits, the first 25% held out


def test_report_and_figure_are_written(bench_output) -> None:
    report = (bench_output / "sweep_benchmark.md").read_text()
    assert "| batched |" in report and "| sequential |" in report
    assert "| 3 |" in report
    assert (bench_output / "sweep_benchmark.png").stat().st_size > 0
