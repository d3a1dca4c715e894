"""Helpers shared by the tests: digits from numpy arrays, and MNIST loaded with numpy."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pyspark.sql import SparkSession

from kmeans_spark.blocks import DigitBlocks, to_blocks
from kmeans_spark.schema import N_PIXELS


def rows_from_arrays(
    pixels: npt.ArrayLike, labels: npt.ArrayLike | None = None
) -> list[tuple[int, int | None, bytes]]:
    """Reader rows for ``(n, 784)`` uint8 pixels and optional ``(n,)`` labels."""
    matrix = np.asarray(pixels, dtype=np.uint8).reshape(-1, N_PIXELS)
    label_list = [None] * len(matrix) if labels is None else [int(v) for v in np.asarray(labels)]
    return [(i, label_list[i], matrix[i].tobytes()) for i in range(len(matrix))]


def blocks_from_arrays(
    spark: SparkSession,
    pixels: npt.ArrayLike,
    labels: npt.ArrayLike | None = None,
    partitions: int = 2,
) -> DigitBlocks:
    """Cached blocks holding the given digits."""
    rows = rows_from_arrays(pixels, labels)
    return to_blocks(spark.sparkContext.parallelize(rows, max(1, min(4, len(rows)))), partitions)


def embed(points: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Low-dimensional integer points as digits: coordinates in the first pixels, zeros after."""
    small = np.asarray(points, dtype=np.uint8)
    out = np.zeros((small.shape[0], N_PIXELS), dtype=np.uint8)
    out[:, : small.shape[1]] = small
    return out


def load_mnist_numpy(mnist_dir: Path, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(n, 784)`` uint8 and labels ``(n,)``, parsed independently of the readers."""
    with gzip.open(mnist_dir / f"{kind}-images-idx3-ubyte.gz", "rb") as handle:
        images = np.frombuffer(handle.read(), dtype=np.uint8, offset=16).reshape(-1, N_PIXELS)
    with gzip.open(mnist_dir / f"{kind}-labels-idx1-ubyte.gz", "rb") as handle:
        labels = np.frombuffer(handle.read(), dtype=np.uint8, offset=8)
    return images, labels


def write_jsonl(path: Path, pixels: np.ndarray, labels: np.ndarray) -> None:
    """Digits in the walkthrough's JSON-lines format."""
    with path.open("w") as handle:
        for row, label in zip(pixels, labels, strict=True):
            record = {"data": base64.b64encode(row.tobytes()).decode(), "label": int(label)}
            handle.write(json.dumps(record) + "\n")


def separated_digits(per_class: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated digit classes (labels 3, 5, 8), interleaved."""
    rng = np.random.default_rng(seed)
    prototypes = np.zeros((3, N_PIXELS), dtype=np.int64)
    prototypes[0, :100] = 200
    prototypes[1, 300:400] = 200
    prototypes[2, 600:700] = 200
    labels = np.tile([3, 5, 8], per_class)
    classes = np.tile([0, 1, 2], per_class)
    noise = rng.integers(-20, 20, (3 * per_class, N_PIXELS))
    pixels = np.clip(prototypes[classes] + noise, 0, 255)
    return pixels.astype(np.uint8), labels
