"""Memory: training on 1,000,000 digits with a 1 GB driver, nothing proportional to n collected.

One test, run by ``make test`` (marked ``slow``); docs/reliability.md, "Memory", has its
measured figures. It makes a million shifted MNIST digits as Parquet (on the executors of
the test session), then runs the real train job through ``spark-submit`` with
``--driver-memory 1g`` and ``spark.driver.maxResultSize=4m``:

* the 1 GB heap holds the driver *and*, in local mode, the executors: Spark's cache
  of the blocks spills to disk, the blocks' executor-local copies live on disk;
* the 4 MB cap fails any action whose task results add up to more (Spark aborts the
  job), so the run fails should any pass collect something proportional to n, even
  when it would fit in the heap: 4 bytes a digit are 4 MB here. The legitimate
  collects of this run, all proportional to k and the number of partitions, add up
  to at most about 0.6 MB per action (measured);
* the Python driver, which ``spark.driver.memory`` does not bound, stays small.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from support import load_mnist_numpy

from kmeans_spark.synthetic import write_synthetic_parquet

N_DIGITS = 1_000_000
K = 10
MAX_ITER = 2
# One block per partition travels through the JVM whole (into Spark's cache, to the
# Python workers): 64 blocks of 15,625 digits are 12 MB each. With Spark's default
# parallelism here (2 partitions, 392 MB blocks) a 1 GB JVM runs out of heap caching
# them, with 16 (49 MB blocks) while splitting off validation digits (measured).
PARTITIONS = 64
DRIVER_MEMORY = "1g"
MAX_RESULT_SIZE = "4m"
PYTHON_DRIVER_LIMIT_BYTES = 512 * 2**20
"""Peak RSS allowed to the Python driver: about 5x what it needs, below n's 784 MB of pixels."""
JOB_TIMEOUT_S = 600


def _children(pid: int) -> list[int]:
    """Every process whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may hold spaces and parentheses: the ppid follows the last ')'.
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
    return found


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pending, seen = [pid], []
    while pending:
        current = pending.pop()
        seen.append(current)
        pending.extend(_children(current))
    return seen


def _peak_rss_bytes(pid: int) -> int | None:
    """``VmHWM``, the peak resident set size of a live process, in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _submit_env() -> dict[str, str]:
    python = str(REPO_ROOT / ".venv" / "bin" / "python")
    # Not this session's gateway: the job must start its own JVM.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYSPARK_GATEWAY")}
    env.update(
        SPARK_CONF_DIR=str(REPO_ROOT / "conf"),
        PYSPARK_PYTHON=python,
        PYSPARK_DRIVER_PYTHON=python,
        PYTHONPATH=str(REPO_ROOT),  # this checkout's package, whatever is installed
    )
    return env


def _run_watched(command: list[str], log: Path) -> tuple[int, float, dict[str, int], list[str]]:
    """Run ``command``; return its exit code, wall seconds, peak RSS by role and the JVM's argv.

    Roles: ``jvm`` (the driver JVM, which hosts the executors in local mode) and
    ``python_driver`` (the job's Python process). Sampled every 0.2 s from /proc, so a
    peak in the last fraction of a second of a process may be missed.
    """
    peaks = {"jvm": 0, "python_driver": 0}
    jvm_argv: list[str] = []
    started = time.monotonic()
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=_submit_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole on timeout
        )
        try:
            while process.poll() is None:
                if time.monotonic() - started > JOB_TIMEOUT_S:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    pytest.fail(f"train job ran over {JOB_TIMEOUT_S} s")
                for pid in _tree(process.pid):
                    argv = _cmdline(pid)
                    if not argv:
                        continue
                    role = None
                    if os.path.basename(argv[0]) == "java":
                        role, jvm_argv = "jvm", argv
                    elif any(arg.endswith("jobs/train.py") for arg in argv) and "python" in (
                        os.path.basename(argv[0])
                    ):
                        role = "python_driver"
                    peak = _peak_rss_bytes(pid) if role else None
                    if role and peak:
                        peaks[role] = max(peaks[role], peak)
                time.sleep(0.2)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return process.returncode, time.monotonic() - started, peaks, jvm_argv


