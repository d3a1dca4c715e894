"""The packaged train job on a real standalone cluster gives the model of local mode, bit for bit.

A master and two one-core workers run on 127.0.0.1; the job is submitted exactly
as the README's cluster instructions say (``make package``, then ``spark-submit
--master spark://... --py-files dist/kmeans_spark.zip --files conf/train.toml
jobs/train.py --config train.toml ...``), with an interpreter that has numpy and
pyspark but not kmeans_spark, so the package can only come from the zip. A second
job loses a worker (SIGKILL to it and its executor) in the middle of training and
still ends with the same model.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cluster_support import (
    SPARK_SUBMIT,
    StandaloneCluster,
    bare_python,
    cluster_env,
    standalone_cluster,
)
from conftest import REPO_ROOT

from kmeans_spark.checkpoint import CHECKPOINT_FILE, read_manifest
from kmeans_spark.errors import EXIT_OK
from kmeans_spark.jobs.train import main as train_main

# Few iterations keep the test short; the comparison is exact, so any difference shows.
TRAIN_OPTIONS = ["--k", "10", "--seed", "3", "--init", "k-means||", "--max-iter", "16"]
KILL_AFTER_PASSES = 3
PARTITIONS = ["--partitions", "4"]
# Keys of metrics.json that describe the model (not the run: timings, run id, ...).
MODEL_METRICS = (
    "k",
    "seed",
    "iterations",
    "converged",
    "initial_inertia",
    "inertia",
    "cluster_sizes",
    "centroid_labels",
    "label_counts",
    "validation",
    "test",
    "restarts",
)


def build_package(dist: Path) -> Path:
    """``make package`` into ``dist``; the zip for ``--py-files``."""
    subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "package", f"DIST={dist}"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    return dist / "kmeans_spark.zip"


def model_of(folder: Path) -> tuple[bytes, dict[str, object], dict[str, object]]:
    """Centroid bytes, centroid labels and the model-describing metrics of a model folder."""
    metrics = json.loads((folder / "metrics.json").read_text())
    model = json.loads((folder / "model.json").read_text())
    centroids = np.load(folder / "centroids.npy", allow_pickle=False)
    described = {key: metrics.get(key) for key in MODEL_METRICS}
    return centroids.tobytes(), {"labels": model["centroid_labels"]}, described


@dataclass(frozen=True)
class Setup:
    """What both tests share: the package, the bare interpreter, local mode's model, a cluster."""

    root: Path
    python: Path
    package: Path
    local_model: tuple[bytes, dict[str, object], dict[str, object]]
    cluster: StandaloneCluster


@pytest.fixture(scope="module")
def setup(
    spark: object, mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("standalone")
    python = bare_python(root / "bare-venv")
    no_package = subprocess.run(
        [str(python), "-c", "import numpy, pyspark, kmeans_spark"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert "No module named 'kmeans_spark'" in no_package.stderr
    package = build_package(root / "dist")
    local_output = root / "local"
    local_argv = ["--config", str(REPO_ROOT / "conf" / "train.toml"), "--input", str(mnist_dir)]
    local_argv += [*TRAIN_OPTIONS, *PARTITIONS, "--output", str(local_output)]
    assert train_main(local_argv) == EXIT_OK
    with standalone_cluster(root / "cluster-work", workers=2) as cluster:
        yield Setup(root, python, package, model_of(local_output), cluster)


def submit(setup: Setup, mnist_dir: Path, output: Path) -> subprocess.Popen[str]:
    """The README's cluster command for the train job, started in the background."""
    command = [str(SPARK_SUBMIT), "--master", setup.cluster.master_url]
    command += ["--total-executor-cores", "2", "--executor-memory", "1g"]
    command += ["--py-files", str(setup.package)]
    command += ["--files", str(REPO_ROOT / "conf" / "train.toml")]
    command += [str(REPO_ROOT / "jobs" / "train.py"), "--config", "train.toml"]
    command += ["--input", str(mnist_dir), *TRAIN_OPTIONS, *PARTITIONS, "--output", str(output)]
    env = cluster_env(
        SPARK_CONF_DIR=str(REPO_ROOT / "conf"),
        PYSPARK_PYTHON=str(setup.python),
        PYSPARK_DRIVER_PYTHON=str(setup.python),
    )
    # Run from a folder without Python files: nothing importable in the working directory.
    return subprocess.Popen(
        command,
        cwd=setup.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(setup: Setup, process: subprocess.Popen[str]) -> str:
    """Wait for a submitted job; its stderr. Fails with the job's and the daemons' logs."""
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == EXIT_OK, (
        f"spark-submit failed ({process.returncode}):\n{stdout}\n{stderr[-4000:]}\n"
        + setup.cluster.log_tails()
    )
    return stderr


def executors_by_worker(setup: Setup, app_id: str) -> list[str]:
    """The workers that ran executors of an application (one folder per executor)."""
    executors = (setup.root / "cluster-work").glob(f"worker-*/{app_id}/*")
    return sorted({path.parents[1].name for path in executors})


@pytest.mark.slow
def test_packaged_train_job_on_standalone_cluster_equals_local_mode(
    setup: Setup, mnist_dir: Path
) -> None:
    output = setup.root / "cluster"
    finished(setup, submit(setup, mnist_dir, output))
    # The job really ran on the cluster, with executors on both workers.
    (application,) = setup.cluster.state()["completedapps"]  # type: ignore[misc]
    assert executors_by_worker(setup, application["id"]) == ["worker-0", "worker-1"]
    assert (output / "_SUCCESS").exists()
    cluster_model = model_of(output)
    assert cluster_model[0] == setup.local_model[0], "centroids differ from local mode's"
    assert cluster_model[1] == setup.local_model[1]
    assert cluster_model[2] == setup.local_model[2]


@pytest.mark.slow
def test_a_worker_killed_mid_training_changes_nothing(setup: Setup, mnist_dir: Path) -> None:
    output = setup.root / "worker-lost"
    checkpoint_file = setup.root / ".worker-lost.checkpoint" / CHECKPOINT_FILE
    process = submit(setup, mnist_dir, output)
    deadline = time.monotonic() + 300
    while passes_done(checkpoint_file) < KILL_AFTER_PASSES:
        assert process.poll() is None, "the job ended before the worker could be killed"
        assert time.monotonic() < deadline, "training did not get going in time"
        time.sleep(0.2)
    # The worker and the executor it launched (same process group) die at once, as a
    # machine does: its cached blocks, local block copies and kept state are gone.
    setup.cluster.kill_worker(1)
    stderr = finished(setup, process)
    assert setup.cluster.alive_workers() == 1
    assert "executor lost?" in stderr or "no local copy" in stderr, stderr[-3000:]
    lost = model_of(output)
    assert lost[0] == setup.local_model[0], "centroids differ after losing a worker"
    assert lost[1] == setup.local_model[1]
    assert lost[2] == setup.local_model[2]


def passes_done(checkpoint_file: Path) -> int:
    """Lloyd passes the job has checkpointed so far (0 before the first)."""
    try:
        return int(read_manifest(checkpoint_file.read_bytes())["passes"])
    except (OSError, ValueError, KeyError):
        return 0
