"""What one model's initialisation asks for, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class InitSpec:
    """One model to initialise.

    Attributes
    ----------
    k : int
        Number of centroids wanted, ``1 <= k <= number of digits``.
    seed : int
        Every random choice of the initialisation is a pure function of it.
    """

    k: int
    seed: int


@dataclass(frozen=True, eq=False)
class InitResult:
    """The initial centroids of one model.

    Compared by identity (``eq=False``): equality of arrays is not a bool.

    Attributes
    ----------
    centroids : ndarray of float64, shape (k', 784)
        Distinct training digits, ``k' <= k``: k-means++ and k-means|| return
        fewer when the data holds fewer than ``k`` distinct digits.
    method : str
        One of :data:`~kmeans_spark.init.INIT_METHODS`.
    seed : int
    passes : int
        Spark passes over the data that this model took part in (writing the
        executor-local copies of the blocks not counted). In a batch the passes
        are shared: the batch made as many as its longest model.
    """

    centroids: npt.NDArray[np.float64]
    method: str
    seed: int
    passes: int


@dataclass(frozen=True)
class Initialised:
    """What a method returns for one model, before it is labelled as an :class:`InitResult`.

    Attributes
    ----------
    centres : ndarray of uint8, shape (k', 784)
    passes : int
    """

    centres: npt.NDArray[np.uint8]
    passes: int
