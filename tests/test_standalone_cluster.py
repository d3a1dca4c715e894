"""The packaged train job on a real standalone cluster gives the model of local mode, bit for bit.

A master and two one-core workers run on 127.0.0.1; the job is submitted exactly
as the README's cluster instructions say (``make package``, then ``spark-submit
--master spark://... --py-files dist/kmeans_spark.zip --files conf/train.toml
jobs/train.py --config train.toml ...``), with an interpreter that has numpy and
pyspark but not kmeans_spark, so the package can only come from the zip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cluster_support import (
    SPARK_SUBMIT,
    bare_python,
    cluster_env,
    standalone_cluster,
)
from conftest import REPO_ROOT

from kmeans_spark.errors import EXIT_OK
from kmeans_spark.jobs.train import main as train_main

# Few iterations keep the test short; the comparison is exact, so any difference shows.
TRAIN_OPTIONS = ["--k", "10", "--seed", "3", "--init", "k-means||", "--max-iter", "8"]
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


@pytest.mark.slow
def test_packaged_train_job_on_standalone_cluster_equals_local_mode(
    spark: object, mnist_dir: Path, tmp_path: Path
) -> None:
    python = bare_python(tmp_path / "bare-venv")
    no_package = subprocess.run(
        [str(python), "-c", "import numpy, pyspark, kmeans_spark"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "No module named 'kmeans_spark'" in no_package.stderr
    package = build_package(tmp_path / "dist")

    local_output = tmp_path / "local"
    local_argv = ["--config", str(REPO_ROOT / "conf" / "train.toml"), "--input", str(mnist_dir)]
    local_argv += [*TRAIN_OPTIONS, *PARTITIONS, "--output", str(local_output)]
    assert train_main(local_argv) == EXIT_OK

    cluster_output = tmp_path / "cluster"
    with standalone_cluster(tmp_path / "cluster-work", workers=2) as cluster:
        command = [str(SPARK_SUBMIT), "--master", cluster.master_url]
        command += ["--total-executor-cores", "2", "--executor-memory", "1g"]
        command += ["--py-files", str(package), "--files", str(REPO_ROOT / "conf" / "train.toml")]
        command += [str(REPO_ROOT / "jobs" / "train.py"), "--config", "train.toml"]
        command += ["--input", str(mnist_dir), *TRAIN_OPTIONS, *PARTITIONS]
        command += ["--output", str(cluster_output)]
        env = cluster_env(
            SPARK_CONF_DIR=str(REPO_ROOT / "conf"),
            PYSPARK_PYTHON=str(python),
            PYSPARK_DRIVER_PYTHON=str(python),
        )
        # Run from an empty folder: nothing importable lies in the working directory.
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        state = cluster.state()
        assert run.returncode == EXIT_OK, (
            f"spark-submit failed ({run.returncode}):\n{run.stdout}\n{run.stderr[-4000:]}\n"
            + cluster.log_tails()
        )

    # The job really ran on the cluster: one finished application, executors on both workers.
    applications = state["completedapps"] + state["activeapps"]  # type: ignore[operator]
    assert len(applications) == 1
    # A worker keeps one folder per executor it ran: <work-dir>/<app id>/<executor id>.
    executors = list((tmp_path / "cluster-work").glob("worker-*/app-*/*"))
    assert sorted({path.parents[1].name for path in executors}) == ["worker-0", "worker-1"]

    assert (cluster_output / "_SUCCESS").exists()
    local_model = model_of(local_output)
    cluster_model = model_of(cluster_output)
    assert cluster_model[0] == local_model[0], "centroids differ between cluster and local mode"
    assert cluster_model[1] == local_model[1]
    assert cluster_model[2] == local_model[2]
