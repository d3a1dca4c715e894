"""The k-means family side by side: test error and training time of each variant and k.

One data load (training set and the official test set, cached once) serves
every configuration; each ``(configuration, k)`` is then trained on its own,
so that its training time is its own, and classifies the test digits by its
nearest centre. :data:`DEFAULT_CONFIGURATIONS` is the table of issue 8:
k-medians and spherical k-means beside plain k-means at k = 16 and 100, global
k-means at k = 1000, per-class k-means with 10 centres per class, and the best
configuration found here (deskewed, unit-length digits, per-class).

Data in (an :class:`~kmeans_spark.experiment.ExperimentData`), rows out; the job
:mod:`kmeans_spark.jobs.compare_variants` writes them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from kmeans_spark.errors import UsageError
from kmeans_spark.experiment import ExperimentData, SweepResult, TrainParams, train_sweep
from kmeans_spark.variants import KMEANS, KMEDIANS, SPHERICAL, VariantParams, train_variants

logger = logging.getLogger(__name__)

DESKEW_NORMALIZE = ("deskew", "normalize")


@dataclass(frozen=True)
class Configuration:
    """One row group of the table: a variant, its k values and how it is trained.

    Attributes
    ----------
    name : str
        Short, unique; ``--only`` selects by it.
    variant : VariantParams
    ks : tuple of int
        Centres per model (per class for a per-class variant).
    max_iter : int
    """

    name: str
    variant: VariantParams
    ks: tuple[int, ...]
    max_iter: int = 300


DEFAULT_CONFIGURATIONS: tuple[Configuration, ...] = (
    Configuration("k-means", VariantParams(KMEANS), (16, 100, 1000)),
    Configuration("k-medians", VariantParams(KMEDIANS), (16, 100)),
    Configuration("spherical", VariantParams(SPHERICAL), (16, 100)),
    Configuration("k-means-per-class", VariantParams(KMEANS, per_class=True), (10,)),
    Configuration(
        "k-means-per-class-deskew-normalize",
        VariantParams(KMEANS, DESKEW_NORMALIZE, per_class=True),
        (10, 100, 300),
    ),
)
"""The table of issue 8 (about 30 minutes on two cores)."""

QUICK_CONFIGURATIONS: tuple[Configuration, ...] = tuple(
    replace(c, ks=(min(c.ks),), max_iter=20) for c in DEFAULT_CONFIGURATIONS
)
"""Each configuration at its smallest k, at most 20 iterations: a few minutes."""


@dataclass(frozen=True)
class ComparisonRow:
    """What one ``(configuration, k)`` measured.

    Attributes
    ----------
    configuration, algorithm : str
    preprocess : list of str
    per_class : bool
    k : int
        Centres per model, or per class.
    centres : int
        Centres in all (``10 k`` per class).
    test_error_rate : float or None
    iterations : int
    converged : bool
    train_seconds : float
        Initialisation and Lloyd iterations (the data load is shared, not counted).
    """

    configuration: str
    algorithm: str
    preprocess: list[str]
    per_class: bool
    k: int
    centres: int
    test_error_rate: float | None
    iterations: int
    converged: bool
    train_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_configurations(
    names: Sequence[str] | None, quick: bool = False
) -> tuple[Configuration, ...]:
    """The configurations to run: all (or the quick ones), or those ``names`` names.

    Raises
    ------
    UsageError
        A name that is no configuration.
    """
    available = QUICK_CONFIGURATIONS if quick else DEFAULT_CONFIGURATIONS
    if not names:
        return available
    by_name = {c.name: c for c in available}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UsageError(
            f"unknown configuration {', '.join(unknown)}: choose from {', '.join(by_name)}"
        )
    return tuple(by_name[name] for name in names)


def _train(data: ExperimentData, params: TrainParams, variant: VariantParams) -> SweepResult:
    if variant.is_plain:
        return train_sweep(data, params, [params.k])
    return train_variants(data, params, variant, [params.k])


def compare_variants(
    data: ExperimentData, base: TrainParams, configurations: Sequence[Configuration]
) -> list[ComparisonRow]:
    """Train and test every configuration at every one of its k.

    Parameters
    ----------
    data : ExperimentData
        With a test set (the rows' error rates are on it).
    base : TrainParams
        Seed, initialisation, tolerance and partitioning shared by all rows;
        ``k`` and ``max_iter`` come from each configuration.
    configurations : sequence of Configuration

    Returns
    -------
    list of ComparisonRow
        In the order of ``configurations`` and their ``ks``.
    """
    if data.test is None:
        raise UsageError("the comparison needs a test set: an MNIST folder, or --test")
    rows = []
    for configuration in configurations:
        for k in configuration.ks:
            params = replace(base, k=k, max_iter=configuration.max_iter)
            started = time.perf_counter()
            (result,) = _train(data, params, configuration.variant).experiments
            seconds = time.perf_counter() - started - result.seconds["evaluate"]
            variant = configuration.variant
            row = ComparisonRow(
                configuration.name,
                variant.algorithm,
                list(variant.preprocess),
                variant.per_class,
                k,
                int(result.model.centroids.shape[0]),
                None if result.test is None else result.test.error_rate,
                result.model.iterations,
                result.model.converged,
                seconds,
            )
            logger.info(
                "%s k=%d: test error %s, %d iterations, %.1f s",
                row.configuration,
                k,
                _rate(row.test_error_rate),
                row.iterations,
                seconds,
                extra={"event": "compared", **row.as_dict()},
            )
            rows.append(row)
    return rows


def _rate(rate: float | None) -> str:
    return "-" if rate is None or math.isnan(rate) else f"{rate:.4f}"


def markdown_table(rows: Sequence[ComparisonRow]) -> str:
    """The rows as a Markdown table: variant, k, centres, test error, iterations, seconds."""
    lines = [
        "| variant | preprocess | per class | k | centres | test error | iterations | "
        "train s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.algorithm} | {'+'.join(row.preprocess) or '-'} | "
            f"{'yes' if row.per_class else 'no'} | {row.k} | {row.centres} | "
            f"{_rate(row.test_error_rate)} | {row.iterations}"
            f"{'' if row.converged else ' (max)'} | {row.train_seconds:.1f} |"
        )
    return "\n".join(lines)
