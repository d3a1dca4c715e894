"""Helpers of the report tests: digits with known confusions, and small trained models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from support import separated_digits, write_jsonl

from kmeans_spark.errors import EXIT_OK
from kmeans_spark.jobs.sweep import main as sweep_main
from kmeans_spark.jobs.train import main as train_main


def mislabelled_digits(per_class: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated clusters (3, 5, 8), where every fifth digit of the 3s says 5.

    The clusters stay clean, so k=3 labels them 3, 5 and 8; the mislabelled
    digits are true 5s classified as 3, and a centroid labelled 5 exists to
    compare them with.
    """
    pixels, labels = separated_digits(per_class, seed)
    labels = labels.copy()
    threes = np.flatnonzero(labels == 3)
    labels[threes[::5]] = 5
    return pixels, labels


def write_inputs(folder: Path, per_class: int = 40) -> tuple[Path, Path]:
    """``train.jsonl`` (3 x per_class digits) and ``test.jsonl`` (its first 30) in ``folder``."""
    pixels, labels = mislabelled_digits(per_class)
    write_jsonl(folder / "train.jsonl", pixels, labels)
    write_jsonl(folder / "test.jsonl", pixels[:30], labels[:30])
    return folder / "train.jsonl", folder / "test.jsonl"


def train_model(inputs: tuple[Path, Path], out: Path, *extra: str) -> Path:
    """A k=3 model (k-means++, seed 2, 3 partitions) trained by the train job."""
    train, test = inputs
    argv = ["--input", str(train), "--test", str(test), "--k", "3", "--init", "k-means++"]
    argv += ["--seed", "2", "--partitions", "3", "--output", str(out), *extra]
    assert train_main(argv) == EXIT_OK
    return out


def sweep_models(inputs: tuple[Path, Path], out: Path) -> Path:
    """A sweep of k = 2, 3 (k-means++, seed 2, 2 restarts) written by the sweep job."""
    train, test = inputs
    argv = ["--input", str(train), "--test", str(test), "--k", "2-3", "--n-init", "2"]
    argv += ["--init", "k-means++", "--seed", "2", "--partitions", "2", "--output", str(out)]
    assert sweep_main(argv) == EXIT_OK
    return out
