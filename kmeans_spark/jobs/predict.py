"""Classify digits with a trained model: every digit gets its nearest centroid's label.

    spark-submit jobs/predict.py --model DIR --input PATH --output DIR [--csv]

DIR is a model folder written by the train job (or a sweep's ``k<K>/``). PATH is
an IDX images file (labels found beside it, or --labels), a JSON-lines, CSV or
Parquet input, labelled or not, or an MNIST folder, of which the official test
set (the t10k files) is classified. The output folder gets ``predictions.parquet/``
(``id``, ``label``, ``prediction``, ``cluster``, ``distance``; one part file, in id
order), with --csv also ``predictions.csv/`` (the same, with a header), and
``metrics.json`` (error rate, confusion) when the input has labels.
Exit codes: 0 success, 2 bad input or usage, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from kmeans_spark.blocks import to_blocks
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.evaluation import Evaluation
from kmeans_spark.model_io import atomic_output_dir, check_output_dir, load_model
from kmeans_spark.predict import evaluate, metrics_record, predict, read_input
from kmeans_spark.readers import FORMATS

logger = logging.getLogger("kmeans_spark.jobs.predict")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="predict.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="model folder written by the train job")
    parser.add_argument(
        "--input", required=True, help="digits: IDX images, JSON lines, CSV, Parquet, MNIST folder"
    )
    parser.add_argument("--output", required=True, help="folder to write into (must not exist)")
    parser.add_argument("--csv", action="store_true", help="also write predictions.csv/")
    parser.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    parser.add_argument("--labels", help="IDX labels file, when not beside the images file")
    parser.add_argument("--partitions", type=int, help="number of data partitions")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder"
    )
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="INFO"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message; keep our exit codes
        return EXIT_OK if exc.code == 0 else EXIT_BAD_INPUT
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.partitions is not None and args.partitions < 1:
            raise UsageError(f"--partitions must be >= 1, got {args.partitions}")
        check_output_dir(args.output, args.overwrite)
        model = load_model(args.model)
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-predict").getOrCreate()
        rows, source = read_input(spark, args.input, fmt=args.format, labels_path=args.labels)
        blocks = to_blocks(rows, args.partitions)
        try:
            evaluation = evaluate(blocks, model.centroids, model.centroid_labels)
            # Digits are classified in parallel; only the sorted result is written by
            # one task, as one part file in the input's order.
            table = (
                predict(spark, blocks, model.centroids, model.centroid_labels)
                .orderBy("id")
                .coalesce(1)
            )
            with atomic_output_dir(args.output, args.overwrite) as staging:
                # A file URI: the staging folder is on the local disk whatever
                # Spark's default file system is.
                table.write.parquet((staging / "predictions.parquet").resolve().as_uri())
                if args.csv:
                    table.write.csv((staging / "predictions.csv").resolve().as_uri(), header=True)
                if evaluation is not None:
                    record = metrics_record(evaluation, str(model.path), source, blocks.num_digits)
                    (staging / "metrics.json").write_text(
                        json.dumps(record, indent=2, allow_nan=False) + "\n"
                    )
            digits = blocks.num_digits
        finally:
            blocks.unpersist()
    except KMeansSparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:
        logger.exception("prediction failed")
        return EXIT_FAILURE
    print(summary(digits, model.k, evaluation, args.output))
    return EXIT_OK


def summary(digits: int, k: int, evaluation: Evaluation | None, output: str) -> str:
    """The one line the job prints."""
    scored = (
        "no labels to score"
        if evaluation is None
        else f"error rate {evaluation.error_rate:.4f} ({evaluation.errors} of "
        f"{evaluation.size} labelled digits)"
    )
    return f"{digits} digits classified with k={k}: {scored}; written to {output}"


if __name__ == "__main__":
    sys.exit(main())
