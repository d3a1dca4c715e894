"""The packaged train job on a real standalone cluster gives the model of local mode, bit for bit.

A master and two one-core workers run on 127.0.0.1; the job is submitted exactly
as the README's cluster instructions say (``make package``, then ``spark-submit
--master spark://... --py-files dist/kmeans_spark.zip --files conf/train.toml
jobs/train.py --config train.toml ...``), with an interpreter that has numpy and
pyspark but not kmeans_spark, so the package can only come from the zip. A second
job loses a worker (SIGKILL to it and its executor) in the middle of training and
still ends with the same model; so does a k-means++ job that loses a worker
during its initialisation (the worker is restarted for it). Every initialisation
method gives local mode's model on the cluster: random and k-means|| without a
fault, k-means|| and k-means++ also with one.
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
INIT_OPTIONS = {
    "k-means||": TRAIN_OPTIONS,
    # The other methods' jobs check the initialisation and a few Lloyd passes.
    "k-means++": ["--k", "10", "--seed", "3", "--init", "k-means++", "--max-iter", "5"],
    "random": ["--k", "10", "--seed", "3", "--init", "random", "--max-iter", "5"],
}
KILL_AFTER_PASSES = 3
KILL_AFTER_INIT_PASSES = 3
"""k-means++ with k = 10 makes 11 passes: the worker dies with 8 still to go."""
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


Model = tuple[bytes, dict[str, object], dict[str, object]]


@dataclass(frozen=True)
class Setup:
    """What the tests share: the package, the bare interpreter, local mode's models, a cluster."""

    root: Path
    python: Path
    package: Path
    local_models: dict[str, Model]
    cluster: StandaloneCluster

    @property
    def local_model(self) -> Model:
        """Local mode's model of :data:`TRAIN_OPTIONS`."""
        return self.local_models["k-means||"]


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
    local_models = {}
    for method, options in INIT_OPTIONS.items():
        local_output = root / f"local-{method}"
        local_argv = ["--config", str(REPO_ROOT / "conf" / "train.toml")]
        local_argv += ["--input", str(mnist_dir), *options, *PARTITIONS]
        assert train_main([*local_argv, "--output", str(local_output)]) == EXIT_OK
        local_models[method] = model_of(local_output)
    with standalone_cluster(root / "cluster-work", workers=2) as cluster:
        yield Setup(root, python, package, local_models, cluster)


def submit(
    setup: Setup, mnist_dir: Path, output: Path, options: list[str] = TRAIN_OPTIONS
) -> subprocess.Popen[str]:
    """The README's cluster command for the train job, started in the background."""
    command = [str(SPARK_SUBMIT), "--master", setup.cluster.master_url]
    command += ["--total-executor-cores", "2", "--executor-memory", "1g"]
    command += ["--py-files", str(setup.package)]
    command += ["--files", str(REPO_ROOT / "conf" / "train.toml")]
    command += [str(REPO_ROOT / "jobs" / "train.py"), "--config", "train.toml"]
    command += ["--input", str(mnist_dir), *options, *PARTITIONS, "--output", str(output)]
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
# k-means++ is compared with local mode by the test that loses a worker during its
# initialisation: one cluster job fewer, and a stronger check.
@pytest.mark.parametrize("method", ["random", "k-means||"])
def test_packaged_train_job_on_standalone_cluster_equals_local_mode(
    setup: Setup, mnist_dir: Path, method: str
) -> None:
    output = setup.root / f"cluster-{method}"
    before = {app["id"] for app in setup.cluster.state()["completedapps"]}  # type: ignore[attr-defined]
    finished(setup, submit(setup, mnist_dir, output, INIT_OPTIONS[method]))
    # The job really ran on the cluster, with executors on both workers.
    (application,) = [
        app
        for app in setup.cluster.state()["completedapps"]  # type: ignore[attr-defined]
        if app["id"] not in before
    ]
    assert executors_by_worker(setup, application["id"]) == ["worker-0", "worker-1"]
    assert (output / "_SUCCESS").exists()
    cluster_model = model_of(output)
    local_model = setup.local_models[method]
    assert cluster_model[0] == local_model[0], f"{method}: centroids differ from local mode's"
    assert cluster_model[1] == local_model[1]
    assert cluster_model[2] == local_model[2]


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


@pytest.mark.slow
def test_a_worker_killed_during_initialisation_changes_nothing(
    setup: Setup, mnist_dir: Path
) -> None:
    # After the test above, worker 1 is dead: bring it back, so that there is one to lose.
    if setup.cluster.alive_workers() < 2:
        setup.cluster.restart_worker(1)
    output = setup.root / "worker-lost-in-init"
    started = time.time()
    process = submit(setup, mnist_dir, output, INIT_OPTIONS["k-means++"])
    deadline = time.monotonic() + 300
    # The kept D^2 of init pass N lies in pass-N-part-*.pkl on the executors; the
    # Lloyd passes that follow count from 1 again and stop at 5.
    while latest_kept_pass(setup.root / "cluster-work", started) < KILL_AFTER_INIT_PASSES:
        assert process.poll() is None, "the job ended before the worker could be killed"
        assert time.monotonic() < deadline, "initialisation did not get going in time"
        time.sleep(0.05)
    setup.cluster.kill_worker(1)
    stderr = finished(setup, process)
    assert setup.cluster.alive_workers() == 1
    assert "the state rebuilt" in stderr, stderr[-3000:]
    lost = model_of(output)
    local_model = setup.local_models["k-means++"]
    assert lost[0] == local_model[0], "centroids differ after losing a worker in k-means++"
    assert lost[1] == local_model[1]
    assert lost[2] == local_model[2]


def latest_kept_pass(work_dir: Path, since: float) -> int:
    """The highest pass number of the state files executors wrote since ``since`` (0: none).

    Older files are left over by the executor killed in an earlier test.
    """
    numbers = [0]
    for path in work_dir.rglob("pass-*-part-*.pkl"):
        try:
            if path.stat().st_mtime >= since:
                numbers.append(int(path.name.split("-")[1]))
        except (OSError, IndexError, ValueError):
            continue  # removed by its pass's successor while we looked
    return max(numbers)


def passes_done(checkpoint_file: Path) -> int:
    """Lloyd passes the job has checkpointed so far (0 before the first)."""
    try:
        return int(read_manifest(checkpoint_file.read_bytes())["passes"])
    except (OSError, ValueError, KeyError):
        return 0
