"""The ``kmeans-spark`` command: every job behind one console script.

    kmeans-spark train --input data/mnist --k 16 --output runs/k16
    kmeans-spark sweep --config conf/sweep.toml --input data/mnist --output runs/sweep
    kmeans-spark --help

``kmeans-spark COMMAND ARGS...`` runs ``kmeans_spark.jobs.<module>.main(ARGS)``
in this Python process; ``kmeans-spark COMMAND --help`` shows the job's options.
Installed by ``pip install`` (``[project.scripts]`` in pyproject.toml).

Spark
    The job gets its SparkSession from ``pyspark`` itself, which starts a local
    JVM through pyspark's bundled spark-submit: the master and other settings
    come from ``$SPARK_CONF_DIR/spark-defaults.conf`` (``SPARK_CONF_DIR=conf``
    gives this project's ``local[2]``) or from ``PYSPARK_SUBMIT_ARGS``; without
    either, pyspark's default ``local[*]``. Nothing here sets a master, so the
    same command works wherever the configuration points. For a cluster, submit
    the ``jobs/*.py`` entry points with ``spark-submit`` instead.

Exit codes
    The job's (0 success, 2 bad input or usage, 1 anything else, 130
    interrupted, 143 terminated; see :mod:`kmeans_spark.job_logging`); 2 for
    a missing or unknown command; 0 for ``--help``.
"""

from __future__ import annotations

import importlib
import sys
from typing import NamedTuple

from kmeans_spark.errors import EXIT_BAD_INPUT, EXIT_OK

PROG = "kmeans-spark"


class Command(NamedTuple):
    """A subcommand: the job module it runs and one line of help."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    "train": Command("train", "train k-means for one k, label and evaluate it"),
    "sweep": Command("sweep", "train many k (and restarts) in the same Spark passes"),
    "predict": Command("predict", "classify digits with a trained model"),
    "report": Command("report", "rebuild report.html of a model or sweep folder"),
    "fetch": Command("fetch_mnist", "fetch the MNIST files, checksums verified"),
    "bench": Command("benchmark", "seconds per Lloyd iteration beside MLlib, scikit-learn"),
    "bench-sweep": Command("bench_sweep", "the batched sweep against one run per k"),
    "profile": Command("profile_iteration", "where a Lloyd iteration's time goes"),
    "compare-variants": Command("compare_variants", "test error of the k-means variants"),
}


def usage() -> str:
    """The text of ``kmeans-spark --help``."""
    width = max(map(len, COMMANDS))
    lines = [
        f"usage: {PROG} COMMAND [OPTIONS...]",
        "",
        "Exact, reproducible k-means of MNIST digits with Spark.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()),
        "",
        f"'{PROG} COMMAND --help' shows a command's options.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv[0]`` with the arguments after it; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        Default ``sys.argv[1:]``.

    Returns
    -------
    int
        The job's exit code; 2 for a missing or unknown command.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(usage())
        return EXIT_OK
    if not args:
        print(usage(), file=sys.stderr)
        return EXIT_BAD_INPUT
    name, rest = args[0], args[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"usage: {PROG} COMMAND [OPTIONS...]", file=sys.stderr)
        print(
            f"{PROG}: error: unknown command {name!r} (choose from {', '.join(COMMANDS)})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    # Imported on demand: `kmeans-spark --help` need not load numpy and pyspark.
    job = importlib.import_module(f"kmeans_spark.jobs.{command.module}")
    code: int = job.main(rest)
    return code


if __name__ == "__main__":
    sys.exit(main())
