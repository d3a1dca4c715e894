"""The kmeans-spark console script: dispatch, help, unknown commands, the installed script."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kmeans_spark import cli
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK


def test_help_lists_every_command(capsys) -> None:
    assert cli.main(["--help"]) == EXIT_OK
    out = capsys.readouterr().out
    for name in ("train", "sweep", "predict", "report", "fetch", "bench", "bench-sweep"):
        assert f"  {name} " in out


def test_no_command_prints_the_usage_and_exits_2(capsys) -> None:
    assert cli.main([]) == EXIT_BAD_INPUT
    assert "usage: kmeans-spark COMMAND" in capsys.readouterr().err


def test_unknown_command_exits_2(capsys) -> None:
    assert cli.main(["trian", "--k", "3"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "unknown command 'trian'" in err and "train" in err


@pytest.mark.parametrize(("name", "command"), sorted(cli.COMMANDS.items()))
def test_each_command_runs_its_job_with_the_remaining_arguments(monkeypatch, name, command) -> None:
    module = importlib.import_module(f"kmeans_spark.jobs.{command.module}")
    received: list[list[str] | None] = []

    def fake_main(argv: list[str] | None = None) -> int:
        received.append(argv)
        return 7

    monkeypatch.setattr(module, "main", fake_main)
    assert cli.main([name, "--seed", "3", "--help-me"]) == 7
    assert received == [["--seed", "3", "--help-me"]]


def test_job_errors_come_back_as_exit_codes(capsys) -> None:
    assert cli.main(["predict", "--help"]) == EXIT_OK
    assert "--model" in capsys.readouterr().out
    assert cli.main(["fetch", "--timeout", "0"]) == EXIT_BAD_INPUT
    assert cli.main(["bench", "--input", "x", "--output", "y", "--systems", "weka"]) == 2


def test_the_installed_script_shows_the_train_options() -> None:
    script = Path(sys.executable).parent / "kmeans-spark"
    if not script.exists():
        pytest.skip(f"{script} is not installed: pip install -e .")
    env = {key: value for key, value in os.environ.items() if key != "PYSPARK_GATEWAY_PORT"}
    finished = subprocess.run(
        [str(script), "train", "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert "--run-id" in finished.stdout and "--log-format" in finished.stdout
    unknown = subprocess.run([str(script), "nope"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr
