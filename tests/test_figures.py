from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from kmeans_spark.figures import centroid_grid


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
