"""Checkpoint and resume: a killed training goes on from its checkpoint to the same model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays

from kmeans_spark.checkpoint import (
    CHECKPOINT_FILE,
    HISTORY_DIR,
    Checkpoint,
    checkpoint_dir_for,
    decode_state,
    encode_state,
    read_history,
    read_manifest,
)
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError
from kmeans_spark.jobs.train import main
from kmeans_spark.lloyd import BatchState, LloydResult, fit_lloyd_batch

REPO = Path(__file__).resolve().parents[1]


def _noisy_digits(seed: int = 5, n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.integers(30, 220, (6, 784))
    pixels = centers[rng.integers(0, 6, n)] + rng.normal(0, 160, (n, 784))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _without_timings(history: list[Any]) -> list[tuple[Any, ...]]:
    return [(s.iteration, s.moved, s.max_shift, s.inertia, s.empty_clusters) for s in history]


def _assert_same_model(left: LloydResult, right: LloydResult) -> None:
    assert left.centroids.tobytes() == right.centroids.tobytes()
    assert (left.iterations, left.converged, left.inertia) == (
        right.iterations,
        right.converged,
        right.inertia,
    )
    assert_array_equal(left.cluster_sizes, right.cluster_sizes)
    assert_array_equal(left.label_counts, right.label_counts)
    assert _without_timings(left.history) == _without_timings(right.history)


def test_a_batch_resumed_after_any_pass_ends_as_the_uninterrupted_one(spark) -> None:
    pixels = _noisy_digits()
    labels = np.arange(len(pixels)) % 10
    blocks = blocks_from_arrays(spark, pixels, labels, partitions=3)
    rng = np.random.default_rng(3)
    # Three models that stop after different passes, so later passes leave some out.
    initial = [pixels[rng.choice(len(pixels), k, replace=False)].astype(float) for k in (2, 5, 9)]
    states: list[BatchState] = []
    reference = fit_lloyd_batch(blocks, initial, on_pass=states.append)
    assert [s.passes for s in states] == list(range(1, len(states) + 1))
    assert len({r.iterations for r in reference}) > 1, "the models should stop apart"
    # The state goes through the checkpoint file's encoding, as a resumed job reads it.
    identity = {"what": "test"}
    for state in (states[0], states[len(states) // 2], states[-1]):
        decoded = decode_state(encode_state(state, identity), identity, "test")
        resumed = fit_lloyd_batch(blocks, initial, resume=decoded)
        for left, right in zip(resumed, reference, strict=True):
            _assert_same_model(left, right)


def test_a_checkpoint_of_other_params_is_refused(spark, tmp_path) -> None:
    pixels = _noisy_digits(n=60)
    blocks = blocks_from_arrays(spark, pixels)
    states: list[BatchState] = []
    fit_lloyd_batch(blocks, [pixels[:3].astype(float)], max_iter=2, on_pass=states.append)
    checkpoint = Checkpoint(spark, str(tmp_path / ".model.checkpoint"))
    assert checkpoint.load({"seed": 1}) is None
    checkpoint.save(states[-1], {"seed": 1})
    assert checkpoint.load({"seed": 1}) is not None
    with pytest.raises(UsageError, match=r"another training.*seed"):
        checkpoint.load({"seed": 2})
    with pytest.raises(UsageError, match="holds 1 models"):
        fit_lloyd_batch(blocks, [pixels[:3].astype(float)] * 2, resume=states[-1])
    checkpoint.remove()
    assert not (tmp_path / ".model.checkpoint").exists()


def test_every_pass_leaves_its_centroids_in_the_history(spark, tmp_path) -> None:
    pixels = _noisy_digits(n=120)
    blocks = blocks_from_arrays(spark, pixels, partitions=2)
    initial = [pixels[:3].astype(float), pixels[3:8].astype(float)]
    checkpoint = Checkpoint(spark, str(tmp_path / ".model.checkpoint"))
    final = fit_lloyd_batch(
        blocks, initial, max_iter=4, on_pass=lambda state: checkpoint.save(state, {"x": 1})
    )
    history = read_history(tmp_path / ".model.checkpoint" / HISTORY_DIR)
    # Stopped by max_iter, the models join one more pass for their final counts.
    passes = max(model.iterations for model in final) + 1
    assert sorted(history) == list(range(1, passes + 1))
    # After pass i, a model holds the centroids that i iterations alone give it.
    for i in range(1, 4):
        alone = fit_lloyd_batch(blocks, initial, max_iter=i)
        for recorded, model in zip(history[i], alone, strict=True):
            assert recorded.tobytes() == model.centroids.tobytes(), f"pass {i}"
    for recorded, model in zip(history[passes], final, strict=True):
        assert recorded.tobytes() == model.centroids.tobytes()
    (tmp_path / ".model.checkpoint" / HISTORY_DIR / "pass-999999.npz").write_bytes(b"junk")
    with pytest.raises(UsageError, match="not a readable history record"):
        read_history(tmp_path / ".model.checkpoint" / HISTORY_DIR)


def test_checkpoint_folder_is_hidden_beside_the_output() -> None:
    assert checkpoint_dir_for("file:/data/runs/model") == "file:/data/runs/.model.checkpoint"
    assert checkpoint_dir_for("hdfs://nn:8020/m/") == "hdfs://nn:8020/.m.checkpoint"


def _train_args(mnist_dir: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--input",
        str(mnist_dir),
        "--k",
        "16",
        "--seed",
        "1",
        "--run-id",
        "checkpoint-test",
        # 40 of the 96 iterations to convergence: enough to kill at 10, and quick.
        "--max-iter",
        "40",
        "--output",
        str(output),
        *extra,
    ]


def _spark_submit(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    python = str(REPO / ".venv" / "bin" / "python")
    env = {
        **os.environ,
        "SPARK_CONF_DIR": str(REPO / "conf"),
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
    }
    spark_submit = REPO / ".venv" / "bin" / "spark-submit"
    with log.open("wb") as handle:
        # Its own process group: killing it kills the JVM and the Python driver together.
        return subprocess.Popen(
            [str(spark_submit), str(REPO / "jobs" / "train.py"), *args],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _checkpointed_passes(checkpoint_file: Path) -> int:
    try:
        return int(read_manifest(checkpoint_file.read_bytes())["passes"])
    except (FileNotFoundError, ValueError, KeyError, OSError):
        return 0


def _comparable(value: Any) -> Any:
    """A model file's JSON without what differs between runs: timings."""
    if isinstance(value, dict):
        return {
            k: _comparable(v) for k, v in value.items() if "seconds" not in k and k != "timings"
        }
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


