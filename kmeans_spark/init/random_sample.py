"""Random initialisation: the k distinct digits with the smallest draws, for many models at once.

A digit's draw is a pure function of ``(seed, id)``
(:func:`~kmeans_spark.hashing.uniform_by_id` with
:data:`~kmeans_spark.hashing.STREAM_INIT`). A model's centroids are the digits
in ascending order of their draws (ties to the smaller id), skipping repeats of a
pixel pattern already taken, until there are ``k``.

One pass serves every model: for each distinct seed, each partition sends its
``count`` smallest draws, ``count`` being the largest ``k`` asked with that seed.
The merged, sorted list is the exact global order only up to the largest draw
that a *truncated* partition (one holding more digits than it sent) sent: beyond
it, that partition's unsent digits could come first. Models whose ``k`` distinct
patterns lie within that exact prefix are done; the others (many repeated
patterns) ask again with twice the count. The choice never depends on the
partitioning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from kmeans_spark.blocks import DigitBlock
from kmeans_spark.errors import UsageError
from kmeans_spark.hashing import STREAM_INIT, uniform_by_id
from kmeans_spark.init.sampling import SmallestDraw
from kmeans_spark.init.spec import Initialised, InitSpec
from kmeans_spark.passes import BlockPasses
from kmeans_spark.schema import N_PIXELS

PartitionDraws = tuple[int, bool, list[SmallestDraw]]
"""``(seed, truncated, smallest draws ascending)`` from one partition."""


def _smallest_draws(
    counts: dict[int, int],
) -> Callable[[DigitBlock, Any], Iterator[PartitionDraws]]:
    """Per seed, the ``counts[seed]`` digits of a block with the smallest (draw, id)."""

    def run(block: DigitBlock, _state: Any) -> Iterator[PartitionDraws]:
        for seed, count in counts.items():
            draws = uniform_by_id(block.ids, seed, STREAM_INIT)
            take = min(count, len(block))
            # lexsort's last key is the primary one: by draw, ties by id.
            order = np.lexsort((block.ids, draws))[:take]
            yield (
                seed,
                take < len(block),
                [
                    (float(draws[i]), int(block.ids[i]), block.pixels[i].tobytes())
                    for i in order.tolist()
                ],
            )

    return run


def _exact_prefix(parts: list[PartitionDraws]) -> tuple[list[SmallestDraw], bool]:
    """The draws of one seed that are certainly the smallest overall, ascending.

    Returns
    -------
    (draws, complete)
        ``complete`` is true when no partition was truncated: every digit is there.
    """
    merged = sorted(draw for _, _, draws in parts for draw in draws)
    limits = [draws[-1][:2] for _, truncated, draws in parts if truncated]
    if not limits:
        return merged, True
    limit = min(limits)
    return [draw for draw in merged if draw[:2] <= limit], False


def _first_distinct(draws: list[SmallestDraw], k: int) -> list[bytes]:
    """Pixel patterns in draw order, skipping repeats, at most ``k``."""
    chosen: list[bytes] = []
    seen: set[bytes] = set()
    for _, _, pixels in draws:
        if pixels not in seen:
            seen.add(pixels)
            chosen.append(pixels)
            if len(chosen) == k:
                break
    return chosen


def random_initialisations(passes: BlockPasses, specs: Sequence[InitSpec]) -> list[Initialised]:
    """Random initial centres of every spec, sharing passes between them.

    Parameters
    ----------
    passes : BlockPasses
    specs : sequence of InitSpec
        Valid: ``1 <= k <= number of digits``.

    Returns
    -------
    list of Initialised
        One per spec, in order; ``passes`` is the number of collects made for
        the spec (1 unless repeated patterns took places).

    Raises
    ------
    UsageError
        When the data holds fewer than ``k`` distinct digits.
    """
    num_digits = passes.blocks.num_digits
    counts: dict[int, int] = {}
    for spec in specs:
        counts[spec.seed] = max(counts.get(spec.seed, 0), spec.k)
    results: dict[int, Initialised] = {}
    pending = list(range(len(specs)))
    collects = 0
    while pending:
        wanted = {specs[i].seed: counts[specs[i].seed] for i in pending}
        collected: list[PartitionDraws] = passes.collect(_smallest_draws(wanted))
        collects += 1
        prefixes = {
            seed: _exact_prefix([part for part in collected if part[0] == seed]) for seed in wanted
        }
        still_pending = []
        for i in pending:
            spec = specs[i]
            draws, complete = prefixes[spec.seed]
            chosen = _first_distinct(draws, spec.k)
            if len(chosen) == spec.k:
                centres = np.frombuffer(b"".join(chosen), dtype=np.uint8).reshape(-1, N_PIXELS)
                results[i] = Initialised(centres, collects)
            elif complete:
                raise UsageError(
                    f"k={spec.k} but the training data holds only {len(chosen)} distinct "
                    "digits: choose a smaller k"
                )
            else:
                still_pending.append(i)
        # Repeated patterns took places: ask for more draws (rare outside tiny data).
        for seed in {specs[i].seed for i in still_pending}:
            counts[seed] = min(num_digits, 2 * counts[seed])
        pending = still_pending
    return [results[i] for i in range(len(specs))]