@pytest.mark.slow
@pytest.mark.skipif(
    not (REPO_ROOT / ".venv" / "bin" / "spark-submit").exists(), reason="needs spark-submit"
)
def test_training_on_a_million_digits_with_a_1g_driver(spark, mnist_dir, tmp_path) -> None:
    base_images, base_labels = load_mnist_numpy(mnist_dir)
    digits = tmp_path / "digits.parquet"
    made = time.monotonic()
    write_synthetic_parquet(spark, base_images, base_labels, N_DIGITS, str(digits), seed=0)
    made_seconds = time.monotonic() - made

    output = tmp_path / "model"
    command = [
        str(REPO_ROOT / ".venv" / "bin" / "spark-submit"),
        "--master",
        "local[2]",
        "--driver-memory",
        DRIVER_MEMORY,
        "--conf",
        f"spark.driver.maxResultSize={MAX_RESULT_SIZE}",
        "--conf",
        "spark.ui.enabled=false",
        str(REPO_ROOT / "jobs" / "train.py"),
        "--input",
        str(digits),
        "--k",
        str(K),
        "--max-iter",
        str(MAX_ITER),
        "--init",
        "random",
        # Every digit trains: the validation split would cost two more passes over the
        # cache without collecting anything new (its gallery is bounded, as the audit found).
        "--validation-fraction",
        "0",
        "--partitions",
        str(PARTITIONS),
        "--run-id",
        "memory-1m",
        "--output",
        str(output),
    ]
    log = tmp_path / "train.log"
    try:
        code, seconds, peaks, jvm_argv = _run_watched(command, log)
    finally:
        shutil.rmtree(digits, ignore_errors=True)  # 233 MB: pytest keeps recent tmp_paths
    figures = {
        "digits": N_DIGITS,
        "make_seconds": round(made_seconds, 1),
        "train_job_seconds": round(seconds, 1),
        "jvm_peak_rss_mib": peaks["jvm"] // 2**20,
        "python_driver_peak_rss_mib": peaks["python_driver"] // 2**20,
    }
    print("memory test:", json.dumps(figures))  # shown with pytest -s; docs/reliability.md
    assert code == 0, log.read_text()[-6000:]

    # The limit really was the one asked for: spark-submit gives it to the JVM as -Xmx.
    assert f"-Xmx{DRIVER_MEMORY}" in jvm_argv, jvm_argv
    assert 0 < peaks["python_driver"] < PYTHON_DRIVER_LIMIT_BYTES, figures

    model = json.loads((output / "model.json").read_text())
    metrics = json.loads((output / "metrics.json").read_text())
    assert model["input"]["train_size"] == N_DIGITS
    assert model["input"]["validation_size"] == 0
    assert model["params"]["partitions"] == PARTITIONS
    assert metrics["iterations"] == MAX_ITER == len(metrics["history"])
    assert metrics["history"][0]["moved"] == N_DIGITS
    assert sum(metrics["cluster_sizes"]) == N_DIGITS
    assert int(np.sum(metrics["label_counts"])) == N_DIGITS  # every made digit is labelled
    centroids = np.load(output / "centroids.npy", allow_pickle=False)
    assert centroids.shape == (K, 784)
    assert np.all(np.isfinite(centroids)) and centroids.min() >= 0 and centroids.max() <= 255
    assert (output / "_SUCCESS").exists()


def test_large_blocks_are_logged_with_the_partitions_to_pass(spark, monkeypatch, caplog) -> None:
    import logging

    from support import blocks_from_arrays

    import kmeans_spark.blocks as blocks_module

    pixels = np.arange(30 * 784).reshape(30, 784).astype(np.uint8)
    monkeypatch.setattr(blocks_module, "LARGE_BLOCK_DIGITS", 10)
    with caplog.at_level(logging.WARNING, logger="kmeans_spark.blocks"):
        blocks_from_arrays(spark, pixels, partitions=2).unpersist()
    assert "30 digits in 2 partitions" in caplog.text
    assert "--partitions 3 or more" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kmeans_spark.blocks"):
        blocks_from_arrays(spark, pixels, partitions=3).unpersist()
    assert "partitions" not in caplog.text
