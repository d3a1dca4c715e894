"""The report's figures, as matplotlib objects built from numpy arrays.

Each function takes plain arrays and returns a Figure; saving or embedding it is
the caller's business (:mod:`kmeans_spark.report`). Digits are drawn as in
:mod:`kmeans_spark.figures`: ink dark on white (``gray_r``, 0..255).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # jobs run headless; must precede pyplot's import

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kmeans_spark.schema import IMAGE_SIDE, MAX_PIXEL, N_CLASSES, UNLABELLED

WRONG_COLOUR = "tab:red"
"""Titles and frames of misclassified digits."""
RIGHT_COLOUR = "black"
NONE_NAME = "none"
"""How a centroid without a label (``-1``) is named in titles and ticks."""


def label_name(label: int) -> str:
    """``"7"`` for a digit label, ``"none"`` for ``-1`` (or 10, the confusion's column)."""
    return NONE_NAME if label < 0 or label >= N_CLASSES else str(label)


def _show_digit(axis: Axes, pixels: npt.ArrayLike) -> None:
    """Draw one 784-pixel row as a 28 x 28 image without ticks, keeping the frame."""
    image = np.asarray(pixels, dtype=np.float64).reshape(IMAGE_SIDE, IMAGE_SIDE)
    axis.imshow(image, cmap="gray_r", vmin=0, vmax=MAX_PIXEL, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])


def _tight_below_title(figure: Figure, inches: float = 0.45) -> None:
    """Lay the axes out tightly, keeping the top ``inches`` free for the figure's title."""
    height = figure.get_figheight()
    figure.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - inches / height))


def _frame(axis: Axes, colour: str, width: float) -> None:
    for spine in axis.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(width)


