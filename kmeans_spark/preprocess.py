"""Digit preprocessing applied on the executors: moment-based deskewing and unit norms.

Two optional steps, named on the command line as a comma-separated list:

``deskew``
    LeCun's "deslanting": each digit is sheared so that its principal axis of ink
    becomes vertical, and translated so that its centre of mass lands on the image
    centre. Slant is the largest source of within-class variation in handwritten
    digits, so removing it lets a centroid stand for more of its class.
``normalize``
    Each feature vector is scaled to unit Euclidean length, so that clusters are
    formed by the shape of the ink rather than by how much of it there is.

Only numpy is needed: these functions run inside Spark tasks, where numpy and
pyspark are the only libraries available.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from kmeans_spark.errors import UsageError
from kmeans_spark.schema import IMAGE_SIDE, MAX_PIXEL, N_PIXELS

PREPROCESS_STEPS = ("deskew", "normalize")
"""The known steps, in the order they are always applied."""

DESKEW_CENTRE = IMAGE_SIDE / 2.0
"""Row and column (0-based) on which deskewing puts each digit's centre of mass: 14.0.

This is ``shape / 2`` as in the common recipe (``offset = centre_of_mass -
matrix @ (shape / 2)``), and it is also where MNIST itself puts the mass centres:
over the 60,000 training digits their mean is (14.00, 14.01) with a spread of
0.3 pixel. Centring on 13.5, the geometric middle of the pixel grid, would shift
every digit by half a pixel and blur it by interpolation for no benefit.
"""

_CHUNK_IMAGES = 512
"""Images deskewed at once: the temporaries (a few MB) stay in cache-friendly bounds.

Measured on the 60,000 MNIST training digits, 256 to 512 images per chunk ran
fastest (about 1 s on one core); 4096 was 20% slower.
"""


def parse_preprocess(text: str | None) -> tuple[str, ...]:
    """Parse a comma-separated list of preprocessing steps.

    Parameters
    ----------
    text : str or None
        For example ``"deskew,normalize"``; whitespace around names is ignored.
        None, an empty or a blank string mean no preprocessing.

    Returns
    -------
    tuple of str
        The steps in canonical order, ``deskew`` before ``normalize``, whatever
        order they were given in: deskewing estimates the slant from the ink's
        intensities, which is meaningless on a unit-norm vector, and the shear
        would undo the unit norm anyway.

    Raises
    ------
    UsageError
        When a name is unknown, empty (as in ``"deskew,,normalize"``) or repeated.
    """
    if text is None or not text.strip():
        return ()
    allowed = ", ".join(PREPROCESS_STEPS)
    names = [name.strip() for name in text.split(",")]
    seen: set[str] = set()
    for name in names:
        if not name:
            raise UsageError(
                f"empty preprocessing step in {text!r}; give a comma-separated list of: {allowed}"
            )
        if name not in PREPROCESS_STEPS:
            raise UsageError(f"unknown preprocessing step {name!r}; the steps are: {allowed}")
        if name in seen:
            raise UsageError(f"preprocessing step {name!r} is given twice in {text!r}")
        seen.add(name)
    return tuple(step for step in PREPROCESS_STEPS if step in seen)


def _check_steps(steps: tuple[str, ...]) -> None:
    """Raise :class:`UsageError` unless ``steps`` is what :func:`parse_preprocess` returns."""
    canonical = tuple(step for step in PREPROCESS_STEPS if step in steps)
    if tuple(steps) != canonical:
        raise UsageError(
            f"preprocessing steps {tuple(steps)!r} are not distinct known steps in the "
            f"order {PREPROCESS_STEPS!r}; build them with parse_preprocess"
        )


def feature_range(steps: tuple[str, ...]) -> tuple[float, float]:
    """The closed interval every feature lies in after ``steps``.

    Parameters
    ----------
    steps : tuple of str
        Steps as returned by :func:`parse_preprocess`.

    Returns
    -------
    (float, float)
        ``(0, 255)`` for raw or deskewed pixels (bilinear interpolation takes
        convex combinations of pixel values, and :func:`deskew` clips to make the
        bound hold under rounding too); ``(0, 1)`` once ``normalize`` ran: unit
        vectors with non-negative entries.
    """
    _check_steps(steps)
    if "normalize" in steps:
        return (0.0, 1.0)
    return (0.0, float(MAX_PIXEL))


def _image_moments(
    images: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Mass centre and skew of each image.

    Parameters
    ----------
    images : ndarray of float64, shape (m, 28, 28)
        Non-negative intensities.

    Returns
    -------
    mu_row, mu_col : ndarray of float64, shape (m,)
        Intensity-weighted centre of mass; the image centre for a blank image,
        so that it is left where it is.
    alpha : ndarray of float64, shape (m,)
        ``cov(col, row) / var(row)``: columns move by ``alpha`` per row of ink.
        Zero for a blank image and where ``var(row) == 0`` (ink in one row only:
        no slant can be measured).
    """
    coords = np.arange(IMAGE_SIDE, dtype=np.float64)
    row_mass = images.sum(axis=2)
    col_mass = images.sum(axis=1)
    total = row_mass.sum(axis=1)
    inked = total > 0
    safe_total = np.where(inked, total, 1.0)
    mu_row = np.where(inked, row_mass @ coords / safe_total, DESKEW_CENTRE)
    mu_col = np.where(inked, col_mass @ coords / safe_total, DESKEW_CENTRE)
    # Central moments, not E[xy] - E[x]E[y]: the latter cancels catastrophically
    # and would turn an exactly zero variance (one row of ink) into noise.
    d_row = coords[None, :] - mu_row[:, None]
    d_col = coords[None, :] - mu_col[:, None]
    var_row = np.einsum("mr,mr->m", row_mass, d_row * d_row) / safe_total
    cov = np.einsum("mr,mrc,mc->m", d_row, images, d_col, optimize=True) / safe_total
    sheared = var_row > 0
    alpha = np.where(sheared, cov / np.where(sheared, var_row, 1.0), 0.0)
    return mu_row, mu_col, alpha


