from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from kmeans_spark.figures import centroid_grid, error_by_k_plot, seconds_by_system_plot


def test_centroid_grid_shows_every_centroid_with_its_label() -> None:
    rng = np.random.default_rng(0)
    centroids = rng.random((5, 784)) * 255
    figure = centroid_grid(centroids, [3, 1, -1, 9, 0], sizes=[10, 20, 0, 5, 7])
    (axis,) = figure.axes
    mosaic = np.ma.filled(axis.images[0].get_array(), np.nan)
    assert axis.images[0].get_cmap().name.startswith("gray_r")
    # A 3 x 2 grid: tiles of 28 x 28 pixels, 40 pixels apart down and 32 across.
    for index in range(5):
        row, column = divmod(index, 3)
        top, left = 12 + 40 * row, 32 * column
        tile = mosaic[top : top + 28, left : left + 28]
        assert_array_equal(tile, centroids[index].reshape(28, 28))
    assert np.isnan(mosaic[52:80, 64:92]).all()  # the sixth cell is blank
    titles = [text.get_text() for text in axis.texts]
    assert titles == ["3 (n=10)", "1 (n=20)", "? (n=0)", "9 (n=5)", "0 (n=7)"]


def test_error_by_k_plots_every_k_and_zooms_on_5_to_24() -> None:
    ks = [5, 6, 24, 100]
    rates = {"validation": [0.5, 0.4, 0.3, 0.12], "test": [0.45, None, 0.28, 0.11]}
    figure = error_by_k_plot(ks, rates)
    everything, zoom = figure.axes
    lines = {line.get_label(): line for line in everything.get_lines()}
    assert list(lines["validation error rate"].get_xdata()) == ks
    assert list(lines["validation error rate"].get_ydata()) == rates["validation"]
    assert list(lines["test error rate"].get_xdata()) == [5, 24, 100]  # None left out
    zoomed = {line.get_label(): list(line.get_xdata()) for line in zoom.get_lines()}
    assert zoomed["validation error rate"] == [5, 6, 24]
    assert "5..24" in zoom.get_title()


def test_error_by_k_has_one_panel_when_every_k_is_in_the_zoom() -> None:
    figure = error_by_k_plot([5, 10], {"validation": [0.3, 0.2]})
    assert len(figure.axes) == 1


def test_seconds_by_system_shows_one_bar_per_system_in_order() -> None:
    figure = seconds_by_system_plot({"batched": 70.0, "sequential": 400.0}, "sweep")
    (axis,) = figure.axes
    bars = sorted(axis.patches, key=lambda bar: -bar.get_y())  # top first
    assert [bar.get_width() for bar in bars] == [70.0, 400.0]
    ticks = zip(axis.get_yticks(), axis.get_yticklabels(), strict=True)
    top_first = [label.get_text() for _, label in sorted(ticks, key=lambda t: -t[0])]
    assert top_first == ["batched", "sequential"]
    assert axis.get_title() == "sweep"
