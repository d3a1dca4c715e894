"""Tests of :mod:`kmeans_spark.preprocess`: step parsing, deskewing and unit norms.

Deskewing is checked against the classic per-image recipe run through
``scipy.ndimage.affine_transform`` (bilinear, zero fill), on synthetic strokes,
on noise, on edge cases and, when the data is there, on real MNIST digits.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import ndimage

import kmeans_spark.preprocess as preprocess
from kmeans_spark.errors import UsageError
from kmeans_spark.preprocess import (
    DESKEW_CENTRE,
    PREPROCESS_STEPS,
    apply_preprocess,
    deskew,
    feature_range,
    normalize,
    parse_preprocess,
)
from kmeans_spark.schema import IMAGE_SIDE, N_PIXELS

SCIPY_ATOL = 2e-4
"""Float32 interpolation of values up to 255 against scipy's float64: a few ulps of 255."""


# --------------------------------------------------------------------------- helpers


def reference_deskew(image: np.ndarray) -> np.ndarray:
    """The well-known recipe, one image at a time, with scipy doing the interpolation."""
    img = np.asarray(image, dtype=np.float64).reshape(IMAGE_SIDE, IMAGE_SIDE)
    total = img.sum()
    if total == 0:
        return img.ravel()
    rows, cols = np.mgrid[:IMAGE_SIDE, :IMAGE_SIDE]
    mu_r = (rows * img).sum() / total
    mu_c = (cols * img).sum() / total
    var_r = ((rows - mu_r) ** 2 * img).sum() / total
    cov = ((rows - mu_r) * (cols - mu_c) * img).sum() / total
    alpha = cov / var_r if var_r > 0 else 0.0
    matrix = np.array([[1.0, 0.0], [alpha, 1.0]])
    centre = np.array([IMAGE_SIDE / 2.0, IMAGE_SIDE / 2.0])
    offset = np.array([mu_r, mu_c]) - matrix @ centre
    out = ndimage.affine_transform(img, matrix, offset=offset, order=1, mode="constant", cval=0.0)
    return out.ravel()


def moments(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mass centre row, column and skew cov(c, r) / var(r) of each image, slowly."""
    mu_r, mu_c, alpha = [], [], []
    rows, cols = np.mgrid[:IMAGE_SIDE, :IMAGE_SIDE]
    for image in np.asarray(images, dtype=np.float64):
        img = image.reshape(IMAGE_SIDE, IMAGE_SIDE)
        total = img.sum()
        r = (rows * img).sum() / total
        c = (cols * img).sum() / total
        mu_r.append(r)
        mu_c.append(c)
        alpha.append(((rows - r) * (cols - c) * img).sum() / ((rows - r) ** 2 * img).sum())
    return np.array(mu_r), np.array(mu_c), np.array(alpha)


def stroke_digits(n: int, seed: int, margin: float = 3.0) -> np.ndarray:
    """Digit-like uint8 images: two or three thick, slanted, anti-aliased strokes each.

    ``margin`` bounds how close stroke end points come to the border; a negative
    margin lets strokes leave the image, so that deskewing has to cut at the edge.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:IMAGE_SIDE, :IMAGE_SIDE].astype(np.float64)
    images = np.zeros((n, IMAGE_SIDE, IMAGE_SIDE))
    for i in range(n):
        for _ in range(rng.integers(2, 4)):
            a = rng.uniform(margin, IMAGE_SIDE - 1 - margin, 2)
            b = rng.uniform(margin, IMAGE_SIDE - 1 - margin, 2)
            ab = b - a
            t = ((rows - a[0]) * ab[0] + (cols - a[1]) * ab[1]) / max(ab @ ab, 1e-9)
            t = np.clip(t, 0.0, 1.0)
            dist2 = (rows - a[0] - t * ab[0]) ** 2 + (cols - a[1] - t * ab[1]) ** 2
            width = rng.uniform(0.8, 1.6)
            images[i] = np.maximum(images[i], np.exp(-dist2 / (2 * width**2)))
    return np.round(images * 255).astype(np.uint8).reshape(n, N_PIXELS)


def as_image(flat: np.ndarray) -> np.ndarray:
    return np.asarray(flat).reshape(IMAGE_SIDE, IMAGE_SIDE)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text", [None, "", "   ", "\t"])
