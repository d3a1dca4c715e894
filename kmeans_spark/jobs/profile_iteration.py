"""Print where a Lloyd iteration's time goes, ingredient by ingredient.

    spark-submit jobs/profile_iteration.py --input PATH [--k 100] [--partitions N]

Medians of repeated measurements on the cached training digits, from random
initial centroids: Spark's cost for empty jobs, streaming the blocks versus
reading the executor-local copies, the slowest task's arithmetic, and whole
passes early (centroids moving) and late (centroids settled).

Prints the medians as an indented JSON object; with ``--log-format json`` as one
line, ``{"event": "result", "job": "profile_iteration", "run_id": ..., "seconds":
{...}}``, and JSON log lines on stderr.
Exit codes: 0 success, 2 bad input or usage, 1 anything else, 130 interrupted,
143 terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from kmeans_spark.blocks import to_blocks
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK, KMeansSparkError
from kmeans_spark.init import random_centroids
from kmeans_spark.job_logging import (
    configure_logging,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import add_pipeline_options
from kmeans_spark.profiling import iteration_profile
from kmeans_spark.readers import read_dataset

logger = logging.getLogger("kmeans_spark.jobs.profile_iteration")


@job_entry_point("profile_iteration")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="profile_iteration.py", description=__doc__)
    parser.add_argument("--input", required=True, help="training digits (any supported format)")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, help="data partitions (default parallelism)")
    add_pipeline_options(parser)
    args = parser.parse_args(argv)
    configure_logging("INFO", args.log_format, args.run_id)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("kmeans-spark-profile").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        blocks = to_blocks(read_dataset(spark, args.input).train, args.partitions)
        profile = iteration_profile(blocks, random_centroids(blocks, args.k, args.seed), args.seed)
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    seconds = {k: round(v, 4) for k, v in profile.items()}
    if args.log_format == "json":
        print_result({"seconds": seconds}, job="profile_iteration")
    else:
        print(json.dumps(seconds, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
