"""Figures as matplotlib objects; saving them is the caller's business."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # jobs run headless; must precede pyplot's import

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from kmeans_spark.schema import IMAGE_SIDE


def centroid_grid(
    centroids: npt.NDArray[np.float64],
    labels: npt.ArrayLike,
    sizes: npt.ArrayLike | None = None,
    columns: int | None = None,
) -> Figure:
    """All centroids as 28 x 28 gray images, each titled with its inferred label.

    Parameters
    ----------
    centroids : ndarray of float, shape (k, 784)
        Pixel values 0..255.
    labels : array_like of int, shape (k,)
        Inferred label per centroid, ``-1`` for none (shown as "?").
    sizes : array_like of int, shape (k,), optional
        Training points per cluster, shown under the label.
    columns : int, optional
        Images per row; default ``ceil(sqrt(k))``.

    Returns
    -------
    matplotlib.figure.Figure
        Ink dark on white, as the walkthrough shows digits.
    """
    k = centroids.shape[0]
    label_list = [int(v) for v in np.asarray(labels)]
    size_list = None if sizes is None else [int(v) for v in np.asarray(sizes)]
    ncols = columns or max(1, math.ceil(math.sqrt(k)))
    nrows = math.ceil(k / ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.55 * nrows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index >= k:
            continue
        image = centroids[index].reshape(IMAGE_SIDE, IMAGE_SIDE)
        axis.imshow(image, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
        label = label_list[index]
        title = str(label) if label >= 0 else "?"
        if size_list is not None:
            title += f"\n(n={size_list[index]})"
        axis.set_title(title, fontsize=9)
    figure.suptitle(f"k = {k} centroids with their inferred labels", fontsize=11)
    figure.tight_layout()
    return figure


def seconds_per_iteration_plot(records: list[dict[str, object]]) -> Figure:
    """Seconds per Lloyd iteration against n, one panel per k, one line per system.

    Parameters
    ----------
    records : list of dict
        ``benchmark.json`` records: ``system``, ``n``, ``k``, ``seconds_per_iteration``.
    """
    ks = sorted({int(str(r["k"])) for r in records})
    figure, axes = plt.subplots(1, len(ks), figsize=(4.5 * len(ks), 4), squeeze=False)
    for axis, k in zip(axes[0], ks, strict=True):
        systems = sorted({str(r["system"]) for r in records if r["k"] == k})
        for system in systems:
            points = sorted(
                (int(str(r["n"])), float(str(r["seconds_per_iteration"])))
                for r in records
                if r["k"] == k and r["system"] == system and r["seconds_per_iteration"] is not None
            )
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=system)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("digits (n)")
        axis.set_ylabel("seconds per iteration")
        axis.set_title(f"k = {k}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