def test_no_steps(text: str | None) -> None:
    assert parse_preprocess(text) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deskew", ("deskew",)),
        ("normalize", ("normalize",)),
        ("deskew,normalize", ("deskew", "normalize")),
        (" deskew , normalize ", ("deskew", "normalize")),
        # Canonical order whatever the given order.
        ("normalize,deskew", ("deskew", "normalize")),
    ],
)
def test_parse_steps(text: str, expected: tuple[str, ...]) -> None:
    assert parse_preprocess(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("blur", "unknown preprocessing step 'blur'"),
        ("deskew,Normalize", "unknown preprocessing step 'Normalize'"),
        ("deskew,deskew", "given twice"),
        ("normalize, deskew ,normalize", "given twice"),
        ("deskew,,normalize", "empty preprocessing step"),
        ("deskew,", "empty preprocessing step"),
    ],
)
def test_parse_rejects(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_preprocess(text)
    message = str(info.value)
    assert fragment in message
    if "twice" not in fragment:
        # The message tells the user what is allowed.
        assert all(step in message for step in PREPROCESS_STEPS)


def test_feature_range() -> None:
    assert feature_range(()) == (0.0, 255.0)
    assert feature_range(("deskew",)) == (0.0, 255.0)
    assert feature_range(("normalize",)) == (0.0, 1.0)
    assert feature_range(("deskew", "normalize")) == (0.0, 1.0)


@pytest.mark.parametrize("steps", [("blur",), ("normalize", "deskew"), ("deskew", "deskew")])
def test_non_canonical_steps_are_rejected(steps: tuple[str, ...]) -> None:
    pixels = np.zeros((1, N_PIXELS), dtype=np.uint8)
    with pytest.raises(UsageError, match="parse_preprocess"):
        feature_range(steps)
    with pytest.raises(UsageError, match="parse_preprocess"):
        apply_preprocess(pixels, steps)


def test_features_lie_in_feature_range() -> None:
    pixels = np.concatenate([stroke_digits(20, seed=5, margin=-4.0), np.full((1, N_PIXELS), 255)])
    pixels = pixels.astype(np.uint8)
    for steps in [(), ("deskew",), ("normalize",), ("deskew", "normalize")]:
        lo, hi = feature_range(steps)
        features = apply_preprocess(pixels, steps)
        assert features.min() >= lo
        assert features.max() <= hi


# --------------------------------------------------------------------------- normalize


def test_normalize_hand_case() -> None:
    out = normalize(np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
    assert out.dtype == np.float32
    assert_array_equal(
        out, np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
    )


def test_normalize_matches_float64_reference() -> None:
    rng = np.random.default_rng(1)
    features = rng.integers(0, 256, (50, N_PIXELS)).astype(np.uint8)
    features[7] = 0
    out = normalize(features)
    expected = np.zeros((50, N_PIXELS))
    for i, row in enumerate(features.astype(np.float64)):
        norm = np.sqrt(sum(float(v) ** 2 for v in row))
        if norm > 0:
            expected[i] = row / norm
    # Computed in float64, rounded once: within half a float32 ulp of the exact value.
    assert_allclose(out, expected, rtol=6e-8, atol=0)
    assert_array_equal(out[7], 0)
    assert_allclose(np.linalg.norm(np.delete(out, 7, axis=0), axis=1), 1.0, rtol=1e-6)


def test_normalize_rejects_one_dimensional_input() -> None:
    with pytest.raises(ValueError, match="2-d"):
        normalize(np.ones(5))


# --------------------------------------------------------------------------- deskew


@pytest.mark.parametrize(("seed", "margin"), [(0, 3.0), (1, 0.0), (2, -6.0)])
def test_deskew_matches_scipy_on_strokes(seed: int, margin: float) -> None:
    pixels = stroke_digits(60, seed=seed, margin=margin)
    out = deskew(pixels)
    expected = np.array([reference_deskew(image) for image in pixels])
    assert out.dtype == np.float32
    assert out.shape == pixels.shape
    assert_allclose(out, expected, rtol=0, atol=SCIPY_ATOL)


def test_deskew_matches_scipy_on_off_centre_blobs() -> None:
    """Ink in a corner: large shifts move part of the image out, the rest in from the edge."""
    rng = np.random.default_rng(4)
    images = np.zeros((40, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    for image in images:
        top, left = rng.integers(0, 20, 2)
        height, width = rng.integers(2, 9, 2)
        image[top : top + height, left : left + width] = rng.integers(
            0, 256, (height, width), dtype=np.uint8
        )
    pixels = images.reshape(40, N_PIXELS)
    expected = np.array([reference_deskew(image) for image in pixels])
    assert_allclose(deskew(pixels), expected, rtol=0, atol=SCIPY_ATOL)


def test_deskew_matches_scipy_on_noise_and_floats() -> None:
    rng = np.random.default_rng(6)
    pixels = rng.uniform(0, 255, (30, N_PIXELS))
    # Thin images (ink in about two rows) have a tiny var(row) and a large skew.
    thin = np.zeros((5, IMAGE_SIDE, IMAGE_SIDE))
    thin[:, 10, 4:20] = 255
    thin[np.arange(5), 11, rng.integers(0, 28, 5)] = rng.uniform(1, 40, 5)
    pixels = np.concatenate([pixels, thin.reshape(5, N_PIXELS)])
    expected = np.array([reference_deskew(image) for image in pixels])
    assert_allclose(deskew(pixels), expected, rtol=0, atol=SCIPY_ATOL)


def test_deskew_matches_scipy_on_real_digits(mnist_dir) -> None:
    from support import load_mnist_numpy

    images, _ = load_mnist_numpy(mnist_dir)
    rng = np.random.default_rng(7)
    pixels = images[rng.choice(len(images), 300, replace=False)]
    expected = np.array([reference_deskew(image) for image in pixels])
    assert_allclose(deskew(pixels), expected, rtol=0, atol=SCIPY_ATOL)


def test_deskew_removes_slant_of_real_digits(mnist_dir) -> None:
    from support import load_mnist_numpy

    images, _ = load_mnist_numpy(mnist_dir)
    pixels = images[:500]
    _, _, before = moments(pixels)
    mu_r, mu_c, after = moments(deskew(pixels))
    assert np.mean(np.abs(before)) > 0.15  # MNIST digits do slant...
    assert np.mean(np.abs(after)) < 0.1 * np.mean(np.abs(before))  # ...and no longer do.
    # Centred, but for the few very slanted digits whose shear pushes ink off the edge.
    for mu in (mu_r, mu_c):
        assert np.mean(np.abs(mu - DESKEW_CENTRE)) < 0.02
        assert np.abs(mu - DESKEW_CENTRE).max() < 0.5


@pytest.mark.parametrize("direction", [1, -1])
def test_sheared_line_becomes_vertical(direction: int) -> None:
    # A 45-degree line through (14, 14), rows 5..23: mass centre (14, 14), alpha = +-1.
    # Every source coordinate is then an integer, so the result is exact.
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    rows = np.arange(5, 24)
    image[rows, 14 + direction * (rows - 14)] = 255
    expected = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    expected[rows, 14] = 255
    assert_array_equal(as_image(deskew(image.reshape(1, N_PIXELS))[0]), expected)


def test_off_centre_half_slope_line_becomes_vertical_at_the_centre() -> None:
    # Ink at rows 2, 4, ..., 20 and columns 3, 4, ..., 12: alpha = 1/2, centre (11, 7.5).
    # Output row r reads row r - 3 and column c + r/2 - 13.5, integers for odd r,
    # so the line lands exactly on column 14, rows 5, 7, ..., 23.
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    rows = np.arange(2, 22, 2)
    image[rows, 3 + (rows - 2) // 2] = 200
    expected = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
    expected[rows + 3, 14] = 200
    out = as_image(deskew(image.reshape(1, N_PIXELS))[0])
    assert_allclose(out, expected, rtol=0, atol=1e-9)


def test_deskew_removes_slant_of_strokes() -> None:
    pixels = stroke_digits(100, seed=12, margin=5.0)
    _, _, before = moments(pixels)
    mu_r, mu_c, after = moments(deskew(pixels))
    assert np.mean(np.abs(before)) > 0.2
    assert np.mean(np.abs(after)) < 0.1 * np.mean(np.abs(before))
    assert_allclose(mu_r, DESKEW_CENTRE, atol=0.1)
    assert_allclose(mu_c, DESKEW_CENTRE, atol=0.1)


def test_symmetric_upright_digit_is_only_centred() -> None:
    # An "0": an ellipse ring symmetric about row 12 and column 10, so no skew and
    # an integral mass centre: deskewing is the translation by (+2, +4).
    rows, cols = np.mgrid[:IMAGE_SIDE, :IMAGE_SIDE]
    radius = ((rows - 12) / 8.0) ** 2 + ((cols - 10) / 5.0) ** 2
    image = np.where((radius > 0.55) & (radius < 1.05), 230, 0).astype(np.uint8)
    # The premise: mirror symmetric about row 12 and column 10, blank beyond.
    assert_array_equal(image[:25], image[:25][::-1])
    assert_array_equal(image[:, :21], image[:, :21][:, ::-1])
    assert not image[25:].any() and not image[:, 21:].any()
    out = as_image(deskew(image.reshape(1, N_PIXELS))[0])
    expected = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
    expected[2:, 4:] = image[:-2, :-4]
    assert_allclose(out, expected, rtol=0, atol=1e-4)


def test_centred_upright_digit_is_unchanged() -> None:
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    image[6:23, 12:17] = 90  # a thick "1", rows 6..22 and columns 12..16: centre (14, 14)
    image[6:23, 14] = 250
    out = deskew(image.reshape(1, N_PIXELS))
    assert_allclose(out[0], image.ravel(), rtol=0, atol=1e-4)


def test_single_row_of_ink_is_only_translated() -> None:
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    image[5, 3:12] = [10, 20, 30, 40, 50, 40, 30, 20, 10]  # var(row) = 0, centre (5, 7)
    expected = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    expected[14, 10:19] = image[5, 3:12]
    assert_array_equal(as_image(deskew(image.reshape(1, N_PIXELS))[0]), expected)


def test_blank_images_stay_blank_without_warnings() -> None:
    pixels = np.zeros((3, N_PIXELS), dtype=np.uint8)
    pixels[1, 300] = 255  # one pixel: var(row) = 0 and a neighbour to the blanks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = deskew(pixels)
    assert_array_equal(out[[0, 2]], 0)
    # A single pixel at (10, 20) moves to (14, 14).
    assert out[1].argmax() == 14 * IMAGE_SIDE + 14
    assert out[1].max() == 255


def test_deskew_of_nothing() -> None:
    out = deskew(np.zeros((0, N_PIXELS), dtype=np.uint8))
    assert out.shape == (0, N_PIXELS)
    assert out.dtype == np.float32


def test_deskew_output_range_on_saturated_images() -> None:
    rng = np.random.default_rng(8)
    pixels = np.where(rng.random((40, N_PIXELS)) < 0.6, 255, 0).astype(np.uint8)
    out = deskew(pixels)
    assert out.min() >= 0.0
    assert out.max() <= 255.0


def test_deskew_is_the_same_in_any_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = stroke_digits(25, seed=9)
    whole = deskew(pixels)
    monkeypatch.setattr(preprocess, "_CHUNK_IMAGES", 4)
    assert_array_equal(deskew(pixels), whole)
    singles = np.concatenate([deskew(row[None, :]) for row in pixels])
    assert_array_equal(singles, whole)


@pytest.mark.parametrize("shape", [(784,), (2, 783), (1, 28, 28)])
def test_deskew_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="784"):
        deskew(np.zeros(shape))


# --------------------------------------------------------------------------- apply


def test_apply_no_steps_is_float32_pixels() -> None:
    pixels = stroke_digits(5, seed=10)
    out = apply_preprocess(pixels, ())
    assert out.dtype == np.float32
    assert_array_equal(out, pixels.astype(np.float64))


def test_apply_runs_steps_in_order() -> None:
    pixels = stroke_digits(8, seed=11)
    assert_array_equal(apply_preprocess(pixels, ("deskew",)), deskew(pixels))
    assert_array_equal(apply_preprocess(pixels, ("normalize",)), normalize(pixels))
    both = apply_preprocess(pixels, ("deskew", "normalize"))
    assert_array_equal(both, normalize(deskew(pixels)))
    assert both.dtype == np.float32
    assert not np.allclose(both, normalize(pixels))  # deskewing did something
