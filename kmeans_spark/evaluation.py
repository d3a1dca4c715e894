"""Labelling centroids with true digits, and classifying held-out digits by nearest centroid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.distances import PreparedCentroids, assign_batch
from kmeans_spark.schema import N_CLASSES, UNLABELLED


def majority_labels(label_counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The most common true label of each cluster, ties to the smaller label.

    Parameters
    ----------
    label_counts : ndarray of int, shape (k, 10)
        True labels of the training points of each cluster.

    Returns
    -------
    ndarray of int64, shape (k,)
        ``-1`` for a cluster without labelled points.
    """
    counts = np.asarray(label_counts)
    labels = np.argmax(counts, axis=1).astype(np.int64)  # argmax keeps the first maximum
    labels[counts.sum(axis=1) == 0] = UNLABELLED
    return labels


@dataclass(frozen=True)
class Evaluation:
    """How nearest-centroid classification did on a set of labelled digits.

    Attributes
    ----------
    confusion : ndarray of int64, shape (10, 11)
        ``confusion[t, p]``: digits of true label ``t`` classified as ``p``;
        column 10 counts digits whose nearest centroid has no label.
    cluster_sizes : ndarray of int64, shape (k,)
        Evaluated digits nearest to each centroid.
    unlabelled : int
        Digits without a true label, classified but not scored.
    """

    confusion: npt.NDArray[np.int64]
    cluster_sizes: npt.NDArray[np.int64]
    unlabelled: int

    @property
    def size(self) -> int:
        """Number of labelled digits evaluated."""
        return int(self.confusion.sum())

    @property
    def errors(self) -> int:
        return self.size - int(np.trace(self.confusion[:, :N_CLASSES]))

    @property
    def error_rate(self) -> float:
        """Misclassified digits over digits evaluated (NaN when none were)."""
        return self.errors / self.size if self.size else float("nan")


def score_assignment(
    true_labels: npt.NDArray[np.integer],
    assigned: npt.NDArray[np.integer],
    centroid_labels: npt.NDArray[np.int64],
) -> Evaluation:
    """Count the outcomes of classifying digits by their assigned centroids' labels.

    Parameters
    ----------
    true_labels : ndarray of int, shape (n,)
        0..9, or -1 for unlabelled digits (classified, not scored).
    assigned : ndarray of int, shape (n,)
        Each digit's centroid.
    centroid_labels : ndarray of int64, shape (k,)
        ``-1`` for a centroid without a label.
    """
    predicted = centroid_labels[assigned]
    predicted = np.where(predicted < 0, N_CLASSES, predicted)
    known = true_labels >= 0
    pairs = true_labels[known].astype(np.int64) * (N_CLASSES + 1) + predicted[known]
    confusion = np.bincount(pairs, minlength=N_CLASSES * (N_CLASSES + 1))
    return Evaluation(
        confusion.reshape(N_CLASSES, N_CLASSES + 1),
        np.bincount(assigned, minlength=centroid_labels.shape[0]).astype(np.int64),
        int((~known).sum()),
    )


def _score(
    block: DigitBlock, assigned: npt.NDArray[np.int32], centroid_labels: npt.NDArray[np.int64]
) -> Evaluation:
    return score_assignment(block.labels, assigned, centroid_labels)


def evaluate_block_many(
    block: DigitBlock,
    prepared: Sequence[PreparedCentroids],
    centroid_labels: Sequence[npt.NDArray[np.int64]],
) -> list[Evaluation]:
    """Classify one block with several models, sharing one matrix product between them."""
    assignments = assign_batch(block.pixels, block.sq_norms, prepared, [None] * len(prepared))
    return [
        _score(block, assignment.labels, labels)
        for assignment, labels in zip(assignments, centroid_labels, strict=True)
    ]


def _merge(left: Evaluation, right: Evaluation) -> Evaluation:
    return Evaluation(
        left.confusion + right.confusion,
        left.cluster_sizes + right.cluster_sizes,
        left.unlabelled + right.unlabelled,
    )


def merge_many(left: list[Evaluation], right: list[Evaluation]) -> list[Evaluation]:
    """Evaluations of two parts of the same digits, model by model (for ``treeReduce``)."""
    return [_merge(a, b) for a, b in zip(left, right, strict=True)]


def evaluate_many(
    blocks: DigitBlocks,
    models: Sequence[tuple[npt.NDArray[np.float64], npt.ArrayLike]],
) -> list[Evaluation]:
    """Classify cached digits with several models in one Spark pass.

    Parameters
    ----------
    blocks : DigitBlocks
    models : sequence of (centroids, centroid_labels)
        Centroids of shape (k_m, 784) and their labels of shape (k_m,), ``-1``
        for none.

    Returns
    -------
    list of Evaluation
        One per model, in order.
    """
    if not models:
        return []
    labels = [np.asarray(model_labels, dtype=np.int64) for _, model_labels in models]
    for (centroids, _), model_labels in zip(models, labels, strict=True):
        if centroids.ndim != 2 or model_labels.shape != (centroids.shape[0],):
            raise ValueError(
                f"centroids of shape {centroids.shape} need one label each, "
                f"got labels of shape {model_labels.shape}"
            )
    context = blocks.rdd.context
    prepared = context.broadcast([PreparedCentroids.of(centroids) for centroids, _ in models])
    try:
        return blocks.rdd.map(
            lambda kv: evaluate_block_many(kv[1], prepared.value, labels)
        ).treeReduce(merge_many)
    finally:
        prepared.destroy()


def evaluate(
    blocks: DigitBlocks, centroids: npt.NDArray[np.float64], centroid_labels: npt.ArrayLike
) -> Evaluation:
    """Classify cached digits by their nearest centroid's label, in one Spark pass.

    Parameters
    ----------
    blocks : DigitBlocks
    centroids : ndarray of float64, shape (k, 784)
    centroid_labels : array_like of int, shape (k,)
        Label of each centroid, ``-1`` for none.

    Returns
    -------
    Evaluation
    """
    (evaluation,) = evaluate_many(blocks, [(centroids, centroid_labels)])
    return evaluation
