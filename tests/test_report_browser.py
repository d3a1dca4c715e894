"""report.html in a real browser: headless Chromium loads every image, and the tables are right.

Needs Debian's ``chromium``; without it the tests skip, and fail under ``CI=true``.
Screenshots are kept under ``$KMEANS_SPARK_ARTIFACTS`` (default ``tests/artifacts/``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from report_html import frequency_counts, parse_report
from report_support import sweep_models, train_model, write_inputs

from kmeans_spark.report import (
    REPORT_NAME,
    read_model_folder,
    write_model_report,
    write_sweep_report,
)
from kmeans_spark.report_source import read_report_digits

ARTIFACTS_ENV = "KMEANS_SPARK_ARTIFACTS"
BROWSER_SECONDS = 120


def artifacts_dir() -> Path:
    configured = os.environ.get(ARTIFACTS_ENV)
    folder = Path(configured) if configured else Path(__file__).resolve().parent / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")  # before the session's Spark: a missing browser says so first
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "headless Chromium is missing (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _browse(chromium: str, page: Path, profile: Path, *options: str) -> str:
    command = [
        chromium,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *options,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_SECONDS, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("browser-input"))


@pytest.fixture(scope="module")
def model(spark, inputs, tmp_path_factory):
    folder = train_model(inputs, tmp_path_factory.mktemp("browser") / "model")
    record = json.loads((folder / "model.json").read_text())
    digits = read_report_digits(spark, record["input"], record["params"])
    try:
        write_model_report(folder, digits.held_out, train=digits.train, gallery_label=3)
    finally:
        digits.unpersist()
    return folder


def test_model_page_loads_every_image_and_shows_the_right_numbers(
    chromium, model, tmp_path
) -> None:
    page = model / REPORT_NAME
    dom = parse_report(_browse(chromium, page, tmp_path / "profile", "--dump-dom"))
    loaded = json.loads(dom.body["data-images-loaded"])
    assert len(loaded) == len(dom.images) == 7
    assert all(width > 0 for width in loaded)
    folder = read_model_folder(model)
    confusion = folder.confusion["validation"]
    tables = frequency_counts(dom)
    assert tables and set(tables) == {str(v) for v in folder.centroid_labels.tolist()}
    for label, counts in tables.items():
        assert counts == confusion[:, int(label)].tolist()
    assert np.sum(confusion) > 0
    shot = artifacts_dir() / "model-report.png"
    shot.unlink(missing_ok=True)
    _browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,3000")
    assert shot.stat().st_size > 0


def test_sweep_page_loads_and_links_to_existing_pages(chromium, inputs, tmp_path) -> None:
    sweep = sweep_models(inputs, tmp_path / "sweep")
    write_sweep_report(sweep)
    page = sweep / REPORT_NAME
    dom = parse_report(_browse(chromium, page, tmp_path / "profile", "--dump-dom"))
    loaded = json.loads(dom.body["data-images-loaded"])
    assert loaded and all(width > 0 for width in loaded)
    (results,) = dom.tables_of("results")
    assert results.links == ["k2/report.html", "k3/report.html"]
    for link in results.links:
        assert (sweep / link).is_file()
    shot = artifacts_dir() / "sweep-report.png"
    shot.unlink(missing_ok=True)
    _browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.stat().st_size > 0
