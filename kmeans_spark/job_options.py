"""Command-line options shared by the jobs, and the parameters they make.

:func:`add_pipeline_options` (``--run-id``, ``--log-format``) is on every job.
The rest serves the train and sweep jobs, whose options all default to None on
the parser, so that :func:`~kmeans_spark.config.resolve_options` can tell "not
given" from a value and let a ``--config`` TOML file fill the gaps.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.errors import UsageError
from kmeans_spark.experiment import TrainParams
from kmeans_spark.init import INIT_METHODS, INIT_RANDOM
from kmeans_spark.job_logging import LOG_FORMATS, LOG_LEVELS
from kmeans_spark.lloyd import EMPTY_CLUSTER_POLICIES, EMPTY_FARTHEST
from kmeans_spark.preprocess import parse_preprocess
from kmeans_spark.readers import BAD_RECORD_POLICIES, FAIL, FORMATS, Dataset, read_dataset
from kmeans_spark.rejects import (
    DEFAULT_MAX_BAD_FRACTION,
    BadRecordPolicy,
    validate_max_bad_fraction,
)
from kmeans_spark.split import SPLIT_HEAD, SPLIT_METHODS
from kmeans_spark.variants import ALGORITHMS, KMEANS, VariantParams

TRAINING_DEFAULTS: dict[str, Any] = {
    "seed": 1,
    "max_iter": 300,
    "tol": 0.0,
    "empty_cluster": EMPTY_FARTHEST,
    "validation_fraction": 0.25,
    "split": SPLIT_HEAD,
    "init": INIT_RANDOM,
    "n_init": 1,
    "init_oversampling": 2.0,
    "init_steps": 2,
    "overwrite": False,
    "log_level": "INFO",
    "log_format": "text",
    "gallery_label": 9,
    "on_bad_records": FAIL,
    "max_bad_fraction": DEFAULT_MAX_BAD_FRACTION,
    "algorithm": KMEANS,
    "preprocess": "",
}

# Run ids may become part of output paths (``--output runs/{run_id}``): no "/", no "." or
# "..", and only characters that need no quoting in a shell, a URI or a file name.
_RUN_ID = re.compile(r"[A-Za-z0-9._:+-]{1,128}")


def validate_run_id(value: object) -> str:
    """``value`` if it is a valid run id, else :class:`UsageError`.

    A run id is 1 to 128 characters of ``A-Z a-z 0-9 . _ : + -``, and not
    ``.`` or ``..``.
    """
    if not isinstance(value, str) or not _RUN_ID.fullmatch(value) or value in (".", ".."):
        raise UsageError(
            f"--run-id must be 1 to 128 characters of A-Z a-z 0-9 . _ : + - "
            f"and not '.' or '..', got {value!r}"
        )
    return value


def _run_id_argument(text: str) -> str:
    """:func:`validate_run_id` as an argparse type: argparse shows ArgumentTypeError's text."""
    try:
        return validate_run_id(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction_argument(text: str) -> float:
    """:func:`validate_max_bad_fraction` as an argparse type (and for ``--config`` values)."""
    try:
        return validate_max_bad_fraction(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_pipeline_options(
    parser: argparse.ArgumentParser, log_format_default: str | None = "text"
) -> None:
    """``--run-id`` and ``--log-format``, for running the job from a scheduler.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    log_format_default : str or None
        None for jobs whose defaults come from :data:`TRAINING_DEFAULTS` and ``--config``.
    """
    parser.add_argument(
        "--run-id",
        type=_run_id_argument,
        metavar="ID",
        help="identifies this run in every log line and output (1-128 of A-Za-z0-9._:+-)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=log_format_default,
        help="text (default) or json: one JSON object per log line on stderr, "
        "and the result as one JSON object on stdout",
    )


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--input``, ``--format``, ``--labels``, ``--test``, ``--output``, ..."""
    parser.add_argument("--config", help="TOML file of option defaults (e.g. conf/train.toml)")
    parser.add_argument(
        "--input", help="training digits: MNIST folder, IDX, JSON lines, CSV, Parquet"
    )
    parser.add_argument("--format", choices=FORMATS, help="input format (default: detected)")
    parser.add_argument("--labels", help="IDX labels file, when not beside the images file")
    parser.add_argument(
        "--test", help="a separate test set (any format); implied by an MNIST folder"
    )
    parser.add_argument("--output", help="folder to write into (must not exist)")
    parser.add_argument(
        "--on-bad-records",
        choices=BAD_RECORD_POLICIES,
        help="fail (default): the first bad record stops the job; skip: leave bad records "
        "out, write them to rejects/ in the output and count them in metrics.json",
    )
    parser.add_argument(
        "--max-bad-fraction",
        type=_fraction_argument,
        metavar="F",
        help="with --on-bad-records skip, still fail when more than this share of the "
        f"training or of the test records is bad (0..1, default {DEFAULT_MAX_BAD_FRACTION})",
    )
    parser.add_argument(
        "--overwrite", action="store_true", default=None, help="replace an existing output folder"
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS)
    add_pipeline_options(parser, log_format_default=None)
    parser.add_argument(
        "--gallery-label",
        type=int,
        choices=range(10),
        metavar="L",
        help="report.html shows held-out digits classified as L (default 9)",
    )


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Seed, stopping rule, initialisation, restarts, split and partitioning."""
    parser.add_argument("--seed", type=int, help="random seed (default 1)")
    parser.add_argument("--max-iter", type=int, help="most Lloyd iterations (default 300)")
    parser.add_argument(
        "--tol", type=float, help="also stop when no centroid moves farther than this (default 0)"
    )
    parser.add_argument(
        "--empty-cluster",
        choices=EMPTY_CLUSTER_POLICIES,
        help="re-seed an empty cluster at the farthest digit, or keep it",
    )
    parser.add_argument(
        "--init",
        choices=INIT_METHODS,
        help="initial centroids: random digits (default), k-means++ or k-means||",
    )
    parser.add_argument(
        "--n-init",
        type=int,
        help="restarts per k, trained together; the lowest training inertia is kept (default 1)",
    )
    parser.add_argument(
        "--init-trials",
        type=int,
        help="k-means++ candidates per centre (default 2 + int(ln k); 1: the original algorithm)",
    )
    parser.add_argument(
        "--init-oversampling",
        type=float,
        help="k-means|| samples about this many times k points per round (default 2)",
    )
    parser.add_argument("--init-steps", type=int, help="k-means|| rounds (default 2)")
    parser.add_argument(
        "--validation-fraction",
        type=float,
        help="share of the input held out for validation (default 0.25)",
    )
    parser.add_argument(
        "--split",
        choices=SPLIT_METHODS,
        help="'head': the first share, as the walkthrough; 'random': seeded",
    )
    parser.add_argument("--partitions", type=int, help="number of data partitions")


def add_variant_options(parser: argparse.ArgumentParser, per_class_help: str) -> None:
    """``--algorithm``, ``--preprocess`` and ``--per-class`` (see :mod:`kmeans_spark.variants`)."""
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        help="k-means (default), k-medians (L1, per-pixel medians) or spherical (cosine)",
    )
    parser.add_argument(
        "--preprocess",
        metavar="STEPS",
        help="comma-separated steps applied to every digit on the executors: "
        "deskew (moment-based shear), normalize (unit length); e.g. deskew,normalize",
    )
    parser.add_argument("--per-class", metavar="K", help=per_class_help)


def parse_per_class(value: object) -> int | None:
    """``--per-class K`` of the train job: a positive integer, or None when not given."""
    if value is None:
        return None
    try:
        count = int(str(value))
    except ValueError:
        raise UsageError(f"--per-class must be a positive integer, got {value!r}") from None
    if count < 1 or isinstance(value, bool):
        raise UsageError(f"--per-class must be a positive integer, got {value!r}")
    return count


def variant_params(options: dict[str, Any], per_class: bool) -> VariantParams:
    """:class:`~kmeans_spark.variants.VariantParams` from resolved options."""
    return VariantParams(
        algorithm=options["algorithm"],
        preprocess=parse_preprocess(options["preprocess"]),
        per_class=per_class,
    )


def add_resume_option(parser: argparse.ArgumentParser) -> None:
    """``--resume``: go on from the checkpoint an interrupted run left (train and sweep)."""
    parser.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="go on from the checkpoint of an interrupted run with the same options and "
        "output (the hidden folder .NAME.checkpoint beside DIR); without it a checkpoint "
        "is overwritten",
    )


