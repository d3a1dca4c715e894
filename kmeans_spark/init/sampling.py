"""Seeded choices of single digits that do not depend on the partitioning.

Two choices recur in the k-means++ and k-means|| initialisations:

* **the smallest draw**: the digit whose uniform draw
  (:func:`~kmeans_spark.hashing.uniform_by_id`) is smallest, ties to the smaller
  id. Comparisons of the draws themselves are exact, so every partition's
  smallest draw can be merged with ``min``.
* **D^2 sampling**: one digit drawn with probability proportional to a
  non-negative integer weight, by an *exponential race*. Digit ``i`` gets the
  key ``E_i / w_i`` with ``E_i = -log(1 - U_i)``, an exponential variate of its
  draw ``U_i``; the smallest key wins, ties to the smaller id. The keys are
  independent exponentials of rates ``w_i``, so digit ``i`` wins with
  probability ``w_i / sum(w)``; a zero weight gives the key ``+inf`` and never
  wins. (``1 - U`` lies in ``(0, 1]``, so a positive weight always gives a
  finite key.)

Keys computed with a vectorised ``np.log`` may differ in the last bits between
CPUs and array positions. A partition therefore sends a :class:`RaceShortlist`
of every digit whose key lies within :data:`RACE_TOLERANCE` (relative) of its
smallest key, with what the key is computed from; the driver recomputes the
keys of the shortlisted digits with :func:`math.log`
(:meth:`RaceShortlist.winner`). The vectorised error is a few ulps, far below
the tolerance, so the shortlists always hold the digit whose recomputed key is
smallest, and the winner is the same for any partitioning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RACE_TOLERANCE = 1e-9
"""Relative margin above a shortlist's smallest key within which digits stay in the race."""

_BASE_BITS, _STEP_BITS, _TRIAL_BITS = 8, 28, 28
MAX_STEP = (1 << _STEP_BITS) - 1
MAX_TRIAL = (1 << _TRIAL_BITS) - 1

SmallestDraw = tuple[float, int, bytes]
"""``(draw, id, pixel bytes)`` of one digit; ordinary tuple order ranks them."""


def substream(base: int, step: int, trial: int) -> int:
    """The stream of draw ``trial`` of step ``step`` of a method whose streams start at ``base``.

    The three numbers are packed into disjoint bits (8 | 28 | 28), so different
    triples give different streams, and with ``base >= 1`` none equals a small
    constant such as :data:`~kmeans_spark.hashing.STREAM_SPLIT`.

    Parameters
    ----------
    base : int
        A stream constant of :mod:`kmeans_spark.hashing`, in 1..255.
    step : int
        In ``0..MAX_STEP``.
    trial : int
        In ``0..MAX_TRIAL``.

    Returns
    -------
    int
        A stream for :func:`~kmeans_spark.hashing.uniform_by_id`.
    """
    if not (1 <= base < (1 << _BASE_BITS) and 0 <= step <= MAX_STEP and 0 <= trial <= MAX_TRIAL):
        raise ValueError(f"substream({base}, {step}, {trial}) is out of range")
    return (base << (_STEP_BITS + _TRIAL_BITS)) | (step << _TRIAL_BITS) | trial


def smallest_draw(
    ids: npt.NDArray[np.int64], draws: npt.NDArray[np.float64], pixels: npt.NDArray[np.uint8]
) -> SmallestDraw | None:
    """The digit with the smallest draw, ties to the smaller id; None when there are no digits.

    Parameters
    ----------
    ids : ndarray of int64, shape (n,)
        Ascending.
    draws : ndarray of float64, shape (n,)
    pixels : ndarray of uint8, shape (n, 784)
    """
    if len(ids) == 0:
        return None
    # argmin returns the first of equal draws: the smaller id, as ids ascend.
    best = int(np.argmin(draws))
    return float(draws[best]), int(ids[best]), pixels[best].tobytes()


def race_exponentials(uniforms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``-log(1 - U)``: exponential variates of draws in [0, 1), vectorised (shape kept).

    ``1 - U`` is exact for the draws of :func:`~kmeans_spark.hashing.uniform_by_id`
    (multiples of ``2**-53``), as in :func:`race_key`.
    """
    return -np.log(1.0 - uniforms)


def race_key(uniform: float, weight: int) -> float:
    """The key of one digit, computed the same way on the driver every time.

    Parameters
    ----------
    uniform : float
        The digit's draw, in [0, 1).
    weight : int
        Non-negative.

    Returns
    -------
    float
        ``-log(1 - uniform) / weight``; ``+inf`` for a zero weight.
    """
    if weight <= 0:
        return math.inf
    return -math.log(1.0 - uniform) / weight


@dataclass(frozen=True)
class Contender:
    """A digit that may win a race.

    Attributes
    ----------
    approx_key : float
        Its key as a partition computed it (vectorised), for shortlisting only.
    id : int
    weight : int
    uniform : float
        Its draw, from which the driver recomputes the key.
    pixels : bytes
        784 bytes.
    """

    approx_key: float
    id: int
    weight: int
    uniform: float
    pixels: bytes

    @property
    def key(self) -> float:
        """The key that decides the race (:func:`race_key`)."""
        return race_key(self.uniform, self.weight)


def _near_smallest(contenders: tuple[Contender, ...]) -> tuple[Contender, ...]:
    cutoff = min(c.approx_key for c in contenders) * (1.0 + RACE_TOLERANCE)
    return tuple(c for c in contenders if c.approx_key <= cutoff)


@dataclass(frozen=True)
class RaceShortlist:
    """The contenders of one race that a set of partitions found near its smallest key.

    Attributes
    ----------
    contenders : tuple of Contender
        Not empty; almost always one.
    """

    contenders: tuple[Contender, ...]

    def merge(self, other: RaceShortlist) -> RaceShortlist:
        """The shortlist of the union of both partitions' digits (associative, commutative)."""
        return RaceShortlist(_near_smallest(self.contenders + other.contenders))

    def winner(self) -> Contender:
        """The contender with the smallest recomputed key, ties to the smaller id."""
        return min(self.contenders, key=lambda c: (c.key, c.id))


def race_shortlist(
    ids: npt.NDArray[np.int64],
    weights: npt.NDArray[np.int64],
    uniforms: npt.NDArray[np.float64],
    exponentials: npt.NDArray[np.float64],
    pixels: npt.NDArray[np.uint8],
) -> RaceShortlist | None:
    """One partition's shortlist for a race over its digits.

    Parameters
    ----------
    ids : ndarray of int64, shape (n,)
    weights : ndarray of int64, shape (n,)
        Non-negative, below ``2**53``.
    uniforms : ndarray of float64, shape (n,)
        The digits' draws for this race.
    exponentials : ndarray of float64, shape (n,)
        ``race_exponentials(uniforms)``, computed once for all races sharing the draws.
    pixels : ndarray of uint8, shape (n, 784)

    Returns
    -------
    RaceShortlist or None
        None when no digit has a positive weight.
    """
    keys = np.full(len(ids), np.inf)
    np.divide(exponentials, weights, out=keys, where=weights > 0)
    if len(keys) == 0:
        return None
    smallest = float(keys.min())
    if math.isinf(smallest):
        return None
    near = np.flatnonzero(keys <= smallest * (1.0 + RACE_TOLERANCE))
    return RaceShortlist(
        tuple(
            Contender(
                float(keys[i]),
                int(ids[i]),
                int(weights[i]),
                float(uniforms[i]),
                pixels[i].tobytes(),
            )
            for i in near.tolist()
        )
    )
