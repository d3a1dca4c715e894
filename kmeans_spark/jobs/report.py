"""Rebuild report.html for a trained model folder, or for a sweep folder and every k's model.

    spark-submit jobs/report.py --model DIR [--gallery-label 9] [--gallery-size 16] [--seed S]

The digits are read again from the inputs the model records (model.json's or
sweep.json's ``input``; ``--input``/``--test`` when they have moved), checked
against the recorded fingerprint and split as training did, so the gallery and
the confusion examples are validation digits. Each page is replaced atomically.
Exit codes: 0 success, 2 bad input or usage, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.report import (
    DEFAULT_GALLERY_LABEL,
    DEFAULT_GALLERY_SIZE,
    write_model_report,
    write_sweep_report,
)
from kmeans_spark.report_source import read_report_digits

logger = logging.getLogger("kmeans_spark.jobs.report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="report.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a train job's or a sweep job's output")
    parser.add_argument(
        "--gallery-label",
        type=int,
        default=DEFAULT_GALLERY_LABEL,
        help="show digits classified as this label (default 9; -1: centroids without a label)",
    )
    parser.add_argument(
        "--gallery-size",
        type=int,
        default=DEFAULT_GALLERY_SIZE,
        help="how many (default 16)",
    )
    parser.add_argument(
        "--seed", type=int, help="chooses the digits shown (default: the model's seed)"
    )
    parser.add_argument("--input", help="read the training digits here (default: as recorded)")
    parser.add_argument("--test", help="read the test digits here (default: as recorded)")
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="INFO"
    )
    return parser


def _record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(record, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return record


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        folder = Path(args.model)
        sweep = (folder / "sweep.json").is_file()
        if not sweep and not (folder / "model.json").is_file():
            raise UsageError(f"--model {folder}: neither a model folder nor a sweep folder")
        if not -1 <= args.gallery_label <= 9:
            raise UsageError(f"--gallery-label must be in -1..9, got {args.gallery_label}")
        if args.gallery_size < 1:
            raise UsageError(f"--gallery-size must be >= 1, got {args.gallery_size}")
        record = _record(folder / ("sweep.json" if sweep else "model.json"))
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-report").getOrCreate()
        digits = read_report_digits(
            spark, record.get("input", {}), record.get("params", {}), args.input, args.test
        )
        try:
            writer = write_sweep_report if sweep else write_model_report
            page = writer(
                folder,
                digits.held_out,
                held_out_name=digits.held_out_name,
                train=digits.train,
                gallery_label=args.gallery_label,
                gallery_size=args.gallery_size,
                seed=args.seed,
            )
        finally:
            digits.unpersist()
    except KMeansSparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:
        logger.exception("report failed")
        return EXIT_FAILURE
    print(f"report written to {page}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
