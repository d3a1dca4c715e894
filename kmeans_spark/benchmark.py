"""Timing Lloyd iterations of several systems side by side, from the same initial centroids.

Systems (names as in ``benchmark.json``):

``kmeans_spark``
    this project's engine; median of its per-iteration wall times.
``mllib_row``, ``mllib_block``
    ``pyspark.ml.clustering.KMeans`` with that solver on a cached vector column;
    ``(T(maxIter=N) - T(maxIter=0)) / N``, which leaves out its initialisation.
``sklearn``
    ``sklearn.cluster.KMeans(algorithm="lloyd")`` on float32 data in one process;
    ``(T(max_iter=N) - T(max_iter=1)) / (N - 1)``.
``numpy_floor``
    one float32 matrix product, an argmin and the centroid update in one process;
    median of its per-iteration times.

All start from MLlib's own random initial centroids (read off a ``maxIter=0``
fit), so the centroids after ``N`` iterations can be compared.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlocks
from kmeans_spark.lloyd import EMPTY_KEEP, fit_lloyd

SYSTEMS = ("kmeans_spark", "mllib_row", "mllib_block", "sklearn", "numpy_floor")


@dataclass
class Record:
    """One system's speed at one size, and how its centroids compare."""

    system: str
    n: int
    k: int
    seconds_per_iteration: float | None
    iterations: int
    timing: str
    max_abs_centroid_diff_vs_floor: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def numpy_floor(
    pixels: npt.NDArray[np.uint8],
    pixels_f32: npt.NDArray[np.float32],
    initial: npt.NDArray[np.float64],
    iterations: int,
) -> tuple[float, npt.NDArray[np.float64]]:
    """Lloyd's iterations as plain single-process numpy: the hardware floor.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (n, 784)
    pixels_f32 : ndarray of float32, shape (n, 784)
        The same data, converted once outside the timing.
    initial : ndarray of float64, shape (k, 784)
    iterations : int

    Returns
    -------
    median seconds per iteration, final centroids of shape (k, 784)
    """
    centroids = initial.copy()
    times = []
    _ = pixels_f32[:1000] @ centroids.astype(np.float32).T  # warm-up: BLAS threads
    for _ in range(iterations):
        started = time.perf_counter()
        c32 = centroids.astype(np.float32)
        scores = (c32 * c32).sum(axis=1) - 2.0 * (pixels_f32 @ c32.T)
        labels = np.argmin(scores, axis=1)
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=centroids.shape[0])
        stops = np.cumsum(counts)
        for cluster in np.flatnonzero(counts).tolist():
            members = order[stops[cluster] - counts[cluster] : stops[cluster]]
            centroids[cluster] = pixels[members].sum(axis=0, dtype=np.int64) / counts[cluster]
        times.append(time.perf_counter() - started)
    return statistics.median(times), centroids


def sklearn_lloyd(
    pixels_f32: npt.NDArray[np.float32], initial: npt.NDArray[np.float64], iterations: int
) -> tuple[float, npt.NDArray[np.float64]]:
    """scikit-learn's Lloyd, timed by the difference of two fits (``iterations`` >= 2)."""
    from sklearn.cluster import KMeans

    def fit(max_iter: int) -> tuple[float, npt.NDArray[np.float64]]:
        model = KMeans(
            initial.shape[0],
            init=initial.astype(np.float32),
            n_init=1,
            max_iter=max_iter,
            tol=0.0,
            algorithm="lloyd",
        )
        started = time.perf_counter()
        model.fit(pixels_f32)
        return time.perf_counter() - started, model.cluster_centers_.astype(np.float64)

    fit(1)  # warm-up: thread pools and first-call costs
    one = statistics.median(fit(1)[0] for _ in range(3))
    many, centroids = fit(iterations)
    return (many - one) / (iterations - 1), centroids


def ours(
    blocks: DigitBlocks, initial: npt.NDArray[np.float64], iterations: int
) -> tuple[float, npt.NDArray[np.float64]]:
    """This project's engine: median per-iteration wall time of ``iterations`` passes.

    Empty clusters stay in place, as MLlib's do, so that the centroids compare.
    """
    # Two untimed passes first: the first passes of a session pay for JIT
    # compilation and cold caches, which a training run of many iterations amortises.
    fit_lloyd(blocks, initial, max_iter=2, empty_cluster=EMPTY_KEEP)
    result = fit_lloyd(blocks, initial, max_iter=iterations, empty_cluster=EMPTY_KEEP)
    return statistics.median(s.seconds for s in result.history), result.centroids


def mllib_initial_centroids(
    features: Any, k: int, seed: int, solver: str
) -> npt.NDArray[np.float64]:
    """MLlib's random initial centroids for this data and seed: a ``maxIter=0`` fit."""
    from pyspark.ml.clustering import KMeans

    model = KMeans(k=k, maxIter=0, tol=0.0, seed=seed, initMode="random", solver=solver).fit(
        features
    )
    return np.array(model.clusterCenters(), dtype=np.float64)


