"""Benchmark the batched sweep against one train run per k and against scikit-learn.

    spark-submit jobs/bench_sweep.py --input PATH --k 5-24,100 --seed 1 --output DIR

Trains the same models (same seeded initial centroids, Lloyd until no point
moves) three ways in one run and writes ``sweep_benchmark.json``,
``sweep_benchmark.md`` and ``sweep_benchmark.png`` to DIR: the batched sweep
(``jobs/sweep.py``), the train job's work once per k, one after another, and
scikit-learn's ``KMeans(algorithm="lloyd", n_init=1)`` in float64 and float32.

Logs go to stderr, the result to stdout: the markdown report with
``--log-format text`` (the default); with ``--log-format json`` one JSON object
per log line and the result as ``{"event": "result", "job": "bench_sweep",
"run_id": ..., "seconds": {system: seconds}, "output"}``.
Exit codes: 0 success, 2 bad input or usage, 1 anything else, 130 interrupted,
143 terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK, KMeansSparkError
from kmeans_spark.experiment import TrainParams, parse_k_list
from kmeans_spark.figures import save_figure, seconds_by_system_plot
from kmeans_spark.job_logging import (
    configure_logging,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import add_pipeline_options
from kmeans_spark.runs import output_for_run, run_id_or_application_id
from kmeans_spark.storage import publish_dir
from kmeans_spark.sweep_benchmark import SYSTEMS, markdown_report, run_sweep_benchmark

logger = logging.getLogger("kmeans_spark.jobs.bench_sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench_sweep.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--input", required=True, help="MNIST folder (or any supported input)")
    parser.add_argument("--output", required=True, help="folder for the results")
    parser.add_argument("--k", default="5-24,100", help="the sweep's k (default 5-24,100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--partitions", type=int, help="data partitions (default: parallelism)")
    parser.add_argument(
        "--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS, help="what to time"
    )
    parser.add_argument("--overwrite", action="store_true")
    add_pipeline_options(parser)
    return parser


@job_entry_point("bench_sweep")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("INFO", args.log_format, args.run_id)
    try:
        ks = parse_k_list(args.k)
        params = TrainParams(
            k=ks[0], seed=args.seed, max_iter=args.max_iter, partitions=args.partitions
        )
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-bench-sweep").getOrCreate()
        run_id = run_id_or_application_id(spark, args.run_id)
        # Rebound so that everything below names the folder actually written.
        args.output = output_for_run(args.output, run_id)
        with publish_dir(spark, args.output, args.overwrite) as output:
            with tempfile.TemporaryDirectory(prefix="bench-sweep-") as workdir:
                results = run_sweep_benchmark(
                    spark, args.input, ks, params, Path(workdir), tuple(args.systems)
                )
            results["run_id"] = run_id
            (output.local / "sweep_benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
            report = markdown_report(results)
            (output.local / "sweep_benchmark.md").write_text(
                f"Sweep k={args.k}, seed {args.seed}, {results['params']['training_digits']} "
                f"training digits, {results['machine']['spark_master']}\n\n{report}"
            )
            seconds = {name: r["seconds"] for name, r in results["systems"].items()}
            save_figure(
                seconds_by_system_plot(seconds, f"Sweep k = {args.k}: wall time"),
                output.local / "sweep_benchmark.png",
            )
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    if args.log_format == "json":
        print_result({"seconds": seconds, "output": args.output}, job="bench_sweep")
    else:
        print(report)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