def training_params(
    options: dict[str, Any], k: int, init_centroids: npt.NDArray[np.float64] | None = None
) -> TrainParams:
    """:class:`TrainParams` from resolved options (see :func:`add_training_options`)."""
    return TrainParams(
        k=k,
        seed=options["seed"],
        max_iter=options["max_iter"],
        tol=options["tol"],
        empty_cluster=options["empty_cluster"],
        validation_fraction=options["validation_fraction"],
        split=options["split"],
        partitions=options["partitions"],
        init_centroids=init_centroids,
        init=options["init"],
        n_init=options["n_init"],
        init_trials=options["init_trials"],
        init_oversampling=options["init_oversampling"],
        init_steps=options["init_steps"],
    )


def bad_record_policy(options: dict[str, Any]) -> BadRecordPolicy:
    """``--on-bad-records`` and ``--max-bad-fraction`` from resolved options, checked.

    Raises
    ------
    UsageError
        An unknown policy or a fraction outside [0, 1].
    """
    return BadRecordPolicy(
        options["on_bad_records"], validate_max_bad_fraction(options["max_bad_fraction"])
    )


def read_input(spark: Any, options: dict[str, Any]) -> tuple[Dataset, dict[str, str | None]]:
    """The digits named by :func:`add_input_options`, and their sources for model.json.

    Read under the ``--on-bad-records`` policy (see :func:`bad_record_policy`).
    """
    dataset = read_dataset(
        spark,
        options["input"],
        fmt=options["format"],
        labels_path=options["labels"],
        test_path=options["test"],
        bad_records=bad_record_policy(options).on_bad_records,
    )
    return dataset, {"train": dataset.train_source, "test": dataset.test_source}
