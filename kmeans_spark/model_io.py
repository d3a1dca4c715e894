"""Reading and writing model folders, atomically, on any Hadoop file system.

A train job's output folder holds:

=================  ==============================================================
file               content
=================  ==============================================================
``model.json``     format version, run id, parameters, centroid labels, input
                   fingerprint
``centroids.npy``  float64 array of shape (k, 784)
``metrics.json``   run id, iterations, convergence, inertia, cluster sizes,
                   ``label_counts`` (the training digits' true labels per cluster,
                   shape (k, 10)), error rates, restarts, history, seconds,
                   ``bad_records`` (when the job gives it: policy, records read
                   and rejected per input)
``confusion.csv``  true label x inferred label counts, per evaluated set
``centroids.png``  the centroids as 28 x 28 images titled with their labels
``rejects/``       ``--on-bad-records skip`` only: the rejected records, JSON
                   lines written by Spark's executors (:mod:`kmeans_spark.rejects`)
``_SUCCESS``       empty; written last: the folder is complete
=================  ==============================================================

The run id is the job's ``--run-id``, else Spark's application id. The folder is
a Hadoop path (``hdfs://``, ``s3a://``, ``file://``, or a plain path on the
default file system) published whole by :func:`~kmeans_spark.storage.publish_dir`:
the files are made in a local temporary folder, copied to a hidden staging
folder beside the target and renamed into place, so a failed run leaves no
half-written output. :func:`load_model` reads a folder back, from any format
version up to :data:`MODEL_FORMAT_VERSION` (folders from before the run id and
``_SUCCESS`` load too), copying its few small files to the driver through Hadoop.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pyspark.sql import SparkSession

from kmeans_spark.errors import InputError
from kmeans_spark.evaluation import Evaluation
from kmeans_spark.experiment import ExperimentResult
from kmeans_spark.figures import centroid_grid, save_figure
from kmeans_spark.readers import paths
from kmeans_spark.runs import run_id_or_application_id
from kmeans_spark.schema import N_CLASSES, N_PIXELS
from kmeans_spark.storage import OutputDir, active_session, fetch_file, hadoop_path, publish_dir

MODEL_FORMAT_VERSION = 1


# The files load_model reads; metrics.json may be missing.
MODEL_FILES = ("model.json", "centroids.npy", "metrics.json")


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


def metrics_record(
    result: ExperimentResult, *, run_id: str, bad_records: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything ``metrics.json`` holds; ``run_id`` names the run that trained the model.

    ``bad_records`` (see :meth:`kmeans_spark.rejects.BadRecords.record`) is
    recorded as it is, under that key, when given.
    """
    model = result.model
    params = result.params
    record: dict[str, Any] = {
        "run_id": run_id,
        "k": int(result.model.centroids.shape[0]),
        "variant": variant_record(result),
        "seed": params.seed,
        "init": params.init_name,
        "n_init": params.n_init,
        "iterations": model.iterations,
        "converged": model.converged,
        "initial_inertia": result.initial_inertia,
        "inertia": model.inertia,
        "cluster_sizes": model.cluster_sizes.tolist(),
        "centroid_labels": result.centroid_labels.tolist(),
        # Per cluster, the training digits' true labels: a cluster's purity is its
        # largest count over its size.
        "label_counts": model.label_counts.tolist(),
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
    if bad_records is not None:
        record["bad_records"] = bad_records
    return record


PLAIN_VARIANT: dict[str, Any] = {"algorithm": "k-means", "preprocess": [], "per_class": False}
"""The ``variant`` of plain k-means of raw pixels (and of models written before variants)."""


def variant_record(result: ExperimentResult) -> dict[str, Any]:
    """``{"algorithm", "preprocess", "per_class"}``: how the model's features and centres are made.

    A ``per_class`` model holds ``k_per_class`` centres for each class, in class
    order (its ``k`` is their total).
    """
    if result.variant is None:
        return dict(PLAIN_VARIANT)
    record = dict(result.variant)
    if record.get("per_class"):
        record["k_per_class"] = result.params.k
    return record


def model_record(
    result: ExperimentResult, sources: dict[str, str | None], *, run_id: str
) -> dict[str, Any]:
    """Everything ``model.json`` holds; ``run_id`` names the run that trained the model."""
    params = result.params
    return {
        "format_version": MODEL_FORMAT_VERSION,
        "run_id": run_id,
        "algorithm": "lloyd",
        "k": int(result.model.centroids.shape[0]),
        "n_features": N_PIXELS,
        "centroid_labels": result.centroid_labels.tolist(),
        "variant": variant_record(result),
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
    folder: Path,
    result: ExperimentResult,
    sources: dict[str, str | None],
    *,
    run_id: str,
    bad_records: dict[str, Any] | None = None,
) -> None:
    """Write a trained model's files into an existing local folder (see the module's table).

    All but ``_SUCCESS``, which :func:`~kmeans_spark.storage.publish_dir` adds,
    and ``rejects/``, which Spark writes. ``bad_records`` goes into ``metrics.json``.
    """
    np.save(folder / "centroids.npy", result.model.centroids)
    _write_json(folder / "model.json", model_record(result, sources, run_id=run_id))
    metrics = metrics_record(result, run_id=run_id, bad_records=bad_records)
    _write_json(folder / "metrics.json", metrics)
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
    *,
    extra: Callable[[Path], object] | None = None,
    spark: SparkSession | None = None,
    run_id: str | None = None,
    bad_records: dict[str, Any] | None = None,
    spark_writes: Callable[[OutputDir], object] | None = None,
) -> str:
    """Write a trained model's folder atomically, ``_SUCCESS`` last; return where.

    Parameters
    ----------
    path : str or path-like
        The folder to create: a Hadoop path, or a local :class:`~pathlib.Path`.
    result : ExperimentResult
    sources : dict of str to str or None
        Where the training and test digits came from, recorded in ``model.json``.
    overwrite : bool
        Replace an existing folder.
    extra : callable, optional
        Called with the local folder the files are made in, once the standard
        files are there: files it writes (a report) are published with the
        model, and should it raise, nothing is.
    spark : SparkSession, optional
        Whose Hadoop configuration reaches ``path``; default: the active session.
    run_id : str, optional
        Recorded in ``model.json`` and ``metrics.json``; default: Spark's
        application id.
    bad_records : dict, optional
        The ``bad_records`` entry of ``metrics.json``
        (:meth:`kmeans_spark.rejects.BadRecords.record`).
    spark_writes : callable, optional
        Called with the :class:`~kmeans_spark.storage.OutputDir` being
        published, for what Spark's executors write straight into its staging
        folder (``output.staging_path(name)``: ``rejects/``); published with
        the model, and should it raise, nothing is.

    Returns
    -------
    str
        The folder written, fully qualified (``file:/...``, ``hdfs://...``).
    """
    session = active_session(spark)
    with publish_dir(session, path, overwrite) as output:
        write_model_files(
            output.local,
            result,
            sources,
            run_id=run_id_or_application_id(session, run_id),
            bad_records=bad_records,
        )
        if extra is not None:
            extra(output.local)
        if spark_writes is not None:
            spark_writes(output)
    return output.target