def confusion_heatmap(confusion: npt.ArrayLike, title: str = "Confusion matrix") -> Figure:
    """True label x inferred label counts, each written in its cell.

    Parameters
    ----------
    confusion : array_like of int, shape (10, 11)
        ``confusion[t, p]``: digits of true label ``t`` classified as ``p``;
        column 10 counts digits whose centroid has no label (``none``).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        One axes. Its image holds each row's shares (count over the row's total,
        0 for an empty row), so that rare and common digits read alike; the
        texts hold the counts, row by row.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    rows, columns = counts.shape
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    figure, axis = plt.subplots(figsize=(0.62 * columns + 1.8, 0.5 * rows + 1.4))
    image = axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for t in range(rows):
        for p in range(columns):
            # White text on the dark cells, where black would vanish; zeros faint.
            colour = "white" if shares[t, p] > 0.6 else "black" if counts[t, p] else "0.65"
            axis.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=8, color=colour)
    axis.set_xticks(range(columns), [label_name(p) for p in range(columns)])
    axis.set_yticks(range(rows), [str(t) for t in range(rows)])
    axis.set_xlabel("inferred label (nearest centroid's)")
    axis.set_ylabel("true label")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, label="share of the true label's digits", shrink=0.8)
    figure.tight_layout()
    return figure


def digit_gallery(
    pixels: npt.ArrayLike,
    true_labels: npt.ArrayLike,
    label: int,
    columns: int = 4,
    title: str | None = None,
) -> Figure:
    """Digits classified as ``label``, each titled with its true label.

    Parameters
    ----------
    pixels : array_like of uint8, shape (n, 784)
    true_labels : array_like of int, shape (n,)
        ``-1`` for an unlabelled digit (neither right nor wrong).
    label : int
        The label they were classified as; ``-1`` for a centroid without one.
    columns : int
        Images per row.
    title : str, optional
        Default: "n digits classified as L".

    Returns
    -------
    matplotlib.figure.Figure
        One axes per digit, in order. A misclassified digit has a red title
        ("true 3") and a red frame; the others a black title and a thin gray frame.
    """
    rows_of_pixels = np.asarray(pixels).reshape(-1, IMAGE_SIDE * IMAGE_SIDE)
    truths = [int(v) for v in np.asarray(true_labels).reshape(-1)]
    n = len(truths)
    ncols = max(1, min(columns, n))
    nrows = max(1, math.ceil(n / ncols))
    figure, axes = plt.subplots(
        nrows, ncols, figsize=(1.25 * ncols + 0.3, 1.4 * nrows + 0.6), squeeze=False
    )
    flat = axes.reshape(-1)
    for index, axis in enumerate(flat):
        if index >= max(n, 1):
            axis.remove()
            continue
        if index >= n:  # an empty gallery keeps one blank axes for its message
            axis.set_axis_off()
            axis.text(0.5, 0.5, "no digits", ha="center", va="center")
            continue
        _show_digit(axis, rows_of_pixels[index])
        truth = truths[index]
        wrong = truth != UNLABELLED and truth != label
        colour = WRONG_COLOUR if wrong else RIGHT_COLOUR
        axis.set_title(f"true {label_name(truth) if truth >= 0 else '?'}", fontsize=9, color=colour)
        _frame(axis, WRONG_COLOUR if wrong else "0.8", 2.5 if wrong else 0.8)
    figure.suptitle(title or f"{n} digits classified as {label_name(label)}", fontsize=11)
    _tight_below_title(figure)
    return figure


def confusion_examples_figure(
    pixels: npt.ArrayLike,
    true_labels: npt.ArrayLike,
    predicted: npt.ArrayLike,
    assigned: npt.ArrayLike,
    assigned_distance: npt.ArrayLike,
    true_centroid: npt.ArrayLike,
    true_distance: npt.ArrayLike,
    centroids: npt.NDArray[np.float64],
) -> Figure:
    """Misclassified digits beside the centroid that claimed them and the nearest of their class.

    One row per digit: the digit ("true 3 → 9"), the centroid it is nearest to
    (its index, label and distance) and the nearest centroid labelled with the
    digit's true class (index and distance), or a note that no centroid has that label.

    Parameters
    ----------
    pixels : array_like of uint8, shape (m, 784)
    true_labels, predicted : array_like of int, shape (m,)
        ``predicted`` is ``-1`` for a centroid without a label.
    assigned : array_like of int, shape (m,)
        Index of the nearest centroid.
    assigned_distance : array_like of float, shape (m,)
        Euclidean distance to it.
    true_centroid : array_like of int, shape (m,)
        Nearest centroid among those labelled ``true_labels``; ``-1`` when none is.
    true_distance : array_like of float, shape (m,)
        Euclidean distance to it; NaN when there is none.
    centroids : ndarray of float64, shape (k, 784)

    Returns
    -------
    matplotlib.figure.Figure
        Three axes per row: digit, claiming centroid, true-class centroid
        (switched off when there is none, with a text saying so).
    """
    digits = np.asarray(pixels).reshape(-1, IMAGE_SIDE * IMAGE_SIDE)
    truths = np.asarray(true_labels, dtype=np.int64).reshape(-1)
    guesses = np.asarray(predicted, dtype=np.int64).reshape(-1)
    claimers = np.asarray(assigned, dtype=np.int64).reshape(-1)
    claim_distances = np.asarray(assigned_distance, dtype=np.float64).reshape(-1)
    own = np.asarray(true_centroid, dtype=np.int64).reshape(-1)
    own_distances = np.asarray(true_distance, dtype=np.float64).reshape(-1)
    m = len(truths)
    figure, axes = plt.subplots(max(m, 1), 3, figsize=(5.4, 1.75 * max(m, 1) + 0.7), squeeze=False)
    for row in range(m):
        digit_axis, claim_axis, own_axis = axes[row]
        truth, guess = int(truths[row]), int(guesses[row])
        _show_digit(digit_axis, digits[row])
        digit_axis.set_title(f"true {truth} → {label_name(guess)}", fontsize=9, color=WRONG_COLOUR)
        _frame(digit_axis, WRONG_COLOUR, 2.0)
        _show_digit(claim_axis, centroids[claimers[row]])
        claim_axis.set_title(
            f"#{claimers[row]} ({label_name(guess)}) d={claim_distances[row]:.0f}", fontsize=9
        )
        if own[row] >= 0:
            _show_digit(own_axis, centroids[own[row]])
            own_axis.set_title(f"#{own[row]} ({truth}) d={own_distances[row]:.0f}", fontsize=9)
        else:
            own_axis.set_axis_off()
            own_axis.text(
                0.5, 0.5, f"no centroid\nlabelled {truth}", ha="center", va="center", fontsize=9
            )
    if m == 0:
        for axis in axes[0]:
            axis.set_axis_off()
        axes[0][1].text(0.5, 0.5, "no misclassified digits", ha="center", va="center")
    figure.suptitle(
        "Misclassified digit | centroid that claimed it | nearest centroid of its class",
        fontsize=9,
    )
    _tight_below_title(figure)
    return figure


def cluster_purity_plot(
    sizes: npt.ArrayLike,
    centroid_labels: npt.ArrayLike,
    label_counts: npt.ArrayLike | None = None,
    order: str = "cluster",
) -> Figure:
    """Training digits per cluster and, with label counts, each cluster's purity.

    Purity is the share of a cluster's majority label among its labelled
    training digits (NaN, drawn as no bar, for a cluster without any).

    Parameters
    ----------
    sizes : array_like of int, shape (k,)
        Training digits per cluster.
    centroid_labels : array_like of int, shape (k,)
        ``-1`` for none.
    label_counts : array_like of int, shape (k, 10), optional
        True labels of each cluster's training digits; without them only the
        sizes are drawn.
    order : {"cluster", "label"}
        Bars by cluster index, or grouped by inferred label (then by index).

    Returns
    -------
    matplotlib.figure.Figure
        One or two axes (sizes, purity); bar ``i`` of each is cluster
        ``cluster_order(...)[i]``, its tick label "#j" over the inferred label.
    """
    size_array = np.asarray(sizes, dtype=np.int64)
    labels = np.asarray(centroid_labels, dtype=np.int64)
    shown = cluster_order(labels, order)
    k = len(shown)
    panels = 1 if label_counts is None else 2
    figure, axes = plt.subplots(
        panels, 1, figsize=(max(5.0, 0.32 * k + 1.5), 2.6 * panels + 0.4), squeeze=False
    )
    positions = np.arange(k)
    ticks = [f"#{j}\n{label_name(int(labels[j]))}" for j in shown]
    size_axis = axes[0][0]
    size_axis.bar(positions, size_array[shown], color="tab:blue")
    size_axis.set_ylabel("training digits")
    size_axis.set_title("Cluster sizes" + (" and purity" if panels == 2 else ""))
    if label_counts is not None:
        purity_axis = axes[1][0]
        values = purity(label_counts)[shown]
        purity_axis.bar(positions, np.nan_to_num(values, nan=0.0), color="tab:green")
        purity_axis.set_ylim(0, 1.05)
        purity_axis.set_ylabel("purity (majority share)")
    for (axis,) in axes:
        axis.set_xticks(positions, ticks, fontsize=7 if k > 30 else 8)
        axis.set_xlim(-0.6, k - 0.4)
        axis.grid(True, axis="y", alpha=0.3)
    axes[-1][0].set_xlabel(
        "cluster (index, inferred label)" + (", grouped by label" if order == "label" else "")
    )
    figure.tight_layout()
    return figure


def purity(label_counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Share of each cluster's majority label among its labelled digits.

    Parameters
    ----------
    label_counts : array_like of int, shape (k, 10)

    Returns
    -------
    ndarray of float64, shape (k,)
        NaN for a cluster without labelled digits.
    """
    counts = np.asarray(label_counts, dtype=np.int64)
    totals = counts.sum(axis=1)
    out = np.full(counts.shape[0], np.nan)
    np.divide(counts.max(axis=1, initial=0), totals, out=out, where=totals > 0)
    return out


