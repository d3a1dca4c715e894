"""Holding digits out for validation: the walkthrough's first 25%, or a seeded random split."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock, DigitBlocks
from kmeans_spark.errors import UsageError
from kmeans_spark.hashing import STREAM_SPLIT, uniform_by_id

SPLIT_HEAD = "head"
SPLIT_RANDOM = "random"
SPLIT_METHODS = (SPLIT_HEAD, SPLIT_RANDOM)


def validation_mask(
    ids: npt.NDArray[np.int64], num_digits: int, fraction: float, method: str, seed: int
) -> npt.NDArray[np.bool_]:
    """Which digits are held out for validation.

    Parameters
    ----------
    ids : ndarray of int64, shape (n,)
        Positions in the input, ``0 <= id < num_digits``.
    num_digits : int
        Size of the whole input.
    fraction : float
        Share held out, in [0, 1).
    method : {"head", "random"}
        ``"head"``: the first ``floor(fraction * num_digits)`` digits, as the
        walkthrough does. ``"random"``: each digit independently with probability
        ``fraction``, decided by ``(seed, id)``, as Spark's ``randomSplit``.
    seed : int

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    if method == SPLIT_HEAD:
        return ids < int(fraction * num_digits)
    return uniform_by_id(ids, seed, STREAM_SPLIT) < fraction


def split_train_validation(
    blocks: DigitBlocks, fraction: float, method: str = SPLIT_HEAD, seed: int = 0
) -> tuple[DigitBlocks, DigitBlocks | None]:
    """Split cached blocks into training and validation blocks (both cached).

    Returns
    -------
    train, validation
        ``validation`` is None when ``fraction`` is 0.
    """
    if method not in SPLIT_METHODS:
        raise UsageError(f"split must be one of {', '.join(SPLIT_METHODS)}, got {method!r}")
    if not 0.0 <= fraction < 1.0:
        raise UsageError(f"validation fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return blocks, None
    total = blocks.num_digits

    def held_out(block: DigitBlock) -> npt.NDArray[np.bool_]:
        return validation_mask(block.ids, total, fraction, method, seed)

    validation = blocks.select(held_out)
    train = blocks.select(lambda block: ~held_out(block))
    if train.num_digits == 0:
        raise UsageError("the validation split leaves no training digits")
    return train, validation
