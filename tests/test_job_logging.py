"""Job logging: JSON lines, the text format, handlers on stderr, exit codes, spark-submit."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.job_logging import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    JobLogHandler,
    configure_logging,
    current_settings,
    job_entry_point,
    print_result,
    separate_stderr,
)

TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) [\w.]+: .*")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Give the root logger back as it was: the jobs reconfigure it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(text: str) -> list[dict]:
    """Every line of ``text`` parsed as one JSON object."""
    lines = text.splitlines()
    assert lines, "no output"
    return [json.loads(line) for line in lines]


def test_json_lines_carry_the_message_level_logger_run_id_and_fields(capsys) -> None:
    configure_logging("INFO", "json", run_id="nightly-7")
    logger = logging.getLogger("kmeans_spark.test")
    logger.info(
        "iteration %d: moved %d points",
        3,
        12,
        extra={"event": "iteration", "moved": np.int64(12), "inertia": float("nan")},
    )
    logger.debug("below the level: not written")
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = json_lines(captured.err)
    assert line == {
        "ts": line["ts"],
        "level": "INFO",
        "logger": "kmeans_spark.test",
        "message": "iteration 3: moved 12 points",
        "run_id": "nightly-7",
        "event": "iteration",
        "moved": 12,
        "inertia": None,  # JSON has no NaN
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])


def test_json_lines_hold_the_traceback_and_no_run_id_when_none(capsys) -> None:
    configure_logging("INFO", "json")
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("kmeans_spark.test").exception("it failed")
    (line,) = json_lines(capsys.readouterr().err)
    assert "run_id" not in line
    assert line["level"] == "ERROR" and line["message"] == "it failed"
    assert line["exc_info"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: boom\nsecond line" in line["exc_info"]


def test_text_format_is_unchanged(capsys) -> None:
    configure_logging("INFO", "text", run_id="r1")
    logging.getLogger("kmeans_spark.lloyd").info(
        "iteration %d: moved %d points", 1, 5, extra={"event": "iteration"}
    )
    err = capsys.readouterr().err
    assert TEXT_LINE.fullmatch(err.strip())
    assert err.strip().endswith(" INFO kmeans_spark.lloyd: iteration 1: moved 5 points")


def test_console_handlers_are_replaced_and_others_kept(capsys) -> None:
    root = logging.getLogger()
    root.handlers[:] = []
    logging.basicConfig(stream=sys.stdout, format="%(message)s")  # as a library might
    on_stdout = logging.StreamHandler(sys.__stdout__)
    kept = logging.StreamHandler(io.StringIO())  # a handler with its own stream
    root.addHandler(on_stdout)
    root.addHandler(kept)
    configure_logging("INFO", "text")
    configure_logging("INFO", "json", run_id="twice")  # again: still one handler of ours
    assert sum(isinstance(h, JobLogHandler) for h in root.handlers) == 1
    assert kept in root.handlers and on_stdout not in root.handlers
    assert len(root.handlers) == 2
    logging.getLogger("kmeans_spark.test").warning("where does it go")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert json_lines(captured.err)[0]["run_id"] == "twice"
    assert "where does it go" in kept.stream.getvalue()
    assert current_settings().log_format == "json"


def test_the_handler_follows_sys_stderr(capsys) -> None:
    configure_logging("INFO", "text")
    replaced = io.StringIO()
    original = sys.stderr
    sys.stderr = replaced
    try:
        logging.getLogger("kmeans_spark.test").info("to the stderr of the moment")
    finally:
        sys.stderr = original
    assert "to the stderr of the moment" in replaced.getvalue()
    assert capsys.readouterr().err == ""


def test_print_result_is_one_json_object_on_stdout(capsys) -> None:
    configure_logging("INFO", "json", run_id="r-2")
    print_result({"k": np.int64(3), "output": Path("/x"), "rates": [0.5, float("inf")]}, "train")
    captured = capsys.readouterr()
    assert captured.err == ""
    assert json.loads(captured.out) == {
        "event": "result",
        "job": "train",
        "run_id": "r-2",
        "k": 3,
        "output": "/x",
        "rates": [0.5, None],
    }


# --- exit codes ---------------------------------------------------------------------------


def job_raising(exc: BaseException, log_format: str = "text"):
    """A decorated main that configures logging and raises ``exc``."""

    @job_entry_point("probe")
    def main(argv: list[str] | None = None) -> int:
        configure_logging("INFO", log_format, run_id="r")
        raise exc

    return main


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (SystemExit(2), 2),  # argparse's usage errors
        (SystemExit(0), 0),  # --help
        (SystemExit(None), 0),
        (UsageError("bad option"), 2),
        (InputError("bad record"), 2),
        (RuntimeError("unexpected"), 1),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_exit_codes(exc, code, capsys) -> None:
    assert job_raising(exc)() == code


def test_usage_errors_read_error_in_text_and_are_json_records_in_json(capsys) -> None:
    assert job_raising(UsageError("--k must be >= 1"))() == 2
    assert capsys.readouterr().err == "error: --k must be >= 1\n"
    assert job_raising(UsageError("--k must be >= 1"), "json")() == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert line["message"] == "--k must be >= 1" and line["level"] == "ERROR"
    assert (line["event"], line["error"], line["exit_code"], line["run_id"]) == (
        "error",
        "UsageError",
        2,
        "r",
    )


def test_unexpected_errors_are_logged_with_their_traceback(capsys) -> None:
    assert job_raising(RuntimeError("unexpected"), "json")() == 1
    (line,) = json_lines(capsys.readouterr().err)
    assert line["message"] == "probe failed" and line["exit_code"] == 1
    assert "RuntimeError: unexpected" in line["exc_info"]


def test_interrupts_give_one_line_and_no_traceback(capsys) -> None:
    assert job_raising(KeyboardInterrupt(), "json")() == 130
    (line,) = json_lines(capsys.readouterr().err)
    assert line["message"] == "probe interrupted (SIGINT)" and "exc_info" not in line


def test_sigterm_exits_143_and_the_previous_handler_comes_back(capsys) -> None:
    before = signal.getsignal(signal.SIGTERM)
    cleaned_up = []

    @job_entry_point("probe")
    def main(argv: list[str] | None = None) -> int:
        configure_logging("INFO", "text")
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)  # let the handler run (it runs between bytecodes)
            return 0
        finally:
            cleaned_up.append(True)

    assert main([]) == EXIT_TERMINATED
    assert cleaned_up == [True]
    assert signal.getsignal(signal.SIGTERM) is before
    err = capsys.readouterr().err
    assert "probe terminated (SIGTERM)" in err and "Traceback" not in err


# --- spark-submit's merged stdout and stderr -----------------------------------------------

# Plays spark-submit's JVM: runs the "driver" with stdout and stderr on one pipe, which it
# copies to its own stdout, while its own stderr stays what its caller gave.
PARENT = textwrap.dedent(
    """
    import os, subprocess, sys
    env = dict(os.environ, PYSPARK_GATEWAY_PORT="1")
    child = subprocess.run(
        [sys.executable, "-c", sys.argv[1]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, check=True,
    )
    sys.stdout.buffer.write(child.stdout)
    """
)
DRIVER = textwrap.dedent(
    """
    import sys
    from kmeans_spark.job_logging import separate_stderr
    print(separate_stderr(), file=sys.stderr)
    print("result", flush=True)
    print("log line", file=sys.stderr, flush=True)
    """
)


def run_parent(stderr_target) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PARENT, DRIVER],
        stdout=subprocess.PIPE,
        stderr=stderr_target,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


def test_separate_stderr_under_a_merging_parent_with_a_pipe() -> None:
    finished = run_parent(subprocess.PIPE)
    assert finished.stdout == "result\n"
    assert finished.stderr == "True\nlog line\n"


def test_separate_stderr_appends_to_a_file_opened_for_appending(tmp_path) -> None:
    log = tmp_path / "err.log"
    log.write_text("before\n")
    with log.open("a") as handle:
        finished = run_parent(handle)
    assert finished.stdout == "result\n"
    assert log.read_text() == "before\nTrue\nlog line\n"


def test_separate_stderr_leaves_a_truncated_file_alone(tmp_path) -> None:
    # A second writer on a file the parent writes at its own offset would overwrite it.
    log = tmp_path / "err.log"
    with log.open("w") as handle:
        finished = run_parent(handle)
    assert finished.stdout == "False\nresult\nlog line\n"
    assert log.read_text() == ""


def test_separate_stderr_does_nothing_outside_spark_submit(monkeypatch) -> None:
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    assert separate_stderr() is False