def cluster_order(centroid_labels: npt.ArrayLike, order: str = "cluster") -> list[int]:
    """Cluster indices by index (``"cluster"``), or by inferred label with ``none`` last."""
    labels = [int(v) for v in np.asarray(centroid_labels).reshape(-1)]
    if order == "cluster":
        return list(range(len(labels)))
    if order == "label":
        return sorted(range(len(labels)), key=lambda j: (labels[j] < 0, labels[j], j))
    raise ValueError(f"order must be 'cluster' or 'label', got {order!r}")


def history_plot(
    iterations: Sequence[int], inertia: Sequence[float], moved: Sequence[int]
) -> Figure:
    """Inertia and digits moved by Lloyd iteration, in two panels sharing the x axis.

    Parameters
    ----------
    iterations : sequence of int, shape (m,)
        1-based.
    inertia : sequence of float, shape (m,)
        Sum of squared distances to the centroids of each iteration's assignment.
    moved : sequence of int, shape (m,)
        Digits that changed cluster (all of them in the first iteration).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes, each with one line: inertia, then digits moved.
    """
    steps = [int(v) for v in iterations]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.6), sharex=True)
    top.plot(steps, [float(v) for v in inertia], marker=".", color="tab:blue")
    top.set_ylabel("inertia")
    top.set_title("Training by Lloyd iteration")
    bottom.plot(steps, [int(v) for v in moved], marker=".", color="tab:orange")
    bottom.set_ylabel("digits moved")
    bottom.set_xlabel("iteration")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    for axis in (top, bottom):
        axis.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure
