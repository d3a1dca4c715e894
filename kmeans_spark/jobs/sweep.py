"""Train k-means for many k (and restarts) in the same Spark passes, as the walkthrough's sweep.

    spark-submit jobs/sweep.py --input PATH --k 5-24,100 --n-init 1 --seed 1 --output DIR

All models are initialised together and trained as one batch: every pass
serves every model still training, and a model leaves once it converges. DIR
receives sweep.json, sweep.csv, error_by_k.png and the kept model of every k
(k5/, k6/, ...), each as the train job writes it. Options may also come from
``--config`` (a local file, or one shipped with ``spark-submit --files``). PATH
and DIR are Hadoop paths (``hdfs://``, ``s3a://``, ``file://``, or plain paths on
the default file system); ``{run_id}`` in DIR becomes the run id (``--run-id``,
else Spark's application id), which sweep.json records. DIR appears whole, with
``_SUCCESS`` (and one in every k's folder), or not at all. After every pass the
driver checkpoints the batch beside DIR; ``--resume`` goes on from there after an
interruption, to the same models.

Logs go to stderr, the result to stdout: with ``--log-format text`` (the
default) a table of the k, with ``--log-format json`` one JSON object per log
line and the result as one JSON object, ``{"event": "result", "job": "sweep",
"run_id": ..., "models": [{"k", "validation_error_rate", "test_error_rate",
"iterations", "inertia"}, ...], "restarts", "passes", "seconds", "output",
"bad_records"}``. ``--on-bad-records skip`` and ``--max-bad-fraction`` work as in
the train job; the rejects go to DIR/rejects/ once, the counts into sweep.json and
every k's metrics.json.
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
from kmeans_spark.experiment import parse_k_list, train_sweep
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
    read_input,
    training_params,
    variant_params,
)
from kmeans_spark.rejects import screened_experiment_data
from kmeans_spark.report import write_sweep_report
from kmeans_spark.runs import output_for_run, run_id_or_application_id
from kmeans_spark.storage import check_output_dir
from kmeans_spark.sweep_io import write_sweep
from kmeans_spark.variants import train_variants

logger = logging.getLogger("kmeans_spark.jobs.sweep")

APP_NAME = "kmeans-spark-sweep"

DEFAULTS = {**TRAINING_DEFAULTS, "k": "5-24,100", "resume": False}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_input_options(parser)
    parser.add_argument(
        "--k", help="numbers of clusters: ranges and values, e.g. 5-24,100 (the default)"
    )
    add_training_options(parser)
    add_variant_options(
        parser,
        per_class_help="centres per class, as --k takes them (e.g. 10,100): learn that many "
        "from each digit class's digits, each labelled with its class; replaces --k",
    )
    add_resume_option(parser)
    return parser


@job_entry_point("sweep")
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
        per_class = options["per_class"] is not None
        ks = parse_k_list(str(options["per_class"] if per_class else options["k"]))
        variant = variant_params(options, per_class)
        if not variant.is_plain and options["resume"]:
            raise UsageError("--resume applies to plain k-means of raw pixels only")
        params = training_params(options, ks[0])
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName(APP_NAME).getOrCreate()
        # Before reading anything: Hadoop answers for the output folder, wherever it is.
        run_id = run_id_or_application_id(spark, options["run_id"])
        output_path = output_for_run(options["output"], run_id)
        target = check_output_dir(spark, output_path, options["overwrite"])
        # Beside the output, which appears only when published; removed after that.
        checkpoint = Checkpoint(spark, checkpoint_dir_for(target))
        dataset, sources = read_input(spark, options)
        # Under --on-bad-records skip, too many rejects stop the job here, before training.
        with screened_experiment_data(dataset, params, policy) as (data, bad_records):
            if variant.is_plain:
                result = train_sweep(
                    data, params, ks, checkpoint=checkpoint, resume=options["resume"]
                )
            else:
                result = train_variants(data, params, variant, ks)
            held_out, held_out_name = data.held_out
            output = write_sweep(
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
                else lambda staging: write_sweep_report(
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
        logger.exception("sweep failed", extra={"event": "failed", "exit_code": EXIT_FAILURE})
        return EXIT_FAILURE
    if options["log_format"] == "json":
        print_result(
            {
                "models": [
                    {
                        "k": experiment.params.k,
                        "validation_error_rate": getattr(experiment.validation, "error_rate", None),
                        "test_error_rate": getattr(experiment.test, "error_rate", None),
                        "iterations": experiment.model.iterations,
                        "inertia": experiment.model.inertia,
                    }
                    for experiment in result.experiments
                ],
                "restarts": params.n_init,
                "passes": result.passes,
                "seconds": result.seconds["total"],
                "output": str(output),
                "bad_records": bad_records.record(),
            },
            job="sweep",
        )
        return EXIT_OK
    print(f"{'k':>4} {'validation':>10} {'test':>8} {'iterations':>10} {'inertia':>12}")
    for experiment in result.experiments:
        print(
            f"{experiment.params.k:>4} {_rate(experiment.validation):>10} "
            f"{_rate(experiment.test):>8} {experiment.model.iterations:>10} "
            f"{experiment.model.inertia:>12.6g}"
        )
    if policy.skips:
        print(bad_records.describe())
    print(
        f"{len(result.experiments)} k x {params.n_init} restarts in {result.passes} passes, "
        f"{result.seconds['total']:.1f} s; written to {output}"
    )
    return EXIT_OK


def _rate(evaluation: object) -> str:
    rate = getattr(evaluation, "error_rate", None)
    return "-" if rate is None else f"{rate:.4f}"


if __name__ == "__main__":
    sys.exit(main())
