"""Seconds per Lloyd iteration of this engine beside Spark MLlib, scikit-learn and numpy.

    spark-submit jobs/benchmark.py --input PATH --output DIR [--quick]

Measures, side by side in one run and from the same initial centroids, the median
seconds per iteration at n = 60,000 (MNIST) and, unless --quick, at 250,000 and
1,000,000 digits made from MNIST by seeded random shifts of up to 2 pixels; k = 16,
100 and 400 (--quick: 16 and 100). Also the time from files to cached data for us
and for MLlib's usual route. Writes DIR/benchmark.json, DIR/benchmark.md and
DIR/benchmark.png. A system whose estimated time for a measurement exceeds
--budget-seconds is skipped and says so.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from typing import Any

import numpy as np

from kmeans_spark import benchmark as bench
from kmeans_spark.blocks import DigitBlocks, concat_blocks, to_blocks
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK, KMeansSparkError
from kmeans_spark.figures import seconds_per_iteration_plot
from kmeans_spark.model_io import atomic_output_dir
from kmeans_spark.readers import read_dataset
from kmeans_spark.synthetic import shifted_digits

logger = logging.getLogger("kmeans_spark.jobs.benchmark")
MNIST_SIZE = 60_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--input", required=True, help="MNIST folder or the JSON-lines file")
    parser.add_argument("--output", required=True, help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="n=60,000 and k in {16, 100} only")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(v) for v in s.split(",")],
        help="comma-separated n (default 60000,250000,1000000)",
    )
    parser.add_argument(
        "--ks",
        type=lambda s: [int(v) for v in s.split(",")],
        help="comma-separated k (default 16,100,400)",
    )
    parser.add_argument(
        "--systems",
        type=lambda s: s.split(","),
        default=list(bench.SYSTEMS),
        help=f"comma-separated subset of {','.join(bench.SYSTEMS)}",
    )
    parser.add_argument("--iterations", type=int, default=20, help="Lloyd iterations timed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, help="data partitions (default parallelism)")
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=600.0,
        help="skip a measurement estimated to take longer",
    )
    parser.add_argument("--overwrite", action="store_true")
    return parser


def collect_digits(blocks: DigitBlocks) -> np.ndarray:
    """All pixels of the blocks in id order, for the single-process systems."""
    return concat_blocks(block for _, block in blocks.rdd.collect()).pixels


def synthetic_rows(
    spark: Any, base: np.ndarray, labels: np.ndarray, n: int, seed: int, slices: int
) -> Any:
    """Rows of n shifted digits, made on the executors from the broadcast base digits."""
    shared = spark.sparkContext.broadcast((base, labels))

    def make(slice_index: int) -> Any:
        images, base_labels = shared.value
        ids = np.arange(slice_index * n // slices, (slice_index + 1) * n // slices)
        pixels, digit_labels = shifted_digits(images, base_labels, ids, seed)
        for i, digit_id in enumerate(ids.tolist()):
            yield digit_id, int(digit_labels[i]), pixels[i].tobytes()

    return spark.sparkContext.parallelize(range(slices), slices).flatMap(make)


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sizes = args.sizes or ([MNIST_SIZE] if args.quick else [MNIST_SIZE, 250_000, 1_000_000])
    ks = args.ks or ([16, 100] if args.quick else [16, 100, 400])
    unknown = set(args.systems) - set(bench.SYSTEMS)
    if unknown or args.iterations < 2:
        print(f"error: unknown systems {sorted(unknown)} or --iterations < 2", file=sys.stderr)
        return EXIT_BAD_INPUT
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("kmeans-spark-benchmark").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    partitions = args.partitions or spark.sparkContext.defaultParallelism
    try:
        with atomic_output_dir(args.output, args.overwrite) as staging:
            results = run(spark, args, sizes, ks, partitions)
            (staging / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
            records = [bench.Record(**r) for r in results["records"]]
            table = bench.markdown_table(records)
            (staging / "benchmark.md").write_text(
                f"Seconds per Lloyd iteration ({args.iterations} iterations, "
                f"{partitions} partitions, {results['machine']['spark_master']})\n\n{table}\n"
                + "\n".join(f"- {k}: {v}" for k, v in results["load_seconds"].items())
                + "\n"
            )
            seconds_per_iteration_plot(results["records"]).savefig(staging / "benchmark.png")
    except KMeansSparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(table)
    print(json.dumps(results["load_seconds"], indent=2))
    return EXIT_OK


def run(
    spark: Any, args: argparse.Namespace, sizes: list[int], ks: list[int], partitions: int
) -> dict[str, Any]:
    systems = args.systems
    wants_mllib = any(s.startswith("mllib") for s in systems)

    def load_ours() -> DigitBlocks:
        return to_blocks(read_dataset(spark, args.input).train, partitions)

    def load_mllib() -> Any:
        return bench.mllib_features_from_files(spark, args.input, partitions)

    # One untimed round first: the JVM's warm-up would otherwise count against
    # whichever route runs first.
    load_ours().unpersist()
    if wants_mllib:
        load_mllib().unpersist()
    seconds_ours, mnist_blocks = bench.timed(load_ours)
    load: dict[str, Any] = {"kmeans_spark_files_to_cached": seconds_ours}
    load["kmeans_spark_cached_bytes_per_digit"] = bench.cached_bytes_per_digit(mnist_blocks)
    mnist_features = None
    if wants_mllib:
        load["mllib_files_to_cached"], mnist_features = bench.timed(load_mllib)
        load["mllib_over_ours"] = load["mllib_files_to_cached"] / seconds_ours
    logger.info("files to cached data: %s", load)
    base = collect_digits(mnist_blocks)
    base_labels = concat_blocks(b for _, b in mnist_blocks.rdd.collect()).labels
    budget = Budget(args.budget_seconds, args.iterations)
    records: list[bench.Record] = []
    for n in sizes:
        if n == MNIST_SIZE:
            blocks, features, pixels = mnist_blocks, mnist_features, base
        else:
            # Several slices per partition keep each task's memory modest at large n.
            rows = synthetic_rows(spark, base, base_labels, n, args.seed, 4 * partitions)
            blocks = to_blocks(rows, partitions)
            pixels, _ = shifted_digits(base, base_labels, np.arange(n), args.seed)
            features = None
            if wants_mllib and any(
                budget.allows(s, n, ks[0])[0] for s in systems if s.startswith("mllib")
            ):
                try:
                    features = bench.mllib_features_from_rows(spark, rows, n, partitions)
                except Exception as exc:  # e.g. the dense vectors do not fit in memory
                    logger.warning("n=%d: no MLlib data (%s)", n, str(exc).splitlines()[0][:200])
        pixels_f32 = pixels.astype(np.float32)
        for k in ks:
            records += measure(
                spark, args, systems, budget, n, k, blocks, features, pixels, pixels_f32
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
        "iterations": args.iterations,
        "seed": args.seed,
    }


def measure(
    spark: Any,
    args: argparse.Namespace,
    systems: list[str],
    budget: Budget,
    n: int,
    k: int,
    blocks: DigitBlocks,
    features: Any,
    pixels: np.ndarray,
    pixels_f32: np.ndarray,
) -> list[bench.Record]:
    """All systems at one (n, k), from MLlib's initial centroids where MLlib runs."""
    iterations = args.iterations
    if features is not None:
        initial = bench.mllib_initial_centroids(features, k, args.seed, "row")
        origin = "MLlib's random initialisation (maxIter=0 fit)"
    else:
        from kmeans_spark.init import random_centroids

        initial = random_centroids(blocks, k, args.seed)
        origin = "kmeans_spark's random initialisation"
    logger.info("n=%d k=%d: initial centroids from %s", n, k, origin)
    # Ours first: the single-process systems leave BLAS and OpenMP threads spinning
    # in this driver for a while, which would steal the executors' cores.
    runners = {
        "kmeans_spark": lambda: bench.ours(blocks, initial, iterations),
        "numpy_floor": lambda: bench.numpy_floor(pixels, pixels_f32, initial, iterations),
        "sklearn": lambda: bench.sklearn_lloyd(pixels_f32, initial, iterations),
        "mllib_block": lambda: bench.mllib_lloyd(features, k, args.seed, "block", iterations),
        "mllib_row": lambda: bench.mllib_lloyd(features, k, args.seed, "row", iterations),
    }
    outcomes: dict[str, tuple[float, np.ndarray]] = {}
    records = []
    for system in [s for s in runners if s in systems]:
        allowed, note = budget.allows(system, n, k)
        if system.startswith("mllib") and features is None:
            allowed, note = False, note or "skipped: no MLlib data at this size"
        if not allowed:
            records.append(bench.Record(system, n, k, None, iterations, "", None, note))
            logger.info("n=%d k=%d %s: %s", n, k, system, note)
            continue
        bench.settle()
        try:
            seconds, centroids = runners[system]()
        except Exception as exc:  # one system failing must not lose the others' figures
            note = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            records.append(bench.Record(system, n, k, None, iterations, "", None, note))
            logger.warning("n=%d k=%d %s: %s", n, k, system, note)
            continue
        budget.record(system, n, k, seconds)
        outcomes[system] = (seconds, centroids)
        timing = (
            "median per iteration"
            if system in ("numpy_floor", "kmeans_spark")
            else "difference of two fits"
        )
        records.append(bench.Record(system, n, k, seconds, iterations, timing))
        logger.info("n=%d k=%d %s: %.3f s per iteration", n, k, system, seconds)
    if "numpy_floor" in outcomes:
        floor = outcomes["numpy_floor"][1]
        for record in records:
            if record.system in outcomes:
                diff = float(np.abs(outcomes[record.system][1] - floor).max())
                record.max_abs_centroid_diff_vs_floor = diff
    return records


if __name__ == "__main__":
    sys.exit(main())
