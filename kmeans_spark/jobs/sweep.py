"""Train k-means for many k (and restarts) in the same Spark passes, as the walkthrough's sweep.

    spark-submit jobs/sweep.py --input PATH --k 5-24,100 --n-init 1 --seed 1 --output DIR

All models are initialised together and trained as one batch: every pass
serves every model still training, and a model leaves once it converges. DIR
receives sweep.json, sweep.csv, error_by_k.png and the kept model of every k
(k5/, k6/, ...), each as the train job writes it. Options may also come from
``--config``. Exit codes: 0 success, 2 bad input or usage, 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import sys

from kmeans_spark.config import resolve_options
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.experiment import experiment_data, parse_k_list, train_sweep
from kmeans_spark.job_options import (
    TRAINING_DEFAULTS,
    add_input_options,
    add_training_options,
    read_input,
    training_params,
)
from kmeans_spark.model_io import check_output_dir
from kmeans_spark.report import write_sweep_report
from kmeans_spark.sweep_io import write_sweep

logger = logging.getLogger("kmeans_spark.jobs.sweep")

DEFAULTS = {**TRAINING_DEFAULTS, "k": "5-24,100"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_input_options(parser)
    parser.add_argument(
        "--k", help="numbers of clusters: ranges and values, e.g. 5-24,100 (the default)"
    )
    add_training_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = resolve_options(parser, args, DEFAULTS, args.config)
        logging.basicConfig(
            level=options["log_level"],
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        for required in ("input", "output"):
            if not options[required]:
                raise UsageError(f"--{required} is required (on the command line or in --config)")
        check_output_dir(options["output"], options["overwrite"])
        ks = parse_k_list(str(options["k"]))
        params = training_params(options, ks[0])
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-sweep").getOrCreate()
        dataset, sources = read_input(spark, options)
        with experiment_data(dataset.train, dataset.test, params) as data:
            result = train_sweep(data, params, ks)
            held_out, held_out_name = data.held_out
            output = write_sweep(
                options["output"],
                result,
                sources,
                options["overwrite"],
                extra=lambda staging: write_sweep_report(
                    staging,
                    held_out,
                    held_out_name=held_out_name,
                    gallery_label=options["gallery_label"],
                ),
            )
    except KMeansSparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:
        logger.exception("sweep failed")
        return EXIT_FAILURE
    print(f"{'k':>4} {'validation':>10} {'test':>8} {'iterations':>10} {'inertia':>12}")
    for experiment in result.experiments:
        print(
            f"{experiment.params.k:>4} {_rate(experiment.validation):>10} "
            f"{_rate(experiment.test):>8} {experiment.model.iterations:>10} "
            f"{experiment.model.inertia:>12.6g}"
        )
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
