"""The batched sweep against the same models trained one after another, and scikit-learn.

Three ways to train the walkthrough's sweep (every k from the same seeded initial
centroids, Lloyd's algorithm until no point changes cluster), timed side by side
in one run:

* ``batched``: :func:`~kmeans_spark.experiment.run_sweep` and
  :func:`~kmeans_spark.sweep_io.write_sweep`, what ``jobs/sweep.py`` does;
* ``sequential``: for each k, what ``jobs/train.py`` does (read the input, train,
  evaluate, write the model), one k after another in the same Spark application
  (so without the JVM's start-up per run that separate spark-submits would add);
* ``sklearn``: ``KMeans(algorithm="lloyd", n_init=1, tol=0)`` from the same
  initial centroids on the same training digits, in float64 (the same
  arithmetic as ours) and in float32 (scikit-learn's fastest); fits only.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.benchmark import settle
from kmeans_spark.blocks import DigitBlocks, to_blocks
from kmeans_spark.experiment import TrainParams, run_experiment, run_sweep
from kmeans_spark.init import InitSpec, initial_centroids
from kmeans_spark.model_io import write_model
from kmeans_spark.readers import read_dataset
from kmeans_spark.split import split_train_validation
from kmeans_spark.sweep_io import model_folder_name, write_sweep

logger = logging.getLogger(__name__)

SYSTEMS = ("batched", "sequential", "sklearn-float64", "sklearn-float32")


def _collect_pixels(blocks: DigitBlocks) -> npt.NDArray[np.uint8]:
    """The digits of cached blocks in id order, as one ``(n, 784)`` array on the driver."""
    parts = blocks.rdd.map(lambda kv: (kv[1].ids, np.asarray(kv[1].pixels))).collect()
    ids = np.concatenate([i for i, _ in parts])
    pixels = np.concatenate([p for _, p in parts])
    return np.ascontiguousarray(pixels[np.argsort(ids, kind="stable")])


def _time_batched(
    spark: Any, input_path: str, params: TrainParams, ks: list[int], output: Path
) -> dict[str, Any]:
    started = time.perf_counter()
    dataset = read_dataset(spark, input_path)
    result = run_sweep(dataset.train, dataset.test, params, ks)
    write_sweep(output, result, {"train": dataset.train_source, "test": dataset.test_source})
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "passes": result.passes,
        "timings": result.seconds,
        "per_k": {
            e.params.k: {
                "iterations": e.model.iterations,
                "inertia": e.model.inertia,
                "validation_error_rate": None if e.validation is None else e.validation.error_rate,
            }
            for e in result.experiments
        },
    }


def _time_sequential(
    spark: Any, input_path: str, params: TrainParams, ks: list[int], output: Path
) -> dict[str, Any]:
    per_k: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    for k in ks:
        began = time.perf_counter()
        dataset = read_dataset(spark, input_path)
        result = run_experiment(dataset.train, dataset.test, replace(params, k=k))
        sources = {"train": dataset.train_source, "test": dataset.test_source}
        write_model(output / model_folder_name(k), result, sources)
        per_k[k] = {
            "seconds": time.perf_counter() - began,
            "iterations": result.model.iterations,
            "inertia": result.model.inertia,
        }
        logger.info("sequential k=%d: %.1f s", k, per_k[k]["seconds"])
    return {"seconds": time.perf_counter() - started, "per_k": per_k}


def _time_sklearn(
    pixels: npt.NDArray[np.uint8],
    initial: dict[int, npt.NDArray[np.float64]],
    max_iter: int,
    dtype: type[np.floating[Any]],
) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    data = pixels.astype(dtype)
    per_k: dict[int, dict[str, Any]] = {}
    for k, centroids in initial.items():
        model = KMeans(
            k, init=centroids.astype(dtype), n_init=1, max_iter=max_iter, tol=0.0, algorithm="lloyd"
        )
        began = time.perf_counter()
        model.fit(data)
        per_k[k] = {
            "seconds": time.perf_counter() - began,
            "iterations": int(model.n_iter_),
            "inertia": float(model.inertia_),
        }
    return {"seconds": sum(r["seconds"] for r in per_k.values()), "per_k": per_k}


def run_sweep_benchmark(
    spark: Any,
    input_path: str,
    ks: list[int],
    params: TrainParams,
    workdir: Path,
    systems: tuple[str, ...] = SYSTEMS,
) -> dict[str, Any]:
    """Time the sweep of ``ks`` by every system in ``systems``; models go under ``workdir``.

    Returns
    -------
    dict
        ``systems``: per system its total ``seconds`` and ``per_k`` iterations
        (and seconds, inertia); ``ratios``: other systems' seconds over the
        batched sweep's; ``machine`` and ``params``.
    """
    dataset = read_dataset(spark, input_path)
    everything = to_blocks(dataset.train, params.partitions)  # also warms the JVM up
    train, validation = split_train_validation(
        everything, params.validation_fraction, params.split, params.seed
    )
    pixels = _collect_pixels(train)
    initial = {
        spec.k: result.centroids
        for spec, result in zip(
            [InitSpec(k, params.seed) for k in ks],
            initial_centroids(train, [InitSpec(k, params.seed) for k in ks], params.init),
            strict=True,
        )
    }
    for blocks in (everything, train, validation):
        if blocks is not None:
            blocks.unpersist()
    results: dict[str, Any] = {}
    for system in systems:
        settle()
        logger.info("timing %s", system)
        if system == "batched":
            results[system] = _time_batched(spark, input_path, params, ks, workdir / "batched")
        elif system == "sequential":
            results[system] = _time_sequential(
                spark, input_path, params, ks, workdir / "sequential"
            )
        elif system.startswith("sklearn"):
            dtype = np.float64 if system.endswith("64") else np.float32
            results[system] = _time_sklearn(pixels, initial, params.max_iter, dtype)
        else:
            raise ValueError(f"unknown system {system!r}")
        logger.info("%s: %.1f s", system, results[system]["seconds"])
    base = results.get("batched", {}).get("seconds")
    return {
        "systems": results,
        "ratios": {
            name: (r["seconds"] / base if base else None)
            for name, r in results.items()
            if name != "batched"
        },
        "params": {
            "ks": ks,
            "seed": params.seed,
            "init": params.init,
            "max_iter": params.max_iter,
            "training_digits": int(pixels.shape[0]),
        },
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "spark_master": spark.sparkContext.master,
            "default_parallelism": spark.sparkContext.defaultParallelism,
        },
    }


def markdown_report(results: dict[str, Any]) -> str:
    """The benchmark as a Markdown table: per k the iterations and seconds of every system."""
    systems = results["systems"]
    names = list(systems)
    ks = results["params"]["ks"]
    lines = [
        "| system | seconds | x batched |",
        "|---|---:|---:|",
    ]
    for name in names:
        ratio = 1.0 if name == "batched" else results["ratios"].get(name)
        lines.append(
            f"| {name} | {systems[name]['seconds']:.1f} | "
            f"{'-' if ratio is None else f'{ratio:.2f}'} |"
        )
        if name == "batched":
            train = systems[name]["timings"]["train"]
            lines.append(f"| batched, training only | {train:.1f} | - |")
    lines += ["", "| k | " + " | ".join(f"{n} iterations" for n in names) + " |"]
    lines.append("|---:|" + "---:|" * len(names))
    for k in ks:
        cells = []
        for name in names:
            record = systems[name]["per_k"].get(k) or systems[name]["per_k"].get(str(k))
            cells.append("-" if record is None else str(record["iterations"]))
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
