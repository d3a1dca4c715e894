"""The report's figures, checked through what they plot (image arrays, bars, lines, texts)."""

from __future__ import annotations

import matplotlib.colors
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from kmeans_spark.report_figures import (
    cluster_order,
    cluster_purity_plot,
    confusion_examples_figure,
    confusion_heatmap,
    digit_gallery,
    history_plot,
    purity,
)


def _is(colour: object, name: str) -> bool:
    return matplotlib.colors.same_color(colour, name)


def test_confusion_heatmap_writes_every_count_in_its_cell() -> None:
    rng = np.random.default_rng(1)
    confusion = rng.integers(0, 50, (10, 11))
    confusion[4] = 0  # a true label without digits: shares of 0, not NaN
    figure = confusion_heatmap(confusion, "validation")
    axis = figure.axes[0]
    shares = np.asarray(axis.images[0].get_array())
    totals = confusion.sum(axis=1, keepdims=True)
    expected = np.where(totals > 0, confusion / np.maximum(totals, 1), 0.0)
    assert_allclose(shares, expected)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in axis.texts}
    assert len(cells) == 110
    for (row, column), text in cells.items():
        assert text.get_text() == str(confusion[row, column])
    columns = [label.get_text() for label in axis.get_xticklabels()]
    assert columns == [*map(str, range(10)), "none"]
    assert [label.get_text() for label in axis.get_yticklabels()] == [*map(str, range(10))]
    assert axis.get_xlabel().startswith("inferred label") and axis.get_ylabel() == "true label"
    assert axis.get_title() == "validation"


def test_gallery_titles_each_digit_and_marks_the_misclassified() -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (16, 784)).astype(np.uint8)
    truths = np.array([9] * 16)
    truths[[2, 7, 11]] = [4, 7, 3]
    figure = digit_gallery(pixels, truths, 9)
    assert len(figure.axes) == 16
    for index, axis in enumerate(figure.axes):
        (image,) = axis.images
        assert_array_equal(image.get_array(), pixels[index].reshape(28, 28))
        assert image.get_cmap().name.startswith("gray_r") and image.get_clim() == (0, 255)
        title = axis.title
        assert title.get_text() == f"true {truths[index]}"
        wrong = index in (2, 7, 11)
        assert _is(title.get_color(), "tab:red") == wrong
        assert _is(axis.spines["left"].get_edgecolor(), "tab:red") == wrong
    assert figure.get_suptitle() == "16 digits classified as 9"
    # 4 x 4 grid: the first row's axes share a top edge.
    tops = sorted({round(axis.get_position().y1, 3) for axis in figure.axes})
    assert len(tops) == 4


def test_gallery_of_fewer_digits_and_of_none() -> None:
    figure = digit_gallery(np.zeros((5, 784), np.uint8), [1, 1, 1, 1, -1], 1, columns=4)
    assert len(figure.axes) == 5  # the three empty cells are removed
    assert figure.axes[4].title.get_text() == "true ?"
    assert not _is(figure.axes[4].title.get_color(), "tab:red")  # unlabelled is not wrong
    empty = digit_gallery(np.zeros((0, 784), np.uint8), [], 9)
    assert "no digits" in [t.get_text() for t in empty.axes[0].texts]


def test_confusion_examples_show_digit_claimer_and_own_class_centroid() -> None:
    rng = np.random.default_rng(3)
    centroids = rng.random((4, 784)) * 255
    pixels = rng.integers(0, 256, (2, 784)).astype(np.uint8)
    figure = confusion_examples_figure(
        pixels,
        true_labels=[3, 5],
        predicted=[9, -1],
        assigned=[2, 0],
        assigned_distance=[1234.4, 99.0],
        true_centroid=[1, -1],
        true_distance=[1500.2, np.nan],
        centroids=centroids,
    )
    axes = figure.axes
    assert len(axes) == 6
    digit, claimer, own = axes[:3]
    assert_array_equal(digit.images[0].get_array(), pixels[0].reshape(28, 28))
    assert_array_equal(claimer.images[0].get_array(), centroids[2].reshape(28, 28))
    assert_array_equal(own.images[0].get_array(), centroids[1].reshape(28, 28))
    assert digit.title.get_text() == "true 3 → 9" and _is(digit.title.get_color(), "tab:red")
    assert claimer.title.get_text() == "#2 (9) d=1234"
    assert own.title.get_text() == "#1 (3) d=1500"
    digit, claimer, own = axes[3:]
    assert digit.title.get_text() == "true 5 → none"
    assert claimer.title.get_text() == "#0 (none) d=99"
    assert not own.images and "no centroid\nlabelled 5" in [t.get_text() for t in own.texts]


def test_purity_is_the_majority_share_and_nan_when_empty() -> None:
    counts = np.zeros((3, 10), np.int64)
    counts[0, [1, 7]] = [30, 10]
    counts[2, 4] = 5
    assert_allclose(purity(counts), [0.75, np.nan, 1.0])


def test_cluster_purity_bars_follow_the_requested_order() -> None:
    counts = np.zeros((4, 10), np.int64)
    counts[0, [9, 4]] = [6, 2]
    counts[1, 1] = 10
    counts[3, [9, 3]] = [3, 1]
    labels = [9, 1, -1, 9]
    sizes = [8, 10, 0, 5]  # cluster 3 has an unlabelled digit
    assert cluster_order(labels, "label") == [1, 0, 3, 2]
    figure = cluster_purity_plot(sizes, labels, counts, order="label")
    size_axis, purity_axis = figure.axes
    assert [bar.get_height() for bar in size_axis.patches] == [10, 8, 5, 0]
    assert_allclose([bar.get_height() for bar in purity_axis.patches], [1.0, 0.75, 0.75, 0.0])
    ticks = [label.get_text() for label in purity_axis.get_xticklabels()]
    assert ticks == ["#1\n1", "#0\n9", "#3\n9", "#2\nnone"]
    by_index = cluster_purity_plot(sizes, labels)
    (only,) = by_index.axes  # no label counts: sizes only
    assert [bar.get_height() for bar in only.patches] == sizes
    with pytest.raises(ValueError, match="order"):
        cluster_order(labels, "size")


def test_history_plots_inertia_and_moved_by_iteration() -> None:
    figure = history_plot([1, 2, 3], [9e6, 5e6, 4.5e6], [100, 12, 0])
    top, bottom = figure.axes
    (inertia,) = top.get_lines()
    (moved,) = bottom.get_lines()
    assert list(inertia.get_xdata()) == [1, 2, 3] and list(inertia.get_ydata()) == [9e6, 5e6, 4.5e6]
    assert list(moved.get_ydata()) == [100, 12, 0]
    assert top.get_ylabel() == "inertia" and bottom.get_ylabel() == "digits moved"
    assert bottom.get_xlabel() == "iteration"
