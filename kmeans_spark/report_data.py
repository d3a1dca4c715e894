"""Choosing, on Spark, the few held-out digits a report shows.

The digits stay in their cached blocks; each task classifies its block by the
nearest centroid and sends to the driver only its candidates, at most as many
as will be shown. Every choice among equals is made by seeded draws keyed by
digit id (:func:`~kmeans_spark.hashing.uniform_by_id`, stream
:data:`~kmeans_spark.hashing.STREAM_GALLERY`): the digits with the smallest
draws win, so the same digits are shown for any partitioning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.distances import PreparedCentroids, assign_nearest, reference_sq_distance
from kmeans_spark.hashing import STREAM_GALLERY, uniform_by_id
from kmeans_spark.schema import N_CLASSES, N_PIXELS, UNLABELLED

Candidate = tuple[int, float, int, int, int, bytes]
"""(group, draw, id, true label, assigned centroid, pixels) of one digit a task proposes."""


@dataclass(frozen=True)
class DigitSample:
    """Some digits with how they were classified.

    Attributes
    ----------
    ids : ndarray of int64, shape (n,)
    pixels : ndarray of uint8, shape (n, 784)
    true_labels : ndarray of int64, shape (n,)
        ``-1`` for unlabelled digits.
    predicted : ndarray of int64, shape (n,)
        Label of the nearest centroid, ``-1`` for none.
    assigned : ndarray of int64, shape (n,)
        Index of the nearest centroid.
    """

    ids: npt.NDArray[np.int64]
    pixels: npt.NDArray[np.uint8]
    true_labels: npt.NDArray[np.int64]
    predicted: npt.NDArray[np.int64]
    assigned: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class ConfusionExamples:
    """Misclassified digits of the most frequent confusions, with the centroids involved.

    Attributes
    ----------
    pairs : list of (int, int)
        The confusions ``(true, predicted)`` asked for, in order; ``predicted``
        is ``-1`` for a centroid without a label.
    digits : DigitSample
        The examples, grouped by pair in the order of ``pairs`` and by draw
        within a pair; a pair with fewer digits than asked has fewer.
    assigned_distance : ndarray of float64, shape (m,)
        Euclidean distance of each digit to the centroid that claimed it.
    true_centroid : ndarray of int64, shape (m,)
        Nearest centroid labelled with the digit's true label (ties to the
        smaller index); ``-1`` when no centroid has that label.
    true_distance : ndarray of float64, shape (m,)
        Euclidean distance to it; NaN when there is none.
    """

    pairs: list[tuple[int, int]]
    digits: DigitSample
    assigned_distance: npt.NDArray[np.float64]
    true_centroid: npt.NDArray[np.int64]
    true_distance: npt.NDArray[np.float64]


def top_confusions(confusion: npt.ArrayLike, count: int = 3) -> list[tuple[int, int]]:
    """The ``count`` most frequent misclassifications of a confusion matrix.

    Parameters
    ----------
    confusion : array_like of int, shape (10, 11)
        True label x inferred label; column 10 is "no label".
    count : int

    Returns
    -------
    list of (int, int)
        ``(true, predicted)`` with a non-zero count, most frequent first (ties
        by true, then predicted label); ``predicted`` is ``-1`` for column 10.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    cells = [
        (int(counts[t, p]), t, p)
        for t in range(counts.shape[0])
        for p in range(counts.shape[1])
        if p != t and counts[t, p] > 0
    ]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [(t, UNLABELLED if p >= N_CLASSES else p) for _, t, p in cells[:count]]


