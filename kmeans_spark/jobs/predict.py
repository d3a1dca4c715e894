"""Classify digits with a trained model: every digit gets its nearest centroid's label.

    spark-submit jobs/predict.py --model DIR --input PATH --output DIR [--csv]

DIR is a model folder written by the train job (or a sweep's ``k<K>/``). PATH is
an IDX images file (labels found beside it, or --labels), a JSON-lines, CSV or
Parquet input, labelled or not, or an MNIST folder, of which the official test
set (the t10k files) is classified. The output folder gets ``predictions.parquet/``
(``id``, ``label``, ``prediction``, ``cluster``, ``distance``; one part file, in id
order), with --csv also ``predictions.csv/`` (the same, with a header), and
``metrics.json`` (run id, error rate, confusion) when the input has labels, and
``_SUCCESS`` last. Both DIRs and PATH are Hadoop paths (``hdfs://``, ``s3a://``,
``file://``, or plain paths on the default file system); ``{run_id}`` in the
output DIR becomes the run id (``--run-id``, else Spark's application id).

Logs go to stderr, the result to stdout: one line with ``--log-format text``
(the default); with ``--log-format json`` one JSON object per log line and the
result as ``{"event": "result", "job": "predict", "run_id": ..., "digits", "k",
"model", "evaluation": {"error_rate", "errors", "size"} or null, "output"}``.
Exit codes: 0 success, 2 bad input or usage, 1 anything else, 130 interrupted,
143 terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from kmeans_spark.blocks import to_blocks
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.evaluation import Evaluation
from kmeans_spark.job_logging import (
    LOG_LEVELS,
    configure_logging,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import add_pipeline_options
from kmeans_spark.model_io import load_model
from kmeans_spark.predict import evaluate, metrics_record, predict, read_input
from kmeans_spark.readers import FORMATS
from kmeans_spark.runs import output_for_run, run_id_or_application_id
from kmeans_spark.storage import check_output_dir, publish_dir

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
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    add_pipeline_options(parser)
    return parser


@job_entry_point("predict")
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message; keep our exit codes
        return EXIT_OK if exc.code == 0 else EXIT_BAD_INPUT
    configure_logging(args.log_level, args.log_format, args.run_id)
    try:
        if args.partitions is not None and args.partitions < 1:
            raise UsageError(f"--partitions must be >= 1, got {args.partitions}")
        from pyspark.sql import SparkSession

        # Started before the checks: Hadoop, in Spark's JVM, answers for the output
        # folder and reads the model, wherever they are.
        spark = SparkSession.builder.appName("kmeans-spark-predict").getOrCreate()
        run_id = run_id_or_application_id(spark, args.run_id)
        # Rebound so that everything below names the folder actually written.
        args.output = output_for_run(args.output, run_id)
        check_output_dir(spark, args.output, args.overwrite)
        model = load_model(args.model, spark=spark)
        # The model's own preprocessing and distance (absent: plain k-means of raw pixels).
        variant = model.model.get("variant")
        rows, source = read_input(spark, args.input, fmt=args.format, labels_path=args.labels)
        blocks = to_blocks(rows, args.partitions)
        try:
            evaluation = evaluate(blocks, model.centroids, model.centroid_labels, variant)
            # Digits are classified in parallel; only the sorted result is written by
            # one task, as one part file in the input's order.
            table = (
                predict(spark, blocks, model.centroids, model.centroid_labels, variant)
                .orderBy("id")
                .coalesce(1)
            )
            with publish_dir(spark, args.output, args.overwrite) as output:
                # Spark's writers write into the staging folder on the target's file
                # system, from the executors; only metrics.json is made on the driver.
                table.write.parquet(output.staging_path("predictions.parquet"))
                if args.csv:
                    table.write.csv(output.staging_path("predictions.csv"), header=True)
                if evaluation is not None:
                    record = {
                        "run_id": run_id,
                        **metrics_record(evaluation, model.path, source, blocks.num_digits),
                    }
                    (output.local / "metrics.json").write_text(
                        json.dumps(record, indent=2, allow_nan=False) + "\n"
                    )
            digits = blocks.num_digits
        finally:
            blocks.unpersist()
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    except Exception:
        logger.exception("prediction failed", extra={"event": "failed", "exit_code": EXIT_FAILURE})
        return EXIT_FAILURE
    if args.log_format == "json":
        scored = None
        if evaluation is not None:
            scored = {
                "error_rate": evaluation.error_rate,
                "errors": evaluation.errors,
                "size": evaluation.size,
            }
        print_result(
            {
                "digits": digits,
                "k": model.k,
                "model": str(model.path),
                "evaluation": scored,
                "output": args.output,
            },
            job="predict",
        )
    else:
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
