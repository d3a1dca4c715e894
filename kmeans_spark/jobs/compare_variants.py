"""Compare the k-means family on MNIST: test error and training time of each variant and k.

    spark-submit jobs/compare_variants.py --input data/mnist --output runs/variants

Trains every configuration of :data:`kmeans_spark.variant_comparison.DEFAULT_CONFIGURATIONS`
(k-means, k-medians, spherical k-means at k = 16 and 100; k-means at k = 1000;
per-class k-means with 10 centres per class; deskewed, unit-length, per-class
k-means with 10 and 100) on the whole training set (``--validation-fraction``
defaults to 0 here) and scores it on the official 10,000 test digits. Writes
``comparison.json`` (every row), ``comparison.md`` (the table) and
``comparison.csv`` into DIR, and prints the table. ``--quick`` runs every
configuration at its smallest k for at most 20 iterations; ``--only NAME,...``
picks configurations.

Exit codes: 0 success, 2 bad input or usage, 1 anything else.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError
from kmeans_spark.experiment import TrainParams, experiment_data
from kmeans_spark.init import INIT_METHODS, INIT_RANDOM
from kmeans_spark.job_logging import configure_logging, job_entry_point, print_result, report_error
from kmeans_spark.job_options import add_pipeline_options
from kmeans_spark.readers import read_dataset
from kmeans_spark.runs import output_for_run, run_id_or_application_id
from kmeans_spark.storage import publish_dir
from kmeans_spark.variant_comparison import (
    DEFAULT_CONFIGURATIONS,
    ComparisonRow,
    compare_variants,
    markdown_table,
    select_configurations,
)

logger = logging.getLogger("kmeans_spark.jobs.compare_variants")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compare_variants.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--input", required=True, help="MNIST folder (train + official test)")
    parser.add_argument("--test", help="a separate test set, for an input that is not a folder")
    parser.add_argument("--output", required=True, help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="smallest k, 20 iterations at most")
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help="comma-separated configurations: "
        + ", ".join(c.name for c in DEFAULT_CONFIGURATIONS),
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--init", choices=INIT_METHODS, default=INIT_RANDOM)
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.0,
        help="share of the training set held out (default 0: train on all of it)",
    )
    parser.add_argument("--partitions", type=int, help="data partitions (default parallelism)")
    parser.add_argument("--overwrite", action="store_true")
    add_pipeline_options(parser)
    return parser


@job_entry_point("compare-variants")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("INFO", args.log_format, args.run_id)
    try:
        configurations = select_configurations(args.only, args.quick)
        base = TrainParams(
            seed=args.seed,
            init=args.init,
            validation_fraction=args.validation_fraction,
            partitions=args.partitions,
        )
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-compare-variants").getOrCreate()
        run_id = run_id_or_application_id(spark, args.run_id)
        output_path = output_for_run(args.output, run_id)
        dataset = read_dataset(spark, args.input, test_path=args.test)
        with experiment_data(dataset.train, dataset.test, base) as data:
            rows = compare_variants(data, base, configurations)
        table = markdown_table(rows)
        with publish_dir(spark, output_path, args.overwrite) as output:
            record = {
                "run_id": run_id,
                "input": dataset.train_source,
                "test": dataset.test_source,
                "seed": args.seed,
                "init": args.init,
                "validation_fraction": args.validation_fraction,
                "rows": [row.as_dict() for row in rows],
            }
            (output.local / "comparison.json").write_text(json.dumps(record, indent=2) + "\n")
            (output.local / "comparison.md").write_text(table + "\n")
            _write_csv(output.local / "comparison.csv", rows)
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    except Exception:
        logger.exception("comparison failed", extra={"event": "failed", "exit_code": EXIT_FAILURE})
        return EXIT_FAILURE
    if args.log_format == "json":
        print_result(
            {"rows": [row.as_dict() for row in rows], "output": output_path},
            job="compare-variants",
        )
        return EXIT_OK
    print(table)
    print(f"written to {output_path}")
    return EXIT_OK


def _write_csv(path: Path, rows: list[ComparisonRow]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        fields = list(rows[0].as_dict()) if rows else []
        writer.writerow(fields)
        for row in rows:
            record = row.as_dict()
            record["preprocess"] = "+".join(record["preprocess"])
            writer.writerow([record[name] for name in fields])


if __name__ == "__main__":
    sys.exit(main())
