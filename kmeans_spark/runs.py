"""Naming a job's run: the ``--run-id`` given, else Spark's application id.

Every output records the id of the run that wrote it (``model.json``,
``metrics.json``, ``sweep.json``, the predict job's ``metrics.json``, the
benchmarks' JSON), and ``{run_id}`` in an ``--output`` path is replaced by it, so
that ``--output hdfs:///models/{run_id}`` gives every run its own folder.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from kmeans_spark.errors import UsageError

RUN_ID_FIELD = "{run_id}"


def run_id_or_application_id(spark: SparkSession, run_id: str | None) -> str:
    """``run_id`` when given, else the id Spark gave this application.

    Spark's id names the run in its UI, history server and logs: ``local-<millis>``
    in local mode, ``application_<cluster>_<n>`` on YARN, ``app-...`` standalone.
    """
    return run_id if run_id is not None else str(spark.sparkContext.applicationId)


def output_for_run(output: str, run_id: str) -> str:
    """``output`` with every ``{run_id}`` replaced by ``run_id``.

    Raises
    ------
    UsageError
        When ``output`` names ``{run_id}`` and the id would not be one folder name.
    """
    if RUN_ID_FIELD not in output:
        return output
    if not run_id or "/" in run_id or run_id in (".", ".."):
        raise UsageError(f"run id {run_id!r} cannot name a folder in --output {output}")
    return output.replace(RUN_ID_FIELD, run_id)
