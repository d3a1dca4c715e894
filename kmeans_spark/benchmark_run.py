"""Running the benchmark: the data at each size, every system at every (n, k), the budget.

The timing of each system is in :mod:`kmeans_spark.benchmark`; ``jobs/benchmark.py``
parses the options, calls :func:`run_benchmark` and writes the results.
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np

from kmeans_spark.benchmark import (
    Record,
    cached_bytes_per_digit,
    mllib_features_from_files,
    mllib_features_from_rows,
    mllib_initial_centroids,
    mllib_lloyd,
    numpy_floor,
    ours,
    settle,
    sklearn_lloyd,
    timed,
)
from kmeans_spark.blocks import DigitBlocks, concat_blocks, to_blocks
from kmeans_spark.readers import read_dataset
from kmeans_spark.synthetic import shifted_digits, synthetic_rows

logger = logging.getLogger(__name__)
MNIST_SIZE = 60_000


@dataclass(frozen=True)
class Plan:
    """What to measure.

    Attributes
    ----------
    input : str
        MNIST folder or JSON-lines file: the 60,000 training digits.
    sizes, ks : list of int
        Numbers of digits (60,000 is MNIST itself; more are made by shifting it) and of clusters.
    systems : list of str
        Subset of :data:`kmeans_spark.benchmark.SYSTEMS`.
    iterations : int
        Lloyd iterations timed per measurement.
    seed : int
    partitions : int
        Data partitions of the Spark systems.
    budget_seconds : float
        A measurement estimated to take longer is skipped.
    """

    input: str
    sizes: list[int]
    ks: list[int]
    systems: list[str]
    iterations: int
    seed: int
    partitions: int
    budget_seconds: float


class Budget:
    """Predicts a measurement's seconds from the same system's last one at the same k."""

    def __init__(self, limit: float, iterations: int) -> None:
        self.limit, self.iterations = limit, iterations
        self.last: dict[tuple[str, int], tuple[int, float]] = {}

    def allows(self, system: str, n: int, k: int) -> tuple[bool, str]:
        if (system, k) not in self.last:
            return True, ""
        n0, seconds = self.last[(system, k)]
        # Each fit runs the iterations plus an untimed fit or two: count one more.
        estimate = seconds * (n / n0) * (self.iterations + 1)
        if estimate > self.limit:
            return False, f"skipped: estimated {estimate:.0f} s > budget {self.limit:.0f} s"
        return True, ""

    def record(self, system: str, n: int, k: int, seconds: float) -> None:
        self.last[(system, k)] = (n, seconds)


def run_benchmark(spark: Any, plan: Plan) -> dict[str, Any]:
    """Measure every system at every (n, k) of the plan; the ``benchmark.json`` record.

    Parameters
    ----------
    spark : SparkSession
    plan : Plan

    Returns
    -------
    dict
        ``records`` (one per system, n and k), ``load_seconds``, ``machine``,
        ``iterations``, ``seed``.
    """
    systems, sizes, ks, partitions = plan.systems, plan.sizes, plan.ks, plan.partitions
    wants_mllib = any(s.startswith("mllib") for s in systems)

    def load_ours() -> DigitBlocks:
        return to_blocks(read_dataset(spark, plan.input).train, partitions)

    def load_mllib() -> Any:
        return mllib_features_from_files(spark, plan.input, partitions)

    # One untimed round first: the JVM's warm-up would otherwise count against
    # whichever route runs first.
    load_ours().unpersist()
    if wants_mllib:
        load_mllib().unpersist()
    seconds_ours, mnist_blocks = timed(load_ours)
    load: dict[str, Any] = {"kmeans_spark_files_to_cached": seconds_ours}
    load["kmeans_spark_cached_bytes_per_digit"] = cached_bytes_per_digit(mnist_blocks)
    mnist_features = None
    if wants_mllib:
        load["mllib_files_to_cached"], mnist_features = timed(load_mllib)
        load["mllib_over_ours"] = load["mllib_files_to_cached"] / seconds_ours
    logger.info("files to cached data: %s", load)
    # The single-process systems need the digits in this process, in id order.
    mnist = concat_blocks(block for _, block in mnist_blocks.rdd.collect())
    base, base_labels = mnist.pixels, mnist.labels
    budget = Budget(plan.budget_seconds, plan.iterations)
    records: list[Record] = []
    for n in sizes:
        if n == MNIST_SIZE:
            blocks, features, pixels = mnist_blocks, mnist_features, base
        else:
            # Several slices per partition keep each task's memory modest at large n.
            rows = synthetic_rows(
                spark.sparkContext, base, base_labels, n, plan.seed, 4 * partitions
            )
            blocks = to_blocks(rows, partitions)
            pixels, _ = shifted_digits(base, base_labels, np.arange(n), plan.seed)
            features = None
            if wants_mllib and any(
                budget.allows(s, n, ks[0])[0] for s in systems if s.startswith("mllib")
            ):
                try:
                    features = mllib_features_from_rows(spark, rows, n, partitions)
                except Exception as exc:  # e.g. the dense vectors do not fit in memory
                    logger.warning("n=%d: no MLlib data (%s)", n, str(exc).splitlines()[0][:200])
        pixels_f32 = pixels.astype(np.float32)
        for k in ks:
            records += measure(
                spark, plan, systems, budget, n, k, blocks, features, pixels, pixels_f32
            )
        if blocks is not mnist_blocks:
            blocks.unpersist()
        if features is not None and features is not mnist_features:
            features.unpersist()
    return {
        "records": [r.as_dict() for r in records],
        "load_seconds": load,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "spark_master": spark.sparkContext.master,
            "spark_version": spark.version,
            "partitions": partitions,
        },
        "iterations": plan.iterations,
        "seed": plan.seed,
    }


def measure(
    spark: Any,
    plan: Plan,
    systems: list[str],
    budget: Budget,
    n: int,
    k: int,
    blocks: DigitBlocks,
    features: Any,
    pixels: np.ndarray,
    pixels_f32: np.ndarray,
) -> list[Record]:
    """All systems at one (n, k), from MLlib's initial centroids where MLlib runs."""
    iterations = plan.iterations
    if features is not None:
        initial = mllib_initial_centroids(features, k, plan.seed, "row")
        origin = "MLlib's random initialisation (maxIter=0 fit)"
    else:
        from kmeans_spark.init import random_centroids

        initial = random_centroids(blocks, k, plan.seed)
        origin = "kmeans_spark's random initialisation"
    logger.info("n=%d k=%d: initial centroids from %s", n, k, origin)
    # Ours first: the single-process systems leave BLAS and OpenMP threads spinning
    # in this driver for a while, which would steal the executors' cores.
    runners = {
        "kmeans_spark": lambda: ours(blocks, initial, iterations),
        "numpy_floor": lambda: numpy_floor(pixels, pixels_f32, initial, iterations),
        "sklearn": lambda: sklearn_lloyd(pixels_f32, initial, iterations),
        "mllib_block": lambda: mllib_lloyd(features, k, plan.seed, "block", iterations),
        "mllib_row": lambda: mllib_lloyd(features, k, plan.seed, "row", iterations),
    }
    outcomes: dict[str, tuple[float, np.ndarray]] = {}
    records = []
    for system in [s for s in runners if s in systems]:
        allowed, note = budget.allows(system, n, k)
        if system.startswith("mllib") and features is None:
            allowed, note = False, note or "skipped: no MLlib data at this size"
        if not allowed:
            records.append(Record(system, n, k, None, iterations, "", None, note))
            logger.info("n=%d k=%d %s: %s", n, k, system, note)
            continue
        settle()
        try:
            seconds, centroids = runners[system]()
        except Exception as exc:  # one system failing must not lose the others' figures
            note = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            records.append(Record(system, n, k, None, iterations, "", None, note))
            logger.warning("n=%d k=%d %s: %s", n, k, system, note)
            continue
        budget.record(system, n, k, seconds)
        outcomes[system] = (seconds, centroids)
        timing = (
            "median per iteration"
            if system in ("numpy_floor", "kmeans_spark")
            else "difference of two fits"
        )
        records.append(Record(system, n, k, seconds, iterations, timing))
        logger.info("n=%d k=%d %s: %.3f s per iteration", n, k, system, seconds)
    if "numpy_floor" in outcomes:
        floor = outcomes["numpy_floor"][1]
        for record in records:
            if record.system in outcomes:
                diff = float(np.abs(outcomes[record.system][1] - floor).max())
                record.max_abs_centroid_diff_vs_floor = diff
    return records
