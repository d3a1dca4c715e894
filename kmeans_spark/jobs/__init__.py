"""The jobs: argument parsing, session building, library calls and writing.

Each module has ``main(argv=None) -> int`` (exit code 0 success, 2 bad input or
usage, 1 anything else, 130 after SIGINT, 143 after SIGTERM), and takes
``--run-id`` and ``--log-format text|json``: logs on stderr, the result on
stdout (see :mod:`kmeans_spark.job_logging`). They are run three ways:
``spark-submit jobs/<name>.py`` (thin entry points outside the package, which
import these from the installed package or from ``dist/kmeans_spark.zip`` given
with ``--py-files``), the ``kmeans-spark <command>`` console script
(:mod:`kmeans_spark.cli`), and directly from tests.
"""
