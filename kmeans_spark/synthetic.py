"""More digits from MNIST: each a real digit moved by a random shift of up to 2 pixels.

Digit ``i`` is base digit ``i mod m`` shifted by ``(dy, dx)`` in ``[-2, 2]^2``, both drawn
from ``(seed, i)`` alone, so any slice of the data can be made anywhere (on the
executors) and every system sees the same digits.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kmeans_spark.hashing import uniform_by_id
from kmeans_spark.schema import IMAGE_SIDE, N_PIXELS

MAX_SHIFT = 2
STREAM_SHIFT_Y = 11
STREAM_SHIFT_X = 12


def shift_images(
    images: npt.NDArray[np.uint8], dy: npt.NDArray[np.int64], dx: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint8]:
    """Shift each 28 x 28 image by its own ``(dy, dx)``, filling with background.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 784)
    dy, dx : ndarray of int, shape (n,)
        Shifts in ``[-MAX_SHIFT, MAX_SHIFT]``; positive moves down / right.

    Returns
    -------
    ndarray of uint8, shape (n, 784)
    """
    pad = MAX_SHIFT
    side = IMAGE_SIDE
    padded = np.zeros((images.shape[0], side + 2 * pad, side + 2 * pad), dtype=np.uint8)
    padded[:, pad : pad + side, pad : pad + side] = images.reshape(-1, side, side)
    rows = (np.arange(side)[None, :] + pad - dy[:, None])[:, :, None]
    cols = (np.arange(side)[None, :] + pad - dx[:, None])[:, None, :]
    shifted = padded[np.arange(images.shape[0])[:, None, None], rows, cols]
    return shifted.reshape(-1, N_PIXELS)


def shifted_digits(
    base_images: npt.NDArray[np.uint8],
    base_labels: npt.NDArray[np.integer],
    ids: npt.NDArray[np.int64],
    seed: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The digits with the given ids, made from ``m`` base digits.

    Parameters
    ----------
    base_images : ndarray of uint8, shape (m, 784)
    base_labels : ndarray of int, shape (m,)
    ids : ndarray of int64, shape (n,)
    seed : int

    Returns
    -------
    images : ndarray of uint8, shape (n, 784)
    labels : ndarray of int64, shape (n,)
    """
    source = ids % base_images.shape[0]
    span = 2 * MAX_SHIFT + 1
    dy = (uniform_by_id(ids, seed, STREAM_SHIFT_Y) * span).astype(np.int64) - MAX_SHIFT
    dx = (uniform_by_id(ids, seed, STREAM_SHIFT_X) * span).astype(np.int64) - MAX_SHIFT
    return shift_images(base_images[source], dy, dx), base_labels[source].astype(np.int64)
