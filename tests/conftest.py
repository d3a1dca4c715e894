"""Shared fixtures: one local Spark session for the whole run, and the data path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

DATA_ENV = "KMEANS_SPARK_DATA"
REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """The shared data folder: ``$KMEANS_SPARK_DATA``, else ``../shared/data``."""
    configured = os.environ.get(DATA_ENV)
    return Path(configured) if configured else (REPO_ROOT.parent / "shared" / "data")


def require_data(relative: str) -> Path:
    """Path of a shared data file; skip when absent, but fail loudly under ``CI=true``."""
    path = data_root() / relative
    if not path.exists():
        message = f"test data {path} is missing (set {DATA_ENV} to the folder holding it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


SLOW_FILES_FIRST = (
    "test_standalone_cluster.py",
    "test_memory.py",
    "test_checkpoint.py",
    "test_determinism.py",
)
"""Files that take minutes: collected first, so that ``make test``'s two workers
(pytest-xdist, ``--dist loadfile``) start them at once instead of ending on them."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(SLOW_FILES_FIRST)}
    # A stable sort: the tests of a file keep their order, which some module fixtures rely on.
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES_FIRST)))


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    session = (
        SparkSession.builder.master("local[2]")
        .appName("kmeans-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "4g")
        .config("spark.executorEnv.OPENBLAS_NUM_THREADS", "1")  # as conf/spark-defaults.conf
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder holding the four canonical MNIST files."""
    return require_data("mnist")


@pytest.fixture(scope="session")
def digits_jsonl() -> Path:
    """The walkthrough's JSON-lines file of the 60,000 training digits."""
    return require_data("digits.base64.json.gz")
