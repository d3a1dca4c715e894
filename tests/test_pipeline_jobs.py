"""The jobs run unattended: run ids, JSON logs and results, --config shipped with --files."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from conftest import REPO_ROOT
from support import separated_digits, write_jsonl

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError
from kmeans_spark.job_options import validate_run_id

# Each job's required options, so that --run-id is the only thing wrong.
REQUIRED = {
    "train": [],
    "sweep": [],
    "predict": ["--model", "m", "--input", "i", "--output", "o"],
    "report": ["--model", "m"],
    "benchmark": ["--input", "i", "--output", "o"],
    "bench_sweep": ["--input", "i", "--output", "o"],
    "fetch_mnist": [],
    "profile_iteration": ["--input", "i"],
}
ITERATION_FIELDS = {"event", "model", "k", "iteration", "moved", "max_shift", "inertia", "seconds"}


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Give the root logger back as it was: the jobs reconfigure it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture()
def digits_file(tmp_path):
    pixels, labels = separated_digits()
    path = tmp_path / "train.jsonl"
    write_jsonl(path, pixels, labels)
    return path


@pytest.mark.parametrize(
    "run_id", ["a", "nightly-2026-01-31T12:00:00+00:00", "run.1_x", "...", "x" * 128]
)
def test_valid_run_ids(run_id) -> None:
    assert validate_run_id(run_id) == run_id


@pytest.mark.parametrize("run_id", ["", ".", "..", "a/b", "x" * 129, "two words", "é", "a\nb"])
def test_invalid_run_ids(run_id) -> None:
    with pytest.raises(UsageError, match="--run-id must be"):
        validate_run_id(run_id)


@pytest.mark.parametrize("job", sorted(REQUIRED))
@pytest.mark.parametrize("run_id", ["", "..", "runs/1", "x" * 129])
def test_every_job_refuses_a_bad_run_id_with_exit_2(job, run_id, capsys) -> None:
    main = importlib.import_module(f"kmeans_spark.jobs.{job}").main
    assert main([*REQUIRED[job], "--run-id", run_id]) == EXIT_BAD_INPUT
    assert "--run-id" in capsys.readouterr().err


@pytest.mark.parametrize("job", sorted(REQUIRED))
def test_every_job_has_the_pipeline_options(job, capsys) -> None:
    main = importlib.import_module(f"kmeans_spark.jobs.{job}").main
    assert main(["--help"]) == EXIT_OK
    usage = capsys.readouterr().out
    assert "--run-id" in usage and "--log-format" in usage


def test_train_with_a_config_shipped_by_files_logs_json_lines(
    spark, tmp_path, digits_file, capsys
) -> None:
    from kmeans_spark.jobs.train import main

    # As `spark-submit --files .../NAME.toml ... --config NAME.toml`: not in the working
    # directory, only where SparkFiles keeps it.
    name = f"pipeline-{uuid.uuid4().hex}.toml"
    shipped = tmp_path / "elsewhere" / name
    shipped.parent.mkdir()
    shipped.write_text('k = 3\nseed = 2\nrun_id = "from-config"\nlog_format = "json"\n')
    spark.sparkContext.addFile(str(shipped))
    assert not os.path.exists(name)

    out = tmp_path / "model"
    code = main(["--config", name, "--input", str(digits_file), "--output", str(out)])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err

    lines = [json.loads(line) for line in captured.err.splitlines()]
    assert lines and all(line["run_id"] == "from-config" for line in lines)
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    iterations = [line for line in lines if line.get("event") == "iteration"]
    assert iterations and ITERATION_FIELDS <= set(iterations[0])
    assert [line["iteration"] for line in iterations] == list(range(1, len(iterations) + 1))
    assert all(line["k"] == 3 and line["logger"] == "kmeans_spark.lloyd" for line in iterations)
    assert iterations[-1]["moved"] == 0  # converged: the last pass moved nothing
    assert {"data_loaded", "initialised"} <= {line.get("event") for line in lines}

    (result_line,) = captured.out.splitlines()
    result = json.loads(result_line)
    assert (result["event"], result["job"], result["run_id"]) == ("result", "train", "from-config")
    assert result["k"] == 3 and result["iterations"] == len(iterations)
    assert result["converged"] is True and result["validation"]["error_rate"] == 0.0


def test_a_config_found_nowhere_names_both_places(spark, tmp_path, digits_file, capsys) -> None:
    from kmeans_spark.jobs.sweep import main

    out = tmp_path / "out"
    args = ["--config", "nowhere.toml", "--input", str(digits_file), "--output", str(out)]
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "nowhere.toml" in err and os.path.abspath("nowhere.toml") in err and "--files" in err
    assert not out.exists()


def test_spark_submit_keeps_logs_on_stderr_and_the_result_on_stdout(tmp_path, digits_file) -> None:
    """The real spark-submit, which merges the Python driver's stderr into its stdout."""
    spark_submit = REPO_ROOT / ".venv" / "bin" / "spark-submit"
    if not spark_submit.exists():
        pytest.skip(f"{spark_submit} is not installed")
    python = str(REPO_ROOT / ".venv" / "bin" / "python")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYSPARK_GATEWAY")}
    env.update(
        SPARK_CONF_DIR=str(REPO_ROOT / "conf"),
        PYSPARK_PYTHON=python,
        PYSPARK_DRIVER_PYTHON=python,
        PYTHONPATH=str(REPO_ROOT),  # this checkout's package, whatever is installed
    )
    out = tmp_path / "model"
    command = [
        str(spark_submit),
        "jobs/train.py",
        "--input",
        str(digits_file),
        "--k",
        "3",
        "--output",
        str(out),
        "--log-format",
        "json",
        "--run-id",
        "submit-1",
    ]
    finished = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stderr + finished.stdout

    (result_line,) = finished.stdout.splitlines()
    result = json.loads(result_line)
    assert (result["event"], result["run_id"], result["k"]) == ("result", "submit-1", 3)

    # Spark's own lines are log4j text; every line of ours is one JSON object.
    ours = [line for line in finished.stderr.splitlines() if "kmeans_spark" in line]
    parsed = [json.loads(line) for line in ours]
    assert all(line["logger"].startswith("kmeans_spark") for line in parsed)
    assert all(line["run_id"] == "submit-1" for line in parsed)
    iterations = [line for line in parsed if line.get("event") == "iteration"]
    assert len(iterations) == result["iterations"]
    assert ITERATION_FIELDS <= set(iterations[0])