def _deskew_chunk(images: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Deskew one chunk of images; see :func:`deskew`.

    Parameters
    ----------
    images : ndarray of float64, shape (m, 28, 28)

    Returns
    -------
    ndarray of float32, shape (m, 28, 28)
    """
    m = images.shape[0]
    side = IMAGE_SIDE
    last = float(side - 1)
    mu_row, mu_col, alpha = _image_moments(images)
    grid = np.arange(side)
    lines = np.arange(m)[:, None]

    # The map out(r, c) <- in(r + dy, c + sx[r]) translates the rows, then each row's
    # columns by its own amount, so bilinear interpolation separates: blend two
    # input rows per output row, then two columns per output pixel. Within an
    # output row the column weights are the same for every pixel, so only the
    # (m, 28) shifts, never an (m, 28, 28) coordinate array, are computed in float64.
    dy = mu_row - DESKEW_CENTRE  # (m,)
    sx = alpha[:, None] * (grid[None, :] - DESKEW_CENTRE) + (mu_col[:, None] - DESKEW_CENTRE)
    # A huge alpha (tiny var(row)) shifts rows right off the image; clipping keeps
    # the arithmetic finite and integral without changing which pixels are outside.
    sx = np.clip(sx, -2.0 * side, 2.0 * side)

    # Rows. One zero row below the image is read, with weight 0, as the second
    # neighbour of a source row equal to 27.
    tall = np.zeros((m, side + 1, side), dtype=np.float32)
    tall[:, :side, :] = images
    row_src = grid[None, :] + dy[:, None]  # (m, 28)
    row_floor = np.floor(row_src)
    row_frac = row_src - row_floor
    # scipy's mode='constant' gives 0 wherever a source coordinate is outside
    # [0, 27], even within a pixel of the edge: no blending with the zero fill.
    row_ok = (row_src >= 0.0) & (row_src <= last)
    top = np.clip(row_floor.astype(np.intp), 0, side - 1)
    w_top = np.where(row_ok, 1.0 - row_frac, 0.0).astype(np.float32)[:, :, None]
    w_bottom = np.where(row_ok, row_frac, 0.0).astype(np.float32)[:, :, None]
    flat_rows = tall.reshape(m * (side + 1), side)
    first = lines * (side + 1) + top
    blended = flat_rows[first] * w_top + flat_rows[first + 1] * w_bottom  # (m, 28, 28)

    # Columns. Each output row reads 29 consecutive columns from its integer shift
    # on, out of a row widened by `side + 1` zeros either side: shifts beyond that
    # leave no pixel inside the image, so they are clipped to it.
    pad = side + 1
    wide = np.zeros((m, side, side + 2 * pad), dtype=np.float32)
    wide[:, :, pad : pad + side] = blended
    shift_floor = np.floor(sx)
    col_frac = sx - shift_floor
    shift = np.clip(shift_floor.astype(np.intp), -pad, side)
    windows = sliding_window_view(wide, side + 1, axis=2)
    taken = windows[lines, grid[None, :], shift + pad]  # (m, 28, 29)
    w_right = col_frac.astype(np.float32)[:, :, None]
    out = taken[:, :, :side] * (1.0 - w_right) + taken[:, :, 1:] * w_right
    # Output column c is inside iff 0 <= c + sx <= 27.
    first_c = np.ceil(-sx)[:, :, None]
    last_c = np.floor(last - sx)[:, :, None]
    inside = (grid >= first_c) & (grid <= last_c)
    out *= inside
    # Convex combinations of values in [0, 255] stay there but for rounding.
    np.clip(out, 0.0, float(MAX_PIXEL), out=out)
    return out


def deskew(pixels: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Shear each digit upright and centre its mass, with bilinear interpolation.

    For each image the intensity-weighted centre of mass ``(mu_r, mu_c)`` and the
    skew ``alpha = cov(c, r) / var(r)`` are computed (``r`` the row, ``c`` the
    column index). The output is the affine image::

        out[r, c] = in(r + mu_r - 14, c + alpha * (r - 14) + mu_c - 14)

    that is ``scipy.ndimage.affine_transform(image, [[1, 0], [alpha, 1]],
    offset=mu - [[1, 0], [alpha, 1]] @ (14, 14), order=1, mode='constant')``:
    the principal axis of the ink becomes vertical and the centre of mass moves
    to ``(14, 14)`` (:data:`DESKEW_CENTRE`). Source coordinates are interpolated
    bilinearly, and a source coordinate outside ``[0, 27]`` in either direction
    gives 0, exactly like scipy's ``mode='constant'`` with ``cval=0``.

    Blank images stay blank, and an image whose ink lies in a single row
    (``var(r) == 0``) is only translated.

    Parameters
    ----------
    pixels : array_like of uint8 or float, shape (n, 784)
        Row-major 28 x 28 images with non-negative intensities up to 255.

    Returns
    -------
    ndarray of float32, shape (n, 784)
        Deskewed images, values within ``[0, 255]``.

    Raises
    ------
    ValueError
        When ``pixels`` is not two-dimensional with 784 columns.

    Notes
    -----
    Vectorised over the images in chunks of :data:`_CHUNK_IMAGES`; the work is
    a handful of array operations per chunk, not a Python loop per image.
    """
    array = np.asarray(pixels)
    if array.ndim != 2 or array.shape[1] != N_PIXELS:
        raise ValueError(f"deskew expects pixels of shape (n, {N_PIXELS}), got {array.shape}")
    n = array.shape[0]
    result = np.empty((n, N_PIXELS), dtype=np.float32)
    for start in range(0, n, _CHUNK_IMAGES):
        chunk = array[start : start + _CHUNK_IMAGES].astype(np.float64)
        images = chunk.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
        result[start : start + _CHUNK_IMAGES] = _deskew_chunk(images).reshape(-1, N_PIXELS)
    return result


def normalize(features: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Scale every row to unit Euclidean length.

    Parameters
    ----------
    features : array_like of float, shape (n, d)

    Returns
    -------
    ndarray of float32, shape (n, d)
        ``row / ||row||``, the norm and the quotient computed in float64 and only
        the result rounded to float32; rows of zeros stay zero.

    Raises
    ------
    ValueError
        When ``features`` is not two-dimensional.
    """
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"normalize expects a 2-d array, got shape {array.shape}")
    norms = np.sqrt(np.einsum("nd,nd->n", array, array))
    # Dividing a zero row by 1 keeps it zero without a 0/0 warning.
    safe = np.where(norms > 0, norms, 1.0)
    return (array / safe[:, None]).astype(np.float32)


def apply_preprocess(pixels: npt.ArrayLike, steps: tuple[str, ...]) -> npt.NDArray[np.float32]:
    """Run the preprocessing ``steps`` on a block of digits.

    Parameters
    ----------
    pixels : array_like of uint8, shape (n, 784)
    steps : tuple of str
        Steps as returned by :func:`parse_preprocess` (known, distinct, in the
        canonical order), applied in that order.

    Returns
    -------
    ndarray of float32, shape (n, 784)
        The features; with no steps, the pixels converted to float32.

    Raises
    ------
    UsageError
        When ``steps`` is not a canonical tuple of known steps.
    """
    _check_steps(steps)
    features = np.asarray(pixels).astype(np.float32)
    for step in steps:
        features = deskew(features) if step == "deskew" else normalize(features)
    return features
