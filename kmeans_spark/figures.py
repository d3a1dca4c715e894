"""Figures as matplotlib objects; saving them is the caller's business."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # jobs run headless; must precede pyplot's import

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

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
    # One mosaic image rather than one axes per centroid: a hundred axes take
    # seconds to lay out and draw, one image a few milliseconds.
    width, height = IMAGE_SIDE + _TILE_GAP, IMAGE_SIDE + _TITLE_BAND
    canvas = np.full((nrows * height, ncols * width - _TILE_GAP), np.nan)
    # At least 3.5 inches wide, so that the title of a small k fits.
    figure, axis = plt.subplots(figsize=(max(1.3 * ncols, 3.5), 1.55 * nrows + 0.4))
    for index in range(k):
        top, left = _tile_origin(index, ncols)
        canvas[top : top + IMAGE_SIDE, left : left + IMAGE_SIDE] = centroids[index].reshape(
            IMAGE_SIDE, IMAGE_SIDE
        )
        label = label_list[index]
        title = str(label) if label >= 0 else "?"
        if size_list is not None:
            title += f" (n={size_list[index]})"
        axis.text(left + IMAGE_SIDE / 2, top - 1.5, title, ha="center", va="bottom", fontsize=9)
    colours = matplotlib.colormaps["gray_r"].with_extremes(bad="white")
    axis.imshow(canvas, cmap=colours, vmin=0, vmax=255, interpolation="nearest")
    axis.set_axis_off()
    axis.set_title(f"k = {k} centroids with their inferred labels", fontsize=11)
    figure.tight_layout()
    return figure


_TILE_GAP = 4
"""Blank pixels between two centroid images of a grid."""
_TITLE_BAND = 12
"""Pixels above each centroid image for its label."""


def _tile_origin(index: int, columns: int) -> tuple[int, int]:
    """Top row and left column of centroid ``index``'s image in a grid's mosaic."""
    row, column = divmod(index, columns)
    return row * (IMAGE_SIDE + _TITLE_BAND) + _TITLE_BAND, column * (IMAGE_SIDE + _TILE_GAP)


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


def error_by_k_plot(
    ks: Sequence[int],
    error_rates: Mapping[str, Sequence[float | None]],
    zoom: tuple[int, int] = (5, 24),
) -> Figure:
    """Error rate by number of clusters: all k, and a zoom on a range of k.

    The walkthrough's two figures side by side.

    Parameters
    ----------
    ks : sequence of int, shape (m,)
    error_rates : mapping of str to sequence of float or None, each of shape (m,)
        One line per held-out set (``validation``, ``test``); None where a k has
        no value.
    zoom : (int, int)
        Smallest and largest k of the right panel; the panel is left out when
        no k falls in it or every k does.

    Returns
    -------
    matplotlib.figure.Figure
    """
    k_list = [int(k) for k in ks]
    zoomed = [k for k in k_list if zoom[0] <= k <= zoom[1]]
    panels: list[tuple[str, list[int]]] = [("all k", k_list)]
    if zoomed and len(zoomed) < len(k_list):
        panels.append((f"k = {zoom[0]}..{zoom[1]}", zoomed))
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for axis, (title, shown) in zip(axes[0], panels, strict=True):
        for name, rates in error_rates.items():
            points = [
                (k, float(rate))
                for k, rate in zip(k_list, rates, strict=True)
                if k in shown and rate is not None and math.isfinite(rate)
            ]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=f"{name} error rate")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel("number of clusters k")
        axis.set_ylabel("error rate")
        axis.set_title(f"Error rate by number of clusters ({title})")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str], dpi: int = 100) -> None:
    """Write ``figure`` to ``path`` (format from the suffix) and release it."""
    figure.savefig(path, dpi=dpi)
    plt.close(figure)


def seconds_by_system_plot(seconds: Mapping[str, float], title: str) -> Figure:
    """Wall time of each system as horizontal bars, annotated with the seconds.

    Parameters
    ----------
    seconds : mapping of str to float
        Seconds per system, in the order to show them (top to bottom).
    title : str
    """
    names = list(seconds)
    values = [float(seconds[name]) for name in names]
    figure, axis = plt.subplots(figsize=(7, 0.6 * len(names) + 1.4))
    positions = np.arange(len(names))[::-1]
    axis.barh(positions, values, color="tab:blue")
    axis.set_yticks(positions, names)
    for position, value in zip(positions, values, strict=True):
        axis.annotate(
            f"{value:.1f} s",
            (value, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    axis.set_xlabel("seconds")
    axis.set_xlim(0, max(values, default=1.0) * 1.2 or 1.0)
    axis.set_title(title)
    figure.tight_layout()
    return figure