def _classify(
    block: DigitBlock, prepared: PreparedCentroids, centroid_labels: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Nearest centroid and its label for every row of ``block``, both shape (n,)."""
    if len(block) == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    assigned = assign_nearest(block.pixels, block.sq_norms, prepared)
    return assigned, centroid_labels[assigned]


def _smallest_draws(
    block: DigitBlock,
    assigned: npt.NDArray[np.int32],
    rows: npt.NDArray[np.intp],
    group: int,
    size: int,
    seed: int,
) -> list[Candidate]:
    """The ``size`` rows among ``rows`` with the smallest draws (ties by id), as candidates."""
    if rows.size == 0 or size <= 0:
        return []
    ids = block.ids[rows]
    draws = uniform_by_id(ids, seed, STREAM_GALLERY)
    return [
        (
            group,
            float(draws[i]),
            int(ids[i]),
            int(block.labels[rows[i]]),
            int(assigned[rows[i]]),
            block.pixels[rows[i]].tobytes(),
        )
        for i in np.lexsort((ids, draws))[:size].tolist()
    ]


def _to_sample(
    candidates: Sequence[Candidate], centroid_labels: npt.NDArray[np.int64]
) -> DigitSample:
    assigned = np.asarray([c[4] for c in candidates], dtype=np.int64)
    pixels = np.frombuffer(b"".join(c[5] for c in candidates), dtype=np.uint8)
    return DigitSample(
        np.asarray([c[2] for c in candidates], dtype=np.int64),
        pixels.reshape(-1, N_PIXELS).copy(),
        np.asarray([c[3] for c in candidates], dtype=np.int64),
        centroid_labels[assigned] if len(candidates) else np.zeros(0, np.int64),
        assigned,
    )


def classified_sample(
    blocks: DigitBlocks,
    centroids: npt.NDArray[np.float64],
    centroid_labels: npt.ArrayLike,
    label: int,
    size: int = 16,
    seed: int = 0,
) -> DigitSample:
    """A seeded sample of the digits classified as ``label``, in one Spark pass.

    Parameters
    ----------
    blocks : DigitBlocks
        Held-out digits, cached.
    centroids : ndarray of float64, shape (k, 784)
    centroid_labels : array_like of int, shape (k,)
        ``-1`` for none.
    label : int
        0..9, or ``-1`` for the digits nearest to a centroid without a label.
    size : int
        Digits wanted; fewer when fewer are classified as ``label``.
    seed : int

    Returns
    -------
    DigitSample
        The ``size`` digits with the smallest draws among those whose nearest
        centroid is labelled ``label``, by ascending draw: the same digits for
        any partitioning. Only they reach the driver (at most ``size`` a task).
    """
    labels = np.asarray(centroid_labels, dtype=np.int64)
    context = blocks.rdd.context
    prepared = context.broadcast(PreparedCentroids.of(centroids))

    def candidates(item: tuple[int, DigitBlock]) -> list[Candidate]:
        block = item[1]
        assigned, predicted = _classify(block, prepared.value, labels)
        return _smallest_draws(block, assigned, np.flatnonzero(predicted == label), 0, size, seed)

    try:
        chosen = blocks.rdd.flatMap(candidates).takeOrdered(size, key=lambda c: (c[1], c[2]))
    finally:
        prepared.destroy()
    return _to_sample(chosen, labels)


def confusion_examples(
    blocks: DigitBlocks,
    centroids: npt.NDArray[np.float64],
    centroid_labels: npt.ArrayLike,
    pairs: Sequence[tuple[int, int]],
    per_pair: int = 3,
    seed: int = 0,
) -> ConfusionExamples:
    """Examples of the given confusions, with the centroids that explain them, in one Spark pass.

    Parameters
    ----------
    blocks : DigitBlocks
        Held-out digits, cached.
    centroids : ndarray of float64, shape (k, 784)
    centroid_labels : array_like of int, shape (k,)
    pairs : sequence of (int, int)
        ``(true, predicted)`` confusions (see :func:`top_confusions`).
    per_pair : int
        Examples wanted of each; the digits with the smallest draws.
    seed : int

    Returns
    -------
    ConfusionExamples
        Distances are computed on the driver, for the chosen digits only, with
        the correctly rounded reference distance.
    """
    labels = np.asarray(centroid_labels, dtype=np.int64)
    wanted = [(int(t), int(p)) for t, p in pairs]
    context = blocks.rdd.context
    prepared = context.broadcast(PreparedCentroids.of(centroids))

    def candidates(item: tuple[int, DigitBlock]) -> list[Candidate]:
        block = item[1]
        assigned, predicted = _classify(block, prepared.value, labels)
        found: list[Candidate] = []
        for group, (truth, guess) in enumerate(wanted):
            rows = np.flatnonzero((block.labels == truth) & (predicted == guess))
            found.extend(_smallest_draws(block, assigned, rows, group, per_pair, seed))
        return found

    try:
        # At most len(pairs) * per_pair digits a task: few enough to collect.
        proposed = blocks.rdd.flatMap(candidates).collect() if wanted else []
    finally:
        prepared.destroy()
    proposed.sort(key=lambda c: (c[0], c[1], c[2]))
    chosen = [
        c for group in range(len(wanted)) for c in [p for p in proposed if p[0] == group][:per_pair]
    ]
    digits = _to_sample(chosen, labels)
    assigned_distance = np.array(
        [
            np.sqrt(reference_sq_distance(row, centroids[j]))
            for row, j in zip(digits.pixels, digits.assigned.tolist(), strict=True)
        ],
        dtype=np.float64,
    )
    true_centroid = np.full(len(digits), -1, dtype=np.int64)
    true_distance = np.full(len(digits), np.nan)
    for index, (row, truth) in enumerate(
        zip(digits.pixels, digits.true_labels.tolist(), strict=True)
    ):
        nearest = nearest_of_label(row, centroids, labels, truth)
        if nearest is not None:
            true_centroid[index], true_distance[index] = nearest
    return ConfusionExamples(wanted, digits, assigned_distance, true_centroid, true_distance)


def nearest_of_label(
    pixels: npt.NDArray[np.uint8],
    centroids: npt.NDArray[np.float64],
    centroid_labels: npt.NDArray[np.int64],
    label: int,
) -> tuple[int, float] | None:
    """The centroid labelled ``label`` nearest to one digit, and its Euclidean distance.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (784,)
    centroids : ndarray of float64, shape (k, 784)
    centroid_labels : ndarray of int64, shape (k,)
    label : int

    Returns
    -------
    (int, float) or None
        None when no centroid has that label; ties go to the smaller index.
    """
    best: tuple[int, float] | None = None
    for j in np.flatnonzero(centroid_labels == label).tolist():  # ascending: "<" keeps ties
        distance = reference_sq_distance(pixels, centroids[j])
        if best is None or distance < best[1]:
            best = (j, distance)
    return None if best is None else (best[0], float(np.sqrt(best[1])))


def cluster_label_counts(
    blocks: DigitBlocks, centroids: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """True labels of the digits nearest to each centroid, in one Spark pass.

    For model folders written before ``metrics.json`` kept the training
    clusters' label counts.

    Parameters
    ----------
    blocks : DigitBlocks
    centroids : ndarray of float64, shape (k, 784)

    Returns
    -------
    ndarray of int64, shape (k, 10)
        Unlabelled digits are not counted.
    """
    k = centroids.shape[0]
    context = blocks.rdd.context
    prepared = context.broadcast(PreparedCentroids.of(centroids))

    def counts(item: tuple[int, DigitBlock]) -> npt.NDArray[np.int64]:
        block = item[1]
        out = np.zeros((k, N_CLASSES), dtype=np.int64)
        if len(block):
            assigned = assign_nearest(block.pixels, block.sq_norms, prepared.value)
            known = block.labels >= 0
            np.add.at(out, (assigned[known], block.labels[known].astype(np.int64)), 1)
        return out

    try:
        return np.asarray(blocks.rdd.map(counts).treeReduce(np.add), dtype=np.int64)
    finally:
        prepared.destroy()
