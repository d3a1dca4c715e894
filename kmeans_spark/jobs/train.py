"""Train k-means on MNIST digits with Spark, label the centroids, and evaluate them.

    spark-submit jobs/train.py --input PATH --k 16 --seed 1 --output DIR

PATH is a folder holding the four MNIST files (train + the official test set),
an IDX images file, a JSON-lines file (``{"label": L, "data": "<base64>"}``),
CSV or Parquet. Options may also come from ``--config conf/train.toml`` (a
local file, or one shipped with ``spark-submit --files``). PATH, DIR and
FILE.npy are Hadoop paths (``hdfs://``, ``s3a://``, ``file://``, or plain paths on
the default file system); ``{run_id}`` in DIR becomes the run id (``--run-id``,
else Spark's application id), which model.json and metrics.json record. DIR
appears whole, with ``_SUCCESS``, or not at all.

Logs go to stderr, the result to stdout: with ``--log-format text`` (the
default) a few human-readable lines, with ``--log-format json`` one JSON object
per log line and the result as one JSON object, ``{"event": "result", "job":
"train", "run_id": ..., "k", "iterations", "converged", "inertia",
"restart_inertias", "kept_seed", "validation", "test", "output", "bad_records"}``
(validation and test: ``{"error_rate", "errors", "size"}`` or null; bad_records as
in metrics.json).

``--on-bad-records skip`` leaves malformed records out (each digit keeps its
id), writes them to DIR/rejects/ and counts them in metrics.json; the job still
fails, before training, when more than ``--max-bad-fraction`` of the training or
of the test records is bad (see :mod:`kmeans_spark.rejects`, docs/bad-input.md).
Exit codes: 0 success, 2 bad input or usage, 1 anything else, 130 interrupted,
143 terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from kmeans_spark.checkpoint import Checkpoint, checkpoint_dir_for
from kmeans_spark.config import locate_config, resolve_options
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.evaluation import Evaluation
from kmeans_spark.experiment import ExperimentResult, train_sweep
from kmeans_spark.job_logging import (
    configure_logging,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import (
    TRAINING_DEFAULTS,
    add_input_options,
    add_resume_option,
    add_training_options,
    add_variant_options,
    bad_record_policy,
    parse_per_class,
    read_input,
    training_params,
    variant_params,
)
from kmeans_spark.model_io import load_centroids, write_model
from kmeans_spark.rejects import screened_experiment_data
from kmeans_spark.report import write_model_report
from kmeans_spark.runs import output_for_run, run_id_or_application_id
from kmeans_spark.storage import check_output_dir
from kmeans_spark.variants import train_variants

logger = logging.getLogger("kmeans_spark.jobs.train")

APP_NAME = "kmeans-spark-train"

DEFAULTS = {**TRAINING_DEFAULTS, "k": 16, "resume": False}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_input_options(parser)
    parser.add_argument("--k", type=int, help="number of clusters (default 16)")
    add_training_options(parser)
    add_variant_options(
        parser,
        per_class_help="learn K centres from each digit class's training digits (10 K in all), "
        "each labelled with its class; replaces --k",
    )
    parser.add_argument(
        "--init-centroids",
        metavar="FILE.npy",
        help="start from these (k, 784) float64 centroids instead of --init",
    )
    add_resume_option(parser)
    return parser


@job_entry_point("train")
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The command line's logging first, so that errors in --config are reported as asked.
    configure_logging(args.log_level or "INFO", args.log_format or "text", args.run_id)
    try:
        options = resolve_options(parser, args, DEFAULTS, locate_config(args.config, APP_NAME))
        configure_logging(options["log_level"], options["log_format"], options["run_id"])
        for required in ("input", "output"):
            if not options[required]:
                raise UsageError(f"--{required} is required (on the command line or in --config)")
        policy = bad_record_policy(options)
        per_class = parse_per_class(options["per_class"])
        variant = variant_params(options, per_class is not None)
        if not variant.is_plain and options["resume"]:
            raise UsageError("--resume applies to plain k-means of raw pixels only")
        from pyspark.sql import SparkSession

        # Started before the checks: Hadoop, in Spark's JVM, answers for the output
        # folder and reads --init-centroids, wherever they are.
        spark = SparkSession.builder.appName(APP_NAME).getOrCreate()
        run_id = run_id_or_application_id(spark, options["run_id"])
        output_path = output_for_run(options["output"], run_id)
        target = check_output_dir(spark, output_path, options["overwrite"])
        # Beside the output, which appears only when published; removed after that.
        checkpoint = Checkpoint(spark, checkpoint_dir_for(target))
        init = (
            load_centroids(options["init_centroids"], options["k"], spark=spark)
            if options["init_centroids"]
            else None
        )
        k = per_class if per_class is not None else options["k"]
        params = training_params(options, k, init)
        dataset, sources = read_input(spark, options)
        # Under --on-bad-records skip, too many rejects stop the job here, before training.
        with screened_experiment_data(dataset, params, policy) as (data, bad_records):
            if variant.is_plain:
                (result,) = train_sweep(
                    data, params, [params.k], checkpoint=checkpoint, resume=options["resume"]
                ).experiments
            else:
                (result,) = train_variants(data, params, variant, [params.k]).experiments
            held_out, held_out_name = data.held_out
            output = write_model(
                output_path,
                result,
                sources,
                options["overwrite"],
                spark=spark,
                run_id=run_id,
                bad_records=bad_records.record(),
                spark_writes=bad_records.write_rejects,
                # report.html shows raw pixels and Euclidean nearest centroids: plain k-means only.
                extra=None
                if not variant.is_plain
                else lambda staging: write_model_report(
                    staging,
                    held_out,
                    held_out_name=held_out_name,
                    gallery_label=options["gallery_label"],
                ),
            )
        checkpoint.remove()
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    except Exception:
        logger.exception("training failed", extra={"event": "failed", "exit_code": EXIT_FAILURE})
        return EXIT_FAILURE
    model = result.model
    if options["log_format"] == "json":
        print_result(
            {
                "k": params.k,
                "iterations": model.iterations,
                "converged": model.converged,
                "inertia": model.inertia,
                "restart_inertias": [r.inertia for r in result.restarts],
                "kept_seed": params_seed(result),
                "validation": _evaluation_fields(result.validation),
                "test": _evaluation_fields(result.test),
                "output": str(output),
                "bad_records": bad_records.record(),
            },
            job="train",
        )
        return EXIT_OK
    print(
        f"k={params.k}: {model.iterations} iterations, "
        f"{'converged' if model.converged else 'not converged'}, inertia {model.inertia:.6g}"
    )
    if len(result.restarts) > 1:
        inertias = [r.inertia for r in result.restarts]
        print(
            f"{len(inertias)} restarts ({params.init_name}): inertia {min(inertias):.6g} "
            f"to {max(inertias):.6g}, kept seed {params_seed(result)}"
        )
    for name, evaluation in (("validation", result.validation), ("test", result.test)):
        if evaluation is not None:
            print(
                f"{name} error rate: {evaluation.error_rate:.4f} "
                f"({evaluation.errors} of {evaluation.size} digits)"
            )
    if policy.skips:
        print(bad_records.describe())
    print(f"model written to {output}")
    return EXIT_OK


def _evaluation_fields(evaluation: Evaluation | None) -> dict[str, float | int] | None:
    """An error rate and its counts for the JSON result."""
    if evaluation is None:
        return None
    return {
        "error_rate": evaluation.error_rate,
        "errors": evaluation.errors,
        "size": evaluation.size,
    }


def params_seed(result: ExperimentResult) -> int:
    """The seed of the kept restart."""
    return next(r.seed for r in result.restarts if r.kept)


if __name__ == "__main__":
    sys.exit(main())
