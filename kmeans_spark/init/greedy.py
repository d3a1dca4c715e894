"""Weighted greedy k-means++ on the driver: reduces k-means|| candidates to k centres.

As scikit-learn's ``kmeans_plusplus`` with ``sample_weight``: the first centre is
drawn with probability proportional to the weights, each later one as the best
of ``trials`` candidates drawn with probability proportional to ``weight * D^2``.
All quantities are exact integers (the candidates are digits), and the draws
are integers picked by ``searchsorted`` in exact cumulative sums, so the result
is a pure function of the inputs and the generator's state.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kmeans_spark.init.exact import centre_sq_norms, exact_sq_distances


def _weighted_draws(
    cumulative: npt.NDArray[np.int64], rng: np.random.Generator, size: int
) -> npt.NDArray[np.intp]:
    """``size`` indices, ``i`` drawn with probability ``(cum[i] - cum[i-1]) / cum[-1]``."""
    targets = rng.integers(0, int(cumulative[-1]), size=size)
    return np.searchsorted(cumulative, targets, side="right")


def weighted_kmeans_pp(
    points: npt.NDArray[np.uint8],
    weights: npt.NDArray[np.int64],
    k: int,
    trials: int,
    rng: np.random.Generator,
) -> list[int]:
    """Indices of up to ``k`` points chosen by weighted greedy k-means++, in order of choice.

    Parameters
    ----------
    points : ndarray of uint8, shape (c, 784)
        Distinct points.
    weights : ndarray of int64, shape (c,)
        Positive; ``sum(weights) * 784 * 255**2`` must fit in int64.
    k : int
        ``>= 1``.
    trials : int
        Candidates per centre after the first, ``>= 1``.
    rng : numpy.random.Generator

    Returns
    -------
    list of int
        ``min(k, c)`` distinct indices: once every point is a centre, nothing is left to draw.
    """
    sq_norms = centre_sq_norms(points)
    first = int(_weighted_draws(np.cumsum(weights), rng, 1)[0])
    chosen = [first]
    d2 = exact_sq_distances(points, sq_norms, points[[first]])[:, 0]
    while len(chosen) < k:
        potentials = weights * d2
        if int(potentials.sum()) == 0:
            break
        picks = _weighted_draws(np.cumsum(potentials), rng, trials)
        scenarios = np.minimum(d2[:, None], exact_sq_distances(points, sq_norms, points[picks]))
        best = int(np.argmin(weights @ scenarios))  # the first of equal costs
        chosen.append(int(picks[best]))
        d2 = scenarios[:, best]
    return chosen