@pytest.mark.slow
@pytest.mark.skipif(
    not (REPO / ".venv" / "bin" / "spark-submit").exists(), reason="needs spark-submit"
)
def test_a_killed_spark_submit_resumes_to_the_uninterrupted_model(
    spark, mnist_dir, tmp_path
) -> None:
    killed_output = tmp_path / "killed"
    checkpoint_file = tmp_path / ".killed.checkpoint" / CHECKPOINT_FILE
    process = _spark_submit(_train_args(mnist_dir, killed_output), tmp_path / "killed.log")
    deadline = time.monotonic() + 240
    try:
        while _checkpointed_passes(checkpoint_file) < 10:
            assert process.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint of 10 passes in time"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    killed_at = _checkpointed_passes(checkpoint_file)
    assert not killed_output.exists()
    # Every pass up to the kill left its centroids; the last ones are the checkpoint's.
    history = read_history(checkpoint_file.parent / HISTORY_DIR)
    assert set(range(1, killed_at + 1)) <= set(history)
    with np.load(checkpoint_file, allow_pickle=False) as stored:
        checkpointed = stored["current_0"]
    assert history[killed_at][0].tobytes() == checkpointed.tobytes()

    # Another training's checkpoint is refused, and left alone.
    refused = main(_train_args(mnist_dir, killed_output, "--resume", "--tol", "0.5"))
    assert refused == EXIT_BAD_INPUT
    assert _checkpointed_passes(checkpoint_file) == killed_at

    resumed = _spark_submit(
        _train_args(mnist_dir, killed_output, "--resume"), tmp_path / "resumed.log"
    )
    assert resumed.wait(timeout=300) == 0, (tmp_path / "resumed.log").read_text()[-3000:]
    assert f"resumed after pass {killed_at}" in (tmp_path / "resumed.log").read_text()
    assert not checkpoint_file.parent.exists()

    reference_output = tmp_path / "reference"
    assert main(_train_args(mnist_dir, reference_output)) == EXIT_OK
    assert not (tmp_path / ".reference.checkpoint").exists()
    for name in ("centroids.npy", "confusion.csv"):
        assert (killed_output / name).read_bytes() == (reference_output / name).read_bytes()
    for name in ("model.json", "metrics.json"):
        left = json.loads((killed_output / name).read_text())
        right = json.loads((reference_output / name).read_text())
        assert _comparable(left) == _comparable(right), name
    metrics = json.loads((reference_output / "metrics.json").read_text())
    print(
        f"killed after pass {killed_at}; {metrics['iterations']} iterations",
        file=sys.stderr,
    )
