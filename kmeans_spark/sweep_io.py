"""Writing a sweep's output folder, atomically, on any Hadoop file system.

A sweep job's output folder holds:

===================  ===========================================================
file                 content
===================  ===========================================================
``sweep.json``       run id; per k: error rates, inertia, iterations, restarts;
                     seconds; ``bad_records`` when the job gives it (as in
                     every k's ``metrics.json``)
``sweep.csv``        the same per k, one row each
``k<K>/``            the kept model of each k, as the train job writes it (with
                     its own ``_SUCCESS``: each loads alone)
``error_by_k.png``   error rate by number of clusters: all k, and k = 5..24
``rejects/``         ``--on-bad-records skip`` only: the rejected records, JSON
                     lines written by Spark (:mod:`kmeans_spark.rejects`); once
                     for the sweep, not in the k folders
``_SUCCESS``         empty; written last: the folder is complete
===================  ===========================================================

The k folders are published with the sweep, by one rename of its staging folder
(see :func:`~kmeans_spark.storage.publish_dir`).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from kmeans_spark.experiment import ExperimentResult, SweepResult
from kmeans_spark.figures import error_by_k_plot, save_figure
from kmeans_spark.model_io import restarts_record, variant_record, write_model_files
from kmeans_spark.runs import run_id_or_application_id
from kmeans_spark.storage import OutputDir, active_session, publish_dir

CSV_COLUMNS = (
    "k",
    "validation_error_rate",
    "test_error_rate",
    "inertia",
    "initial_inertia",
    "iterations",
    "converged",
    "restarts",
    "inertia_min",
    "inertia_max",
    "validation_error_rate_min",
    "validation_error_rate_max",
    "model",
)


def model_folder_name(k: int) -> str:
    """The folder of the kept model of ``k`` inside a sweep's output."""
    return f"k{k}"


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _error_rate(result: ExperimentResult, name: str) -> float | None:
    evaluation = getattr(result, name)
    return None if evaluation is None else _finite_or_none(evaluation.error_rate)


def result_record(result: ExperimentResult) -> dict[str, Any]:
    """One entry of ``sweep.json``'s ``results``."""
    model = result.model
    return {
        "k": result.params.k,
        "validation_error_rate": _error_rate(result, "validation"),
        "test_error_rate": _error_rate(result, "test"),
        "inertia": model.inertia,
        "initial_inertia": _finite_or_none(result.initial_inertia),
        "iterations": model.iterations,
        "converged": model.converged,
        **restarts_record(result),
        "model": model_folder_name(result.params.k),
    }


def sweep_record(
    result: SweepResult,
    sources: dict[str, str | None],
    *,
    run_id: str,
    bad_records: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything ``sweep.json`` holds; ``run_id`` names the run that trained the models.

    ``bad_records`` (see :meth:`kmeans_spark.rejects.BadRecords.record`) is
    recorded as it is, under that key, when given.
    """
    first = result.experiments[0]
    params = first.params
    data = first.data
    record: dict[str, Any] = {
        "run_id": run_id,
        "results": [result_record(experiment) for experiment in result.experiments],
        "seconds": result.seconds["total"],
        "timings": result.seconds,
        "passes": result.passes,
        "variant": variant_record(first),
        "params": {
            "ks": [experiment.params.k for experiment in result.experiments],
            "seed": params.seed,
            "init": params.init_name,
            "n_init": params.n_init,
            "init_trials": params.init_trials,
            "init_oversampling": params.init_oversampling,
            "init_steps": params.init_steps,
            "max_iter": params.max_iter,
            "tol": params.tol,
            "empty_cluster": params.empty_cluster,
            "validation_fraction": params.validation_fraction,
            "split": params.split,
            "partitions": params.partitions,
        },
        "input": {
            **sources,
            "fingerprint": data.fingerprint,
            "test_fingerprint": data.test_fingerprint,
            "train_size": data.train_size,
            "validation_size": data.validation_size,
            "test_size": data.test_size,
        },
    }
    if bad_records is not None:
        record["bad_records"] = bad_records
    return record


def write_sweep_csv(path: Path, records: list[dict[str, Any]]) -> None:
    """``sweep.csv``: one row per k (empty cells where a value is missing)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for record in records:
            spread = record["spread"]
            row = {
                **record,
                "restarts": len(record["restarts"]),
                "inertia_min": spread["inertia"]["min"],
                "inertia_max": spread["inertia"]["max"],
                "validation_error_rate_min": spread["validation_error_rate"]["min"],
                "validation_error_rate_max": spread["validation_error_rate"]["max"],
            }
            writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])


def write_sweep(
    path: str | os.PathLike[str],
    result: SweepResult,
    sources: dict[str, str | None],
    overwrite: bool = False,
    *,
    extra: Callable[[Path], object] | None = None,
    spark: SparkSession | None = None,
    run_id: str | None = None,
    bad_records: dict[str, Any] | None = None,
    spark_writes: Callable[[OutputDir], object] | None = None,
) -> str:
    """Write a sweep's folder atomically (see the module's table); return where.

    Parameters
    ----------
    path : str or path-like
        The folder to create: a Hadoop path, or a local :class:`~pathlib.Path`.
    result : SweepResult
    sources : dict of str to str or None
        Where the training and test digits came from.
    overwrite : bool
        Replace an existing folder.
    extra : callable, optional
        Called with the local folder the files are made in, once every standard
        file is there: files it writes (a report) are published with the sweep,
        and should it raise, nothing is.
    spark : SparkSession, optional
        Whose Hadoop configuration reaches ``path``; default: the active session.
    run_id : str, optional
        Recorded in ``sweep.json`` and every k's ``model.json`` and
        ``metrics.json``; default: Spark's application id.
    bad_records : dict, optional
        The ``bad_records`` entry of ``sweep.json`` and of every k's
        ``metrics.json`` (:meth:`kmeans_spark.rejects.BadRecords.record`).
    spark_writes : callable, optional
        Called with the :class:`~kmeans_spark.storage.OutputDir` being
        published, for what Spark's executors write straight into its staging
        folder (``rejects/``); published with the sweep, and should it raise,
        nothing is.

    Returns
    -------
    str
        The folder written, fully qualified (``file:/...``, ``hdfs://...``).
    """
    session = active_session(spark)
    run = run_id_or_application_id(session, run_id)
    record = sweep_record(result, sources, run_id=run, bad_records=bad_records)
    with publish_dir(session, path, overwrite) as output:
        staging = output.local
        for experiment in result.experiments:
            name = model_folder_name(experiment.params.k)
            (staging / name).mkdir()
            write_model_files(
                staging / name, experiment, sources, run_id=run, bad_records=bad_records
            )
            output.mark_complete(name)
        (staging / "sweep.json").write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
        write_sweep_csv(staging / "sweep.csv", record["results"])
        figure = error_by_k_plot(
            [r["k"] for r in record["results"]],
            {
                "validation": [r["validation_error_rate"] for r in record["results"]],
                "test": [r["test_error_rate"] for r in record["results"]],
            },
        )
        save_figure(figure, staging / "error_by_k.png")
        if extra is not None:
            extra(staging)
        if spark_writes is not None:
            spark_writes(output)
    return output.target
