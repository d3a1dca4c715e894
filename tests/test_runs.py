"""Run ids: the one given, else Spark's application id; ``{run_id}`` in output paths."""

from __future__ import annotations

import pytest

from kmeans_spark.errors import UsageError
from kmeans_spark.runs import output_for_run, run_id_or_application_id


def test_run_id_defaults_to_the_application_id(spark) -> None:
    assert run_id_or_application_id(spark, "nightly-7") == "nightly-7"
    assert run_id_or_application_id(spark, None) == spark.sparkContext.applicationId


def test_output_for_run() -> None:
    assert output_for_run("hdfs:///models/{run_id}", "r1") == "hdfs:///models/r1"
    assert output_for_run("out/{run_id}/k-{run_id}", "r1") == "out/r1/k-r1"
    assert output_for_run("out/{other}", "r1") == "out/{other}"  # only {run_id} is special
    assert output_for_run("out", "a/b") == "out"  # the id is not used, so not checked
    for bad in ("a/b", "..", ""):
        with pytest.raises(UsageError, match="cannot name a folder"):
            output_for_run("out/{run_id}", bad)