def mllib_lloyd(
    features: Any, k: int, seed: int, solver: str, iterations: int
) -> tuple[float, npt.NDArray[np.float64]]:
    """``pyspark.ml.clustering.KMeans`` timed as ``(T(N) - T(0)) / N``."""
    from pyspark.ml.clustering import KMeans

    def fit(max_iter: int) -> tuple[float, npt.NDArray[np.float64]]:
        estimator = KMeans(
            k=k, maxIter=max_iter, tol=0.0, seed=seed, initMode="random", solver=solver
        )
        started = time.perf_counter()
        model = estimator.fit(features)
        return time.perf_counter() - started, np.array(model.clusterCenters(), dtype=np.float64)

    zero, _ = fit(0)
    many, centroids = fit(iterations)
    return (many - zero) / iterations, centroids


def settle(seconds: float = 2.0) -> None:
    """Let the previous measurement's garbage and spinning threads die down."""
    import gc

    gc.collect()
    time.sleep(seconds)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``action()`` and its result."""
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def _ratio(top: Record | None, bottom: Record | None) -> str:
    if top is None or bottom is None:
        return "—"
    if not top.seconds_per_iteration or not bottom.seconds_per_iteration:
        return "—"
    return f"{top.seconds_per_iteration / bottom.seconds_per_iteration:.2f}"


def markdown_table(records: list[Record]) -> str:
    """Seconds per iteration, one row per (n, k), one column per system, with ratios to ours."""
    sizes = sorted({(r.n, r.k) for r in records})
    by_key = {(r.system, r.n, r.k): r for r in records}
    ratio_names = ["MLlib block / ours", "MLlib row / ours", "ours / floor"]
    header = "| n | k | " + " | ".join([*SYSTEMS, *ratio_names]) + " |"
    lines = [header, "|" + "---|" * (len(SYSTEMS) + 5)]
    for n, k in sizes:
        cells = []
        for system in SYSTEMS:
            record = by_key.get((system, n, k))
            seconds = record.seconds_per_iteration if record else None
            cells.append("—" if seconds is None else f"{seconds:.3f}")

        ratios = [
            _ratio(by_key.get((top, n, k)), by_key.get((bottom, n, k)))
            for top, bottom in (
                ("mllib_block", "kmeans_spark"),
                ("mllib_row", "kmeans_spark"),
                ("kmeans_spark", "numpy_floor"),
            )
        ]
        lines.append(f"| {n:,} | {k} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines) + "\n"


def _bytes_to_doubles(pixels: bytes) -> list[float]:
    return np.frombuffer(pixels, dtype=np.uint8).astype(np.float64).tolist()


def mllib_features_from_files(spark: Any, path: str, partitions: int) -> Any:
    """MLlib's usual route from files to a cached ``features`` vector column.

    JSON lines are read with ``spark.read.json`` and ``unbase64``; other formats
    through this project's reader. Pixels become doubles in a Python UDF, then a
    vector with ``array_to_vector``.
    """
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    from kmeans_spark.readers import detect_format, read_digits

    to_doubles = F.udf(_bytes_to_doubles, returnType="array<double>", useArrow=False)
    if detect_format(spark, path) == "jsonl":
        pixels = spark.read.json(path).select(F.unbase64("data").alias("pixels"))
    else:
        pixels = read_digits(spark, path, validate=False).select("pixels")
    features = pixels.select(array_to_vector(to_doubles("pixels")).alias("features"))
    features = features.repartition(partitions).cache()
    features.count()
    return features


MLLIB_ROWS_PER_PARTITION = 50_000
"""Dense vectors take 6.3 kB a digit: bigger partitions overflow the heap while caching."""


def mllib_features_from_rows(spark: Any, rows: Any, n: int, partitions: int) -> Any:
    """A cached ``features`` vector column made from reader rows ``(id, label, pixels)``."""
    from pyspark.ml.linalg import DenseVector

    vectors = rows.map(lambda row: (DenseVector(np.frombuffer(row[2], dtype=np.uint8)),))
    slices = max(partitions, -(-n // MLLIB_ROWS_PER_PARTITION))
    features = spark.createDataFrame(vectors, ["features"]).repartition(slices).cache()
    features.count()
    return features


def cached_bytes_per_digit(blocks: DigitBlocks) -> float:
    """Bytes a digit takes in the cache: the pickled blocks Spark stores, over the digits.

    Measured on the serialised blocks themselves, since Spark's storage report
    estimates the size of byte arrays by sampling.
    """
    import pickle

    total = blocks.rdd.map(lambda kv: len(pickle.dumps(kv[1], pickle.HIGHEST_PROTOCOL))).sum()
    return float(total) / blocks.num_digits
