"""Reading and writing model folders, atomically.

A train job's output folder holds:

=================  ==============================================================
file               content
=================  ==============================================================
``model.json``     format version, parameters, centroid labels, input fingerprint
``centroids.npy``  float64 array of shape (k, 784)
``metrics.json``   iterations, convergence, inertia, error rates, restarts, history, seconds
``confusion.csv``  true label x inferred label counts, per evaluated set
``centroids.png``  the centroids as 28 x 28 images titled with their labels
=================  ==============================================================

Everything is written to a hidden temporary folder beside the target and renamed
into place at the end, so a failed run leaves no half-written output.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.errors import InputError, UsageError
from kmeans_spark.evaluation import Evaluation
from kmeans_spark.experiment import ExperimentResult
from kmeans_spark.figures import centroid_grid, save_figure
from kmeans_spark.schema import N_CLASSES, N_PIXELS

MODEL_FORMAT_VERSION = 1


def check_output_dir(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Fail early, before any work, when the output folder exists and may not be replaced."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise UsageError(f"output folder {target} exists: pass --overwrite to replace it")
    if target.exists() and not target.is_dir():
        raise UsageError(f"output path {target} exists and is not a folder")
    return target


@contextmanager
def atomic_output_dir(path: str | os.PathLike[str], overwrite: bool) -> Iterator[Path]:
    """A temporary folder that becomes ``path`` when the block completes without error.

    Yields
    ------
    Path
        The temporary folder to write into; removed if the block raises.
    """
    target = check_output_dir(path, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, retired / target.name)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluation_record(evaluation: Evaluation) -> dict[str, Any]:
    """The JSON form of an :class:`Evaluation`."""
    return {
        "error_rate": _finite_or_none(evaluation.error_rate),
        "size": evaluation.size,
        "errors": evaluation.errors,
        "unlabelled": evaluation.unlabelled,
        "cluster_sizes": evaluation.cluster_sizes.tolist(),
    }


def spread(values: list[float | None]) -> dict[str, float | None]:
    """Smallest, largest, mean and (population) standard deviation of the finite values."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"min": None, "max": None, "mean": None, "std": None}
    array = np.asarray(finite, dtype=np.float64)
    return {
        "min": float(array.min()),
        "max": float(array.max()),
        "mean": float(array.mean()),
        "std": float(array.std()),
    }


def restarts_record(result: ExperimentResult) -> dict[str, Any]:
    """The restarts of a k and their spread."""
    return {
        "restarts": [restart.as_dict() for restart in result.restarts],
        "spread": {
            "inertia": spread([r.inertia for r in result.restarts]),
            "validation_error_rate": spread([r.validation_error_rate for r in result.restarts]),
            "test_error_rate": spread([r.test_error_rate for r in result.restarts]),
        },
    }


def metrics_record(result: ExperimentResult) -> dict[str, Any]:
    """Everything ``metrics.json`` holds."""
    model = result.model
    params = result.params
    record: dict[str, Any] = {
        "k": params.k,
        "seed": params.seed,
        "init": params.init_name,
        "n_init": params.n_init,
        "iterations": model.iterations,
        "converged": model.converged,
        "initial_inertia": result.initial_inertia,
        "inertia": model.inertia,
        "cluster_sizes": model.cluster_sizes.tolist(),
        "centroid_labels": result.centroid_labels.tolist(),
        "train": {"size": result.data.train_size},
    }
    if result.validation is not None:
        record["validation"] = evaluation_record(result.validation)
    if result.test is not None:
        record["test"] = evaluation_record(result.test)
    record.update(restarts_record(result))
    record["history"] = [stats.as_dict() for stats in model.history]
    record["seconds"] = result.seconds["total"]
    record["timings"] = result.seconds
    return record


def model_record(result: ExperimentResult, sources: dict[str, str | None]) -> dict[str, Any]:
    """Everything ``model.json`` holds."""
    params = result.params
    return {
        "format_version": MODEL_FORMAT_VERSION,
        "algorithm": "lloyd",
        "k": params.k,
        "n_features": N_PIXELS,
        "centroid_labels": result.centroid_labels.tolist(),
        "params": {
            "seed": params.seed,
            "max_iter": params.max_iter,
            "tol": params.tol,
            "empty_cluster": params.empty_cluster,
            "validation_fraction": params.validation_fraction,
            "split": params.split,
            "partitions": params.partitions,
            "init": params.init_name,
            "n_init": params.n_init,
            "init_trials": params.init_trials,
            "init_oversampling": params.init_oversampling,
            "init_steps": params.init_steps,
            "restart_seed": next((r.seed for r in result.restarts if r.kept), params.seed),
        },
        "input": {
            **sources,
            "fingerprint": result.data.fingerprint,
            "test_fingerprint": result.data.test_fingerprint,
            "train_size": result.data.train_size,
            "validation_size": result.data.validation_size,
            "test_size": result.data.test_size,
        },
    }


def write_confusion_csv(path: Path, evaluations: dict[str, Evaluation]) -> None:
    """One row per (set, true label); columns are the inferred labels, ``none`` for unlabelled."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["set", "true_label", *map(str, range(N_CLASSES)), "none"])
        for name, evaluation in evaluations.items():
            for true_label, row in enumerate(evaluation.confusion.tolist()):
                writer.writerow([name, true_label, *row])


def _write_json(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")


def write_model_files(
    folder: Path, result: ExperimentResult, sources: dict[str, str | None]
) -> None:
    """Write a trained model's files into an existing folder (see the module's table)."""
    np.save(folder / "centroids.npy", result.model.centroids)
    _write_json(folder / "model.json", model_record(result, sources))
    _write_json(folder / "metrics.json", metrics_record(result))
    evaluations = {
        name: evaluation
        for name, evaluation in (("validation", result.validation), ("test", result.test))
        if evaluation is not None
    }
    write_confusion_csv(folder / "confusion.csv", evaluations)
    figure = centroid_grid(
        result.model.centroids, result.centroid_labels, result.model.cluster_sizes
    )
    save_figure(figure, folder / "centroids.png")


def write_model(
    path: str | os.PathLike[str],
    result: ExperimentResult,
    sources: dict[str, str | None],
    overwrite: bool = False,
) -> Path:
    """Write a trained model's folder atomically; return its path."""
    with atomic_output_dir(path, overwrite) as staging:
        write_model_files(staging, result, sources)
    return Path(path)


def load_centroids(path: str | os.PathLike[str], k: int | None = None) -> npt.NDArray[np.float64]:
    """Load a ``(k, 784)`` centroid array from ``.npy`` without unpickling anything.

    Raises
    ------
    InputError
        Missing or unreadable file, object arrays, wrong shape, or non-finite values.
    """
    try:
        values = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iuf":
        raise InputError(f"{path}: expected a numeric array")
    if values.ndim != 2 or values.shape[1] != N_PIXELS or (k is not None and values.shape[0] != k):
        expected = f"({k if k is not None else 'k'}, {N_PIXELS})"
        raise InputError(f"{path}: centroids have shape {values.shape}, expected {expected}")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{path}: centroids contain NaN or infinite values")
    return values.astype(np.float64)
