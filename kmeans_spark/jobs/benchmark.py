"""Seconds per Lloyd iteration of this engine beside Spark MLlib, scikit-learn and numpy.

    spark-submit jobs/benchmark.py --input PATH --output DIR [--quick]

Measures, side by side in one run and from the same initial centroids, the median
seconds per iteration at n = 60,000 (MNIST) and, unless --quick, at 250,000 and
1,000,000 digits made from MNIST by seeded random shifts of up to 2 pixels; k = 16,
100 and 400 (--quick: 16 and 100). Also the time from files to cached data for us
and for MLlib's usual route. Writes DIR/benchmark.json, DIR/benchmark.md and
DIR/benchmark.png. A system whose estimated time for a measurement exceeds
--budget-seconds is skipped and says so.

Logs go to stderr, the result to stdout: the markdown table and the load times
with ``--log-format text`` (the default); with ``--log-format json`` one JSON
object per log line and the result as ``{"event": "result", "job": "benchmark",
"run_id": ..., "records", "load_seconds", "output"}``.
Exit codes: 0 success, 2 bad input or usage, 1 anything else, 130 interrupted,
143 terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from kmeans_spark import benchmark as bench
from kmeans_spark.benchmark_run import MNIST_SIZE, Plan, run_benchmark
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.figures import save_figure, seconds_per_iteration_plot
from kmeans_spark.job_logging import (
    configure_logging,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import add_pipeline_options
from kmeans_spark.runs import output_for_run, run_id_or_application_id
from kmeans_spark.storage import publish_dir

logger = logging.getLogger("kmeans_spark.jobs.benchmark")


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
    add_pipeline_options(parser)
    return parser


@job_entry_point("benchmark")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("INFO", args.log_format, args.run_id)
    sizes = args.sizes or ([MNIST_SIZE] if args.quick else [MNIST_SIZE, 250_000, 1_000_000])
    ks = args.ks or ([16, 100] if args.quick else [16, 100, 400])
    unknown = set(args.systems) - set(bench.SYSTEMS)
    if unknown or args.iterations < 2:
        problem = UsageError(f"unknown systems {sorted(unknown)} or --iterations < 2")
        return report_error(logger, problem, EXIT_BAD_INPUT)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("kmeans-spark-benchmark").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    partitions = args.partitions or spark.sparkContext.defaultParallelism
    try:
        run_id = run_id_or_application_id(spark, args.run_id)
        # Rebound so that everything below names the folder actually written.
        args.output = output_for_run(args.output, run_id)
        with publish_dir(spark, args.output, args.overwrite) as output:
            plan = Plan(
                input=args.input,
                sizes=sizes,
                ks=ks,
                systems=args.systems,
                iterations=args.iterations,
                seed=args.seed,
                partitions=partitions,
                budget_seconds=args.budget_seconds,
            )
            results = run_benchmark(spark, plan)
            results["run_id"] = run_id
            (output.local / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
            records = [bench.Record(**r) for r in results["records"]]
            table = bench.markdown_table(records)
            (output.local / "benchmark.md").write_text(
                f"Seconds per Lloyd iteration ({args.iterations} iterations, "
                f"{partitions} partitions, {results['machine']['spark_master']})\n\n{table}\n"
                + "\n".join(f"- {k}: {v}" for k, v in results["load_seconds"].items())
                + "\n"
            )
            save_figure(
                seconds_per_iteration_plot(results["records"]), output.local / "benchmark.png"
            )
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    if args.log_format == "json":
        print_result(
            {
                "records": results["records"],
                "load_seconds": results["load_seconds"],
                "output": args.output,
            },
            job="benchmark",
        )
        return EXIT_OK
    print(table)
    print(json.dumps(results["load_seconds"], indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
