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
from kmeans_spark.experiment import TrainParams, run_experiment
from kmeans_spark.lloyd import EMPTY_CLUSTER_POLICIES
from kmeans_spark.model_io import check_output_dir, load_centroids, write_model
from kmeans_spark.readers import FORMATS, read_dataset
from kmeans_spark.split import SPLIT_METHODS

logger = logging.getLogger("kmeans_spark.jobs.train")

DEFAULTS = {
    "k": 16,
    "seed": 1,
    "max_iter": 300,
    "tol": 0.0,
    "empty_cluster": "farthest",
    "validation_fraction": 0.25,
    "split": "head",
    "overwrite": False,
    "log_level": "INFO",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="TOML file of option defaults (e.g. conf/train.toml)")
    parser.add_argument(
        "--input", help="training digits: MNIST folder, IDX, JSON lines, CSV, Parquet"
    )
    parser.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    parser.add_argument("--labels", help="IDX labels file, when not beside the images file")
    parser.add_argument(
        "--test", help="a separate test set (any format); implied by an MNIST folder"
    )
    parser.add_argument("--output", help="folder to write the model into (must not exist)")
    parser.add_argument(
        "--overwrite", action="store_true", default=None, help="replace an existing output folder"
    )
    parser.add_argument("--k", type=int, help="number of clusters (default 16)")
    parser.add_argument("--seed", type=int, help="random seed (default 1)")
    parser.add_argument("--max-iter", type=int, help="most Lloyd iterations (default 300)")
    parser.add_argument(
        "--tol", type=float, help="also stop when no centroid moves farther than this (default 0)"
    )
    parser.add_argument(
        "--empty-cluster",
        choices=EMPTY_CLUSTER_POLICIES,
        help="re-seed an empty cluster at the farthest digit, or keep it",
    )
    parser.add_argument(
        "--init-centroids",
        metavar="FILE.npy",
        help="start from these (k, 784) float64 centroids instead of random digits",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        help="share of the input held out for validation (default 0.25)",
    )
    parser.add_argument(
        "--split",
        choices=SPLIT_METHODS,
        help="'head': the first share, as the walkthrough; 'random': seeded",
    )
    parser.add_argument("--partitions", type=int, help="number of data partitions")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
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
        params = TrainParams(
            k=options["k"],
            seed=options["seed"],
            max_iter=options["max_iter"],
            tol=options["tol"],
            empty_cluster=options["empty_cluster"],
            validation_fraction=options["validation_fraction"],
            split=options["split"],
            partitions=options["partitions"],
            init_centroids=init,
        )
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-train").getOrCreate()
        dataset = read_dataset(
            spark,
            options["input"],
            fmt=options["format"],
            labels_path=options["labels"],
            test_path=options["test"],
        )
        result = run_experiment(dataset.train, dataset.test, params)
        sources = {"train": dataset.train_source, "test": dataset.test_source}
        output = write_model(options["output"], result, params, sources, options["overwrite"])
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
    for name, evaluation in (("validation", result.validation), ("test", result.test)):
        if evaluation is not None:
            print(
                f"{name} error rate: {evaluation.error_rate:.4f} "
                f"({evaluation.errors} of {evaluation.size} digits)"
            )
    print(f"model written to {output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
