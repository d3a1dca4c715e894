"""Rebuild report.html for a trained model folder, or for a sweep folder and every k's model.

    spark-submit jobs/report.py --model DIR [--gallery-label 9] [--gallery-size 16] [--seed S]

The digits are read again from the inputs the model records (model.json's or
sweep.json's ``input``; ``--input``/``--test`` when they have moved), checked
against the recorded fingerprint and split as training did, so the gallery and
the confusion examples are validation digits. DIR is a Hadoop path (``hdfs://``,
``s3a://``, ``file://``, or a plain path on the default file system): the pages
are made from a local copy of the folder's few small files, then copied back,
each replacing the old page at once (in one rename where the file system can).

Logs go to stderr, the result to stdout: ``report written to PAGE`` with
``--log-format text`` (the default); with ``--log-format json`` one JSON object
per log line and the result as ``{"event": "result", "job": "report", "run_id":
..., "page"}``.
Exit codes: 0 success, 2 bad input or usage, 1 anything else, 130 interrupted,
143 terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, KMeansSparkError, UsageError
from kmeans_spark.job_logging import (
    LOG_LEVELS,
    configure_logging,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import add_pipeline_options
from kmeans_spark.model_io import MODEL_FILES, PLAIN_VARIANT
from kmeans_spark.readers import BAD_RECORD_POLICIES, FAIL
from kmeans_spark.readers.paths import join
from kmeans_spark.report import (
    DEFAULT_GALLERY_LABEL,
    DEFAULT_GALLERY_SIZE,
    REPORT_NAME,
    write_model_report,
    write_sweep_report,
)
from kmeans_spark.report_source import read_report_digits
from kmeans_spark.storage import fetch_files, replace_file

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
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    add_pipeline_options(parser)
    return parser


# What a model's page is made from.
PAGE_SOURCES = (*MODEL_FILES, "confusion.csv")


def _record(path: Path, shown: str) -> dict[str, Any]:
    """The JSON object in the local file ``path``; UsageError naming ``shown`` otherwise."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{shown}: not readable JSON ({exc})") from None
    if not isinstance(record, dict):
        raise UsageError(f"{shown}: expected a JSON object")
    return record


def _page_sources(record: dict[str, Any], sweep: bool, shown: str) -> list[str]:
    """The files, relative to the folder, that its pages are made from.

    Raises
    ------
    UsageError
        A sweep's result names no model folder, or one outside the sweep's folder.
    """
    if not sweep:
        return list(PAGE_SOURCES)
    names: list[str] = []
    for result in record.get("results", []):
        model = result.get("model") if isinstance(result, dict) else None
        if not isinstance(model, str) or model in ("", ".", "..") or "/" in model:
            raise UsageError(f"{shown}: a result names model folder {model!r}, expected k<K>")
        names += [f"{model}/{name}" for name in PAGE_SOURCES]
    return names


def _trained_policy(local: Path, sweep: bool, record: dict[str, Any]) -> str:
    """``--on-bad-records`` of the training: from sweep.json, or the model's metrics.json."""
    bad_records = record.get("bad_records")
    if not sweep:
        metrics_path = local / "metrics.json"
        bad_records = (
            _record(metrics_path, str(metrics_path)).get("bad_records")
            if (metrics_path.exists())
            else None
        )
    policy = bad_records.get("policy") if isinstance(bad_records, dict) else None
    return policy if policy in BAD_RECORD_POLICIES else FAIL


@job_entry_point("report")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format, args.run_id)
    try:
        if not -1 <= args.gallery_label <= 9:
            raise UsageError(f"--gallery-label must be in -1..9, got {args.gallery_label}")
        if args.gallery_size < 1:
            raise UsageError(f"--gallery-size must be >= 1, got {args.gallery_size}")
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("kmeans-spark-report").getOrCreate()
        folder = args.model
        with tempfile.TemporaryDirectory(prefix="kmeans-spark-report-") as copy:
            local = Path(copy)
            found = fetch_files(spark, folder, ["sweep.json", "model.json"], local)
            if not found:
                raise UsageError(f"--model {folder}: neither a model folder nor a sweep folder")
            sweep = "sweep.json" in found
            record_name = "sweep.json" if sweep else "model.json"
            shown = join(folder, record_name)
            record = _record(local / record_name, shown)
            variant = record.get("variant") or PLAIN_VARIANT
            if variant != PLAIN_VARIANT:
                raise UsageError(
                    f"{shown}: report.html is drawn for k-means of raw pixels; this model is "
                    f"{variant.get('algorithm')} with preprocess {variant.get('preprocess')} "
                    f"and per_class {variant.get('per_class')}"
                )
            fetch_files(spark, folder, _page_sources(record, sweep, shown), local)
            digits = read_report_digits(
                spark,
                record.get("input", {}),
                record.get("params", {}),
                args.input,
                args.test,
                bad_records=_trained_policy(local, sweep, record),
            )
            try:
                writer = write_sweep_report if sweep else write_model_report
                writer(
                    local,
                    digits.held_out,
                    held_out_name=digits.held_out_name,
                    train=digits.train,
                    gallery_label=args.gallery_label,
                    gallery_size=args.gallery_size,
                    seed=args.seed,
                )
            finally:
                digits.unpersist()
            # Every k's page before the sweep's page that links to them.
            pages = sorted(
                (p.relative_to(local).as_posix() for p in local.rglob(REPORT_NAME)),
                key=lambda name: (name == REPORT_NAME, name),
            )
            for name in pages:
                replace_file(spark, local / name, join(folder, name))
        page = join(folder, REPORT_NAME)
    except KMeansSparkError as exc:
        return report_error(logger, exc, EXIT_BAD_INPUT)
    except Exception:
        logger.exception("report failed", extra={"event": "failed", "exit_code": EXIT_FAILURE})
        return EXIT_FAILURE
    if args.log_format == "json":
        print_result({"page": str(page)}, job="report")
    else:
        print(f"report written to {page}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
