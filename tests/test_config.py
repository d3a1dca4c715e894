from __future__ import annotations

import argparse

import pytest

from kmeans_spark.config import load_toml, resolve_options
from kmeans_spark.errors import UsageError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    p.add_argument("--k", type=int)
    p.add_argument("--tol", type=float)
    p.add_argument("--split", choices=["head", "random"])
    p.add_argument("--overwrite", action="store_true", default=None)
    return p


def resolve(argv: list[str], config: str | None = None) -> dict:
    p = parser()
    return resolve_options(p, p.parse_args(argv), {"k": 16, "tol": 0.0, "split": "head"}, config)


def test_command_line_beats_file_beats_defaults(tmp_path) -> None:
    config = tmp_path / "train.toml"
    config.write_text('k = 10\nsplit = "random"\noverwrite = true\n')
    options = resolve(["--k", "12"], str(config))
    assert options == {"k": 12, "tol": 0.0, "split": "random", "overwrite": True}
    assert resolve([]) == {"k": 16, "tol": 0.0, "split": "head", "overwrite": None}


def test_dashed_keys_are_accepted(tmp_path) -> None:
    config = tmp_path / "train.toml"
    config.write_text("max-iter = 5\n")
    assert load_toml(config) == {"max_iter": 5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kk = 3\n", "unknown option 'kk'"),
        ('k = "three"\n', "expected a number"),
        ("k = 2.5\n", "expected an integer"),
        ('split = "tail"\n', "not one of head, random"),
        ('overwrite = "yes"\n', "expected true or false"),
        ("k = \n", "not valid TOML"),
    ],
)
def test_bad_config_files(tmp_path, text, message) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(UsageError, match=message):
        resolve([], str(config))


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        resolve([], str(tmp_path / "nope.toml"))


def test_shipped_train_config_is_valid() -> None:
    from conftest import REPO_ROOT

    from kmeans_spark.jobs.train import build_parser

    p = build_parser()
    options = resolve_options(p, p.parse_args([]), {}, str(REPO_ROOT / "conf" / "train.toml"))
    assert options["k"] == 16 and options["split"] == "head"


@pytest.mark.parametrize(
    ("job", "config", "k"),
    [("train", "train.toml", 16), ("sweep", "sweep.toml", "5-24,100")],
)
def test_shipped_job_configs_parse_with_the_jobs_own_parsers(job, config, k) -> None:
    import importlib

    from conftest import REPO_ROOT

    module = importlib.import_module(f"kmeans_spark.jobs.{job}")
    job_parser = module.build_parser()
    path = str(REPO_ROOT / "conf" / config)
    options = resolve_options(job_parser, job_parser.parse_args([]), module.DEFAULTS, path)
    assert options["k"] == k
    assert options["init"] == "random" and options["n_init"] == 1
    assert options["init_steps"] == 2 and options["init_oversampling"] == 2.0


def pipeline_parser() -> argparse.ArgumentParser:
    from kmeans_spark.job_options import add_pipeline_options

    p = argparse.ArgumentParser()
    p.add_argument("--config")
    add_pipeline_options(p, log_format_default=None)
    return p


def test_run_id_and_log_format_come_from_the_config_file(tmp_path) -> None:
    config = tmp_path / "train.toml"
    config.write_text('run_id = "nightly-2026-01-31"\nlog-format = "json"\n')
    p = pipeline_parser()
    options = resolve_options(p, p.parse_args([]), {"log_format": "text"}, str(config))
    assert options == {"run_id": "nightly-2026-01-31", "log_format": "json"}
    options = resolve_options(p, p.parse_args(["--run-id", "cli"]), {}, str(config))
    assert options["run_id"] == "cli"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('run_id = "a/b"\n', "--run-id must be"),
        ('run_id = ".."\n', "--run-id must be"),
        ("run_id = 7\n", "--run-id must be"),
        ('log_format = "xml"\n', "not one of text, json"),
    ],
)
def test_bad_pipeline_options_in_the_config_file(tmp_path, text, message) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    p = pipeline_parser()
    with pytest.raises(UsageError, match=message):
        resolve_options(p, p.parse_args([]), {}, str(config))
