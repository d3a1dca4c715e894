"""Make a large digits input: N shifted MNIST digits, written as Parquet by the executors.

    spark-submit jobs/make_digits.py --input data/mnist --n 1000000 --output DIR

Digit ``i`` is base digit ``i mod m`` of ``--input`` (its training digits: for an
MNIST folder the 60,000 ``train-*`` digits; any input format the train job reads)
moved by a shift of up to 2 pixels drawn from ``(--seed, i)``
(:mod:`kmeans_spark.synthetic`), with the base digit's label. DIR becomes a
Parquet folder of ``--files`` part files that the train, sweep and predict jobs
read as ``--input DIR``; the digits' positions there are their ids.

The base digits are collected to the driver and broadcast (``m * 784`` bytes:
47 MB for MNIST); the N digits are made and written by the executors and never
reach the driver. INPUT and DIR are Hadoop paths.

Logs go to stderr, the result to stdout: one line with ``--log-format text``
(the default); with ``--log-format json`` one JSON object per log line and the
result as ``{"event": "result", "job": "make_digits", "run_id": ..., "digits",
"base_digits", "seed", "files", "output"}``.
Exit codes: 0 success, 2 bad input or usage, 1 anything else, 130 interrupted,
143 terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np
import numpy.typing as npt
from pyspark.sql import SparkSession

from kmeans_spark.blocks import concat_blocks, to_blocks
from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.job_logging import (
    LOG_LEVELS,
    configure_logging,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import add_pipeline_options
from kmeans_spark.readers import FORMATS, read_dataset
from kmeans_spark.runs import output_for_run, run_id_or_application_id
from kmeans_spark.storage import check_output_dir
from kmeans_spark.synthetic import write_synthetic_parquet

logger = logging.getLogger("kmeans_spark.jobs.make_digits")

DEFAULT_FILES = 8


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make_digits.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input", required=True, help="the base digits: an MNIST folder or any digits input"
    )
    parser.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    parser.add_argument("--n", type=int, required=True, help="number of digits to make")
    parser.add_argument("--output", required=True, help="Parquet folder to write")
    parser.add_argument("--seed", type=int, default=0, help="seeds the shifts (default 0)")
    parser.add_argument(
        "--files",
        type=int,
        default=DEFAULT_FILES,
        help=f"Parquet part files, written in parallel (default {DEFAULT_FILES})",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder"
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    add_pipeline_options(parser)
    return parser


def base_digits(
    spark: SparkSession, path: str, fmt: str | None = None
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The training digits of an input, in id order, on the driver.

    Parameters
    ----------
    spark : SparkSession
    path : str
    fmt : str, optional

    Returns
    -------
    images : ndarray of uint8, shape (m, 784)
    labels : ndarray of int64, shape (m,)
        ``-1`` for unlabelled digits.

    Raises
    ------
    InputError
        As the readers raise it (no digits, a malformed record, ...).
    """
    blocks = to_blocks(read_dataset(spark, path, fmt=fmt).train)
    try:
        # m digits (the base set, 784 bytes each), never the n made from them.
        merged = concat_blocks(block for _, block in blocks.rdd.collect())
    finally:
        blocks.unpersist()
    return merged.pixels, merged.labels.astype(np.int64)


@job_entry_point("make_digits")
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format, args.run_id)
    try:
        if args.n < 1:
            raise UsageError(f"--n must be >= 1, got {args.n}")
        if args.files < 1:
            raise UsageError(f"--files must be >= 1, got {args.files}")
        spark = SparkSession.builder.appName("kmeans-spark-make-digits").getOrCreate()
        run_id = run_id_or_application_id(spark, args.run_id)
        output = output_for_run(args.output, run_id)
        target = check_output_dir(spark, output, args.overwrite)
        started = time.perf_counter()
        images, labels = base_digits(spark, args.input, args.format)
        write_synthetic_parquet(
            spark,
            images,
            labels,
            args.n,
            target,
            seed=args.seed,
            files=min(args.files, args.n),
            overwrite=args.overwrite,
        )
        seconds = time.perf_counter() - started
        logger.info(
            "%d digits from %d base digits written to %s (%.1f s)",
            args.n,
            len(images),
            target,
            seconds,
            extra={
                "event": "written",
                "digits": args.n,
                "base_digits": len(images),
                "seconds": seconds,
            },
        )
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    except Exception:
        logger.exception(
            "making digits failed", extra={"event": "failed", "exit_code": EXIT_FAILURE}
        )
        return EXIT_FAILURE
    if args.log_format == "json":
        print_result(
            {
                "digits": args.n,
                "base_digits": len(images),
                "seed": args.seed,
                "files": min(args.files, args.n),
                "output": target,
            },
            job="make_digits",
        )
    else:
        print(f"{args.n} digits ({len(images)} base digits, seed {args.seed}) written to {target}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
