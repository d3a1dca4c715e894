from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from kmeans_spark.synthetic import MAX_SHIFT, shift_images, shifted_digits


def test_shift_moves_ink_and_fills_background() -> None:
    image = np.zeros((1, 784), dtype=np.uint8)
    image[0, 5 * 28 + 7] = 200
    image[0, 27 * 28 + 27] = 99  # falls off the edge when moved down-right
    moved = shift_images(image, np.array([2]), np.array([-1])).reshape(28, 28)
    assert moved[7, 6] == 200
    assert moved.sum() == 200


def test_shifted_digits_are_determined_by_seed_and_id() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (5, 784)).astype(np.uint8)
    labels = np.arange(5)
    ids = np.arange(40)
    pixels, digit_labels = shifted_digits(base, labels, ids, seed=3)
    assert_array_equal(digit_labels, ids % 5)
    again, _ = shifted_digits(base, labels, ids[10:], seed=3)
    assert_array_equal(again, pixels[10:])
    other, _ = shifted_digits(base, labels, ids, seed=4)
    assert not np.array_equal(other, pixels)
    # Every digit is its base digit under one of the 25 shifts.
    for i in range(40):
        candidates = [
            shift_images(base[[i % 5]], np.array([dy]), np.array([dx]))
            for dy in range(-MAX_SHIFT, MAX_SHIFT + 1)
            for dx in range(-MAX_SHIFT, MAX_SHIFT + 1)
        ]
        assert any(np.array_equal(c[0], pixels[i]) for c in candidates)
