from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from kmeans_spark.figures import centroid_grid, error_by_k_plot


def test_centroid_grid_shows_every_centroid_with_its_label() -> None:
    rng = np.random.default_rng(0)
    centroids = rng.random((5, 784)) * 255
    figure = centroid_grid(centroids, [3, 1, -1, 9, 0], sizes=[10, 20, 0, 5, 7])
    shown = [axis for axis in figure.axes if axis.images]
    assert len(shown) == 5
    assert len(figure.axes) == 6  # a 3 x 2 grid, the last cell blank
    for index, axis in enumerate(shown):
        assert_array_equal(axis.images[0].get_array(), centroids[index].reshape(28, 28))
    titles = [axis.get_title().split("\n")[0] for axis in shown]
    assert titles == ["3", "1", "?", "9", "0"]
    assert shown[1].get_title().endswith("(n=20)")
    assert shown[0].images[0].get_cmap().name == "gray_r"


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
