"""Exit codes of the benchmark and profiling jobs on bad usage (the train job has its own tests)."""

from __future__ import annotations

from kmeans_spark.errors import EXIT_BAD_INPUT
from kmeans_spark.jobs import benchmark, profile_iteration


def test_benchmark_refuses_unknown_systems(tmp_path, capsys) -> None:
    code = benchmark.main(
        ["--input", str(tmp_path), "--output", str(tmp_path / "out"), "--systems", "weka"]
    )
    assert code == EXIT_BAD_INPUT
    assert "unknown systems ['weka']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_profile_job_reports_missing_input(spark, tmp_path, capsys) -> None:
    code = profile_iteration.main(["--input", str(tmp_path / "missing.jsonl")])
    assert code == EXIT_BAD_INPUT
    assert "missing.jsonl" in capsys.readouterr().err