def load_centroids(
    path: str | os.PathLike[str], k: int | None = None, *, spark: SparkSession | None = None
) -> npt.NDArray[np.float64]:
    """Load a ``(k, 784)`` centroid array from ``.npy`` without unpickling anything.

    Parameters
    ----------
    path : str or path-like
        With ``spark``, a Hadoop path (the file is copied to the driver through
        Hadoop first); without, a file on the local disk.
    k : int, optional
        The number of centroids expected.
    spark : SparkSession, optional

    Raises
    ------
    InputError
        Missing or unreadable file, object arrays, wrong shape, or non-finite
        values; the message names ``path``.
    """
    if spark is None:
        return _read_centroids(Path(path), str(path), k)
    location = hadoop_path(path)
    with tempfile.TemporaryDirectory(prefix="kmeans-spark-centroids-") as copy:
        local = Path(copy) / "centroids.npy"
        if not fetch_file(spark, location, local):
            raise InputError(f"{location}: no such file")
        return _read_centroids(local, location, k)


def _read_centroids(file: Path, shown: str, k: int | None) -> npt.NDArray[np.float64]:
    """:func:`load_centroids` of a local ``file``; messages name ``shown``."""
    try:
        values = np.load(file, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{shown}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{shown}: not a readable .npy array ({exc})") from None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iuf":
        raise InputError(f"{shown}: expected a numeric array")
    if values.ndim != 2 or values.shape[1] != N_PIXELS or (k is not None and values.shape[0] != k):
        expected = f"({k if k is not None else 'k'}, {N_PIXELS})"
        raise InputError(f"{shown}: centroids have shape {values.shape}, expected {expected}")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{shown}: centroids contain NaN or infinite values")
    return values.astype(np.float64)


@dataclass(frozen=True)
class TrainedModel:
    """A model folder read back: what nearest-centroid classification needs, and its records.

    Attributes
    ----------
    path : str
        The model folder as the caller named it: a Hadoop path, or a local path.
    centroids : ndarray of float64, shape (k, 784)
    centroid_labels : ndarray of int64, shape (k,)
        The digit each centroid stands for, ``-1`` for a centroid without one.
    model : dict
        ``model.json`` as written (parameters, input fingerprint); keys added in
        later versions may be missing from older folders.
    metrics : dict or None
        ``metrics.json``, None where the folder has none.
    """

    path: str
    centroids: npt.NDArray[np.float64]
    centroid_labels: npt.NDArray[np.int64]
    model: dict[str, Any]
    metrics: dict[str, Any] | None

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


def _read_json_object(path: Path, shown: str) -> dict[str, Any]:
    """A local JSON file holding one object; InputError naming ``shown`` otherwise."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{shown}: no such file") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{shown}: not valid JSON ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{shown}: cannot read ({exc})") from None
    if not isinstance(record, dict):
        raise InputError(f"{shown}: expected a JSON object, got {type(record).__name__}")
    return record


def _centroid_labels(path: str, record: dict[str, Any]) -> npt.NDArray[np.int64]:
    """``centroid_labels`` of a ``model.json`` record, checked: ints in -1..9."""
    values = record.get("centroid_labels")
    if not isinstance(values, list) or not values:
        raise InputError(f"{path}: 'centroid_labels' must be a non-empty list of labels")
    for index, value in enumerate(values):
        # bool is an int in Python, but not a label.
        if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value < N_CLASSES:
            raise InputError(
                f"{path}: centroid_labels[{index}] is {value!r}, expected -1 (none) or 0..9"
            )
    return np.asarray(values, dtype=np.int64)


def load_model(path: str | os.PathLike[str], *, spark: SparkSession | None = None) -> TrainedModel:
    """Read a model folder written by the train or sweep job.

    Folders of every format version up to :data:`MODEL_FORMAT_VERSION` load,
    including those written before ``model.json`` recorded restarts,
    initialisation options and the run id; only ``centroid_labels`` and
    ``centroids.npy`` are needed, ``metrics.json`` may be missing.

    Parameters
    ----------
    path : str or path-like
        The model folder (``model.json``, ``centroids.npy``, ...). With
        ``spark``, a Hadoop path: its files are copied to a local temporary
        folder through Hadoop and read there; without, a local folder.
    spark : SparkSession, optional

    Returns
    -------
    TrainedModel

    Raises
    ------
    InputError
        The folder is missing, ``model.json`` is missing, not JSON, of a newer
        format, or has invalid ``centroid_labels``; ``centroids.npy`` is missing
        or malformed; the numbers of centroids and labels (and ``k``) disagree;
        ``metrics.json`` exists but is not a JSON object. Messages name ``path``.
    """
    if spark is None:
        folder = Path(path)
        if not folder.exists():
            raise InputError(f"{folder}: no such model folder")
        if not folder.is_dir():
            raise InputError(f"{folder}: not a model folder (expected the train job's --output)")
        return _read_model_folder(folder, str(folder))
    location = hadoop_path(path)
    if not paths.exists(spark, location):
        raise InputError(f"{location}: no such model folder")
    if not paths.is_dir(spark, location):
        raise InputError(f"{location}: not a model folder (expected the train job's --output)")
    with tempfile.TemporaryDirectory(prefix="kmeans-spark-model-") as copy:
        for name in MODEL_FILES:
            fetch_file(spark, paths.join(location, name), Path(copy) / name)
        return _read_model_folder(Path(copy), location)


def _read_model_folder(folder: Path, location: str) -> TrainedModel:
    """:func:`load_model` of the local ``folder``; messages name the folder ``location``."""
    model_path = folder / "model.json"
    model_shown = paths.join(location, "model.json")
    if not model_path.exists():
        raise InputError(f"{location}: no model.json; not a model folder written by the train job")
    record = _read_json_object(model_path, model_shown)
    version = record.get("format_version", MODEL_FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"{model_shown}: invalid format_version {version!r}")
    if version > MODEL_FORMAT_VERSION:
        raise InputError(
            f"{model_shown}: format version {version} is newer than this code reads "
            f"({MODEL_FORMAT_VERSION}); update kmeans_spark"
        )
    labels = _centroid_labels(model_shown, record)
    k = record.get("k", labels.size)
    if k != labels.size:
        raise InputError(f"{model_shown}: k is {k!r} but there are {labels.size} centroid_labels")
    centroids = _read_centroids(
        folder / "centroids.npy", paths.join(location, "centroids.npy"), None
    )
    if centroids.shape[0] != labels.size:
        raise InputError(
            f"{location}: centroids.npy holds {centroids.shape[0]} centroids "
            f"but model.json labels {labels.size}"
        )
    metrics_path = folder / "metrics.json"
    metrics = (
        _read_json_object(metrics_path, paths.join(location, "metrics.json"))
        if metrics_path.exists()
        else None
    )
    return TrainedModel(location, centroids, labels, record, metrics)
