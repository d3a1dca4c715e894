"""Train k-means on MNIST digits with Spark, label the centroids, and evaluate them.

    spark-submit jobs/train.py --input PATH --k 16 --seed 1 --output DIR

PATH is a folder holding the four MNIST files (train + the official test set),
an IDX images file, a JSON-lines file (``{"label": L, "data": "<base64>"}``),
CSV or Parquet. Options may also come from ``--config conf/train.toml``.
Exit codes: 0 success, 2 bad input or usage, 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import sys

from kmeans_spark.config import resolve_options
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.experiment import ExperimentResult, experiment_data, train_sweep
from kmeans_spark.job_options import (
    TRAINING_DEFAULTS,
    add_input_options,
    add_training_options,
    read_input,
    training_params,
)
from kmeans_spark.model_io import check_output_dir, load_centroids, write_model
from kmeans_spark.report import write_model_report

logger = logging.getLogger("kmeans_spark.jobs.train")

DEFAULTS = {**TRAINING_DEFAULTS, "k": 16}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_input_options(parser)
    parser.add_argument("--k", type=int, help="number of clusters (default 16)")
    add_training_options(parser)
    parser.add_argument(
        "--init-centroids",
        metavar="FILE.npy",
        help="start from these (k, 784) float64 centroids instead of --init",
    )
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
        init = (
            load_centroids(options["init_centroids"], options["k"])
            if options["init_centroids"]
            else None
        )
        params = training_params(options, options["k"], init)
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-train").getOrCreate()
        dataset, sources = read_input(spark, options)
        with experiment_data(dataset.train, dataset.test, params) as data:
            (result,) = train_sweep(data, params, [params.k]).experiments
            held_out, held_out_name = data.held_out
            output = write_model(
                options["output"],
                result,
                sources,
                options["overwrite"],
                extra=lambda staging: write_model_report(
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
        logger.exception("training failed")
        return EXIT_FAILURE
    model = result.model
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
    print(f"model written to {output}")
    return EXIT_OK


def params_seed(result: ExperimentResult) -> int:
    """The seed of the kept restart."""
    return next(r.seed for r in result.restarts if r.kept)


if __name__ == "__main__":
    sys.exit(main())
