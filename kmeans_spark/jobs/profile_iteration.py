"""Print where a Lloyd iteration's time goes, ingredient by ingredient.

    spark-submit jobs/profile_iteration.py --input PATH [--k 100] [--partitions N]

Medians of repeated measurements on the cached training digits, from random
initial centroids: Spark's cost for empty jobs, streaming the blocks versus
reading the executor-local copies, the slowest task's arithmetic, and whole
passes early (centroids moving) and late (centroids settled).
"""

from __future__ import annotations

import argparse
import json
import sys

from kmeans_spark.blocks import to_blocks
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK, KMeansSparkError
from kmeans_spark.init import random_centroids
from kmeans_spark.profiling import iteration_profile
from kmeans_spark.readers import read_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="profile_iteration.py", description=__doc__)
    parser.add_argument("--input", required=True, help="training digits (any supported format)")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, help="data partitions (default parallelism)")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("kmeans-spark-profile").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        blocks = to_blocks(read_dataset(spark, args.input).train, args.partitions)
        profile = iteration_profile(blocks, random_centroids(blocks, args.k, args.seed), args.seed)
    except KMeansSparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps({k: round(v, 4) for k, v in profile.items()}, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
