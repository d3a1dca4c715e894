"""The first centre of k-means++ and k-means||: the digit with the smallest draw of a stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from kmeans_spark.blocks import DigitBlock
from kmeans_spark.hashing import uniform_by_id
from kmeans_spark.init.sampling import SmallestDraw, smallest_draw
from kmeans_spark.passes import BlockPasses, Emitted

DrawOrder = tuple[int, int]
"""``(seed, stream)`` of one model's draws."""


def _smallest_draw_step(
    block: DigitBlock, _state: Any, orders: Mapping[int, DrawOrder]
) -> tuple[None, Emitted]:
    emitted: Emitted = []
    for model, (seed, stream) in orders.items():
        best = smallest_draw(block.ids, uniform_by_id(block.ids, seed, stream), block.pixels)
        if best is not None:
            emitted.append((model, best))
    return None, emitted


def first_centres(passes: BlockPasses, orders: Mapping[int, DrawOrder]) -> dict[int, SmallestDraw]:
    """One pass: every model's digit with the smallest draw, ties to the smaller id.

    Parameters
    ----------
    passes : BlockPasses
    orders : mapping of model index to (seed, stream)

    Returns
    -------
    dict of model index to (draw, id, pixel bytes)
    """
    merged = passes.run(_smallest_draw_step, dict(orders), min, keep_state=False)
    return {cast(int, model): best for model, best in merged}
