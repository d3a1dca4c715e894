"""k-means|| (Bahmani et al. 2012), with MLlib's defaults: l = 2k, 2 rounds.

The first centre is the digit with the smallest draw of a dedicated stream.
Each round samples every digit independently with probability
``min(1, l * D^2(x) / phi)``, ``phi = sum D^2``, and adds the sampled digits to
the candidates. The candidates are then weighted by the number of digits nearest
to them and reduced to ``k`` centres on the driver by weighted greedy k-means++
(:func:`~kmeans_spark.init.greedy.weighted_kmeans_pp`).

Passes, as MLlib: one for the first centre, then alternately a *fold* pass and a
*sample* pass. A fold pass folds the new candidates into each block's kept D^2
and nearest candidate, and emits ``phi`` and the candidates' weights; a sample
pass draws the round's digits with that ``phi`` (its sampling needs the global
sum, hence the separate pass). The default 2 rounds take 6 passes. A model
with fewer than ``k`` distinct candidates after its rounds runs more, while
``phi > 0``; at ``phi = 0`` every digit is a candidate, and the model returns
fewer centres with a warning.

Exactness. Digit ``x`` is sampled iff ``u * phi < l * D^2(x)`` in float64, with
``u`` its draw from ``substream(STREAM_KMEANS_PARALLEL, round + 1, 0)``: D^2 is
an exact integer (:mod:`~kmeans_spark.init.exact`), ``phi`` an exact integer sum
rounded once on the driver, and the comparison is basic IEEE arithmetic, the
same on every machine. Candidates are kept in ascending id order; a pixel
pattern sampled twice in a round keeps its smaller id (a digit equal to an
earlier candidate has D^2 = 0 and is never sampled). A digit counts towards the
weight of its nearest candidate, ties to the smaller id. The reduction runs on
the driver with a generator seeded from ``(seed, STREAM_KMEANS_PARALLEL_REDUCE)``.
So the centres are the same for any partitioning, and in a batch or alone.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock
from kmeans_spark.hashing import (
    STREAM_KMEANS_PARALLEL,
    STREAM_KMEANS_PARALLEL_REDUCE,
    uniform_by_id,
)
from kmeans_spark.init.exact import exact_sq_distances
from kmeans_spark.init.first_centre import first_centres
from kmeans_spark.init.greedy import weighted_kmeans_pp
from kmeans_spark.init.sampling import substream
from kmeans_spark.init.spec import Initialised, InitSpec
from kmeans_spark.passes import BlockPasses, Emitted
from kmeans_spark.schema import N_PIXELS

logger = logging.getLogger(__name__)

_PHI, _WEIGHTS, _SAMPLES = 0, 1, 2
"""Kinds of emitted keys ``(model, kind)``: phi (int), candidate weights (int64 array
aligned with the candidate ids), sampled digits (list of (id, pixel bytes)). All merge by ``+``."""

_SEED_MASK = (1 << 64) - 1

ParallelState = dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]
"""Per block: each model's D^2 and nearest candidate id of the block's digits, shapes (n,)."""


@dataclass(frozen=True)
class FoldOrder:
    """New candidates to fold into one model's D^2.

    Attributes
    ----------
    ids : ndarray of int64, shape (m,)
        Ascending; ``m`` may be 0 (the round sampled nothing).
    pixels : ndarray of uint8, shape (m, 784)
    candidate_ids : ndarray of int64, shape (c,)
        All candidates so far, these included, ascending: the order of the weights.
    candidate_pixels : ndarray of uint8, shape (c, 784), optional
        Their pixels, sent only when the blocks lost their kept D^2 (an executor
        was lost), to rebuild it exactly.
    """

    ids: npt.NDArray[np.int64]
    pixels: npt.NDArray[np.uint8]
    candidate_ids: npt.NDArray[np.int64]
    candidate_pixels: npt.NDArray[np.uint8] | None = None


@dataclass(frozen=True)
class SampleOrder:
    """One round's sampling for one model.

    Attributes
    ----------
    seed : int
    round : int
        0 for the first round.
    phi : float
        ``sum D^2`` over all digits, as float64.
    oversampling : float
        ``l``: the expected number of digits a round samples.
    candidate_ids : ndarray of int64, shape (c,), optional
    candidate_pixels : ndarray of uint8, shape (c, 784), optional
        All candidates so far, sent only to rebuild a lost D^2.
    """

    seed: int
    round: int
    phi: float
    oversampling: float
    candidate_ids: npt.NDArray[np.int64] | None = None
    candidate_pixels: npt.NDArray[np.uint8] | None = None


def _nearest_candidates(
    block: DigitBlock, ids: npt.NDArray[np.int64], pixels: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each digit's D^2 to its nearest candidate and that candidate's id, ties to the smaller id.

    Parameters
    ----------
    block : DigitBlock
    ids : ndarray of int64, shape (m,)
        Ascending, ``m >= 1``.
    pixels : ndarray of uint8, shape (m, 784)

    Returns
    -------
    (ndarray of int64, ndarray of int64), shapes (n,)
    """
    distances = exact_sq_distances(block.pixels, block.sq_norms, pixels)
    # The first of equal distances: the smaller id, as the ids ascend.
    best = np.argmin(distances, axis=1)
    return distances[np.arange(len(block)), best], ids[best]


def _fold_step(
    block: DigitBlock, state: ParallelState | None, orders: Mapping[int, FoldOrder]
) -> tuple[ParallelState, Emitted]:
    previous = state or {}
    kept: ParallelState = {}
    emitted: Emitted = []
    for model, order in orders.items():
        d2, nearest = previous.get(model, (None, None))
        if d2 is None and order.candidate_pixels is not None:
            # Rebuilt from every candidate, these new ones included: the nearest by
            # (D^2, id), as folding them round by round found it.
            d2, nearest = _nearest_candidates(block, order.candidate_ids, order.candidate_pixels)
        elif len(order.ids):
            best_d2, best_ids = _nearest_candidates(block, order.ids, order.pixels)
            if d2 is None or nearest is None:
                d2, nearest = best_d2, best_ids
            else:
                closer = (best_d2 < d2) | ((best_d2 == d2) & (best_ids < nearest))
                d2 = np.where(closer, best_d2, d2)
                nearest = np.where(closer, best_ids, nearest)
        if d2 is None or nearest is None:
            raise RuntimeError(f"model {model}: no candidate folded before its first round")
        kept[model] = (d2, nearest)
        positions = np.searchsorted(order.candidate_ids, nearest)
        weights = np.bincount(positions, minlength=len(order.candidate_ids)).astype(np.int64)
        emitted.append(((model, _PHI), int(d2.sum())))
        emitted.append(((model, _WEIGHTS), weights))
    return kept, emitted


def _sample_step(
    block: DigitBlock, state: ParallelState | None, orders: Mapping[int, SampleOrder]
) -> tuple[ParallelState | None, Emitted]:
    emitted: Emitted = []
    for model, order in orders.items():
        if state is not None and model in state:
            d2 = state[model][0]
        elif order.candidate_ids is not None and order.candidate_pixels is not None:
            d2 = _nearest_candidates(block, order.candidate_ids, order.candidate_pixels)[0]
        else:
            raise RuntimeError("k-means||: a sample pass found no D^2 kept")
        uniforms = uniform_by_id(
            block.ids, order.seed, substream(STREAM_KMEANS_PARALLEL, order.round + 1, 0)
        )
        sampled = np.flatnonzero(uniforms * order.phi < order.oversampling * d2.astype(np.float64))
        if sampled.size:
            emitted.append(
                (
                    (model, _SAMPLES),
                    [(int(block.ids[i]), block.pixels[i].tobytes()) for i in sampled.tolist()],
                )
            )
    return state, emitted


@dataclass
class _Model:
    """The driver's view of one model being initialised."""

    k: int
    seed: int
    trials: int
    oversampling: float
    steps: int
    candidates: dict[int, bytes]
    new_ids: list[int]
    phi: int = 0
    weights: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rounds: int = 0
    passes: int = 1
    sampling: bool = False
    done: bool = False
    patterns: set[bytes] = field(init=False)
    """The candidates' pixel patterns."""

    def __post_init__(self) -> None:
        self.patterns = set(self.candidates.values())

    def _candidate_pixels(self, ids: list[int]) -> npt.NDArray[np.uint8]:
        pixels = b"".join(self.candidates[i] for i in ids)
        return np.frombuffer(pixels, dtype=np.uint8).reshape(-1, N_PIXELS)

    def fold_order(self, rebuild: bool = False) -> FoldOrder:
        """The next fold pass; with ``rebuild``, also every candidate's pixels."""
        ids = sorted(self.candidates)
        return FoldOrder(
            np.asarray(self.new_ids, dtype=np.int64),
            self._candidate_pixels(self.new_ids),
            np.asarray(ids, dtype=np.int64),
            self._candidate_pixels(ids) if rebuild else None,
        )

    def sample_order(self, rebuild: bool = False) -> SampleOrder:
        """The next sample pass; with ``rebuild``, also every candidate."""
        if not rebuild:
            return SampleOrder(self.seed, self.rounds, float(self.phi), self.oversampling)
        ids = sorted(self.candidates)
        return SampleOrder(
            self.seed,
            self.rounds,
            float(self.phi),
            self.oversampling,
            np.asarray(ids, dtype=np.int64),
            self._candidate_pixels(ids),
        )

    def folded(self, model: int, merged: Mapping[Hashable, Any]) -> None:
        self.passes += 1
        self.phi = int(merged[(model, _PHI)])
        self.weights = np.asarray(merged[(model, _WEIGHTS)], dtype=np.int64)
        enough = self.rounds >= self.steps and len(self.candidates) >= self.k
        self.done = enough or self.phi == 0
        self.sampling = not self.done

    def sampled(self, model: int, merged: Mapping[Hashable, Any]) -> None:
        self.passes += 1
        self.rounds += 1
        self.new_ids = []
        for digit_id, pixels in sorted(merged.get((model, _SAMPLES), [])):
            # A pattern sampled twice in this round keeps its smaller id.
            if pixels not in self.patterns:
                self.patterns.add(pixels)
                self.candidates[digit_id] = pixels
                self.new_ids.append(digit_id)
        self.sampling = False

    def centres(self) -> npt.NDArray[np.uint8]:
        """Reduce the weighted candidates to at most k centres."""
        ids = sorted(self.candidates)
        if len(ids) < self.k:
            logger.warning(
                "k-means|| (seed %d): the data holds only %d distinct digits, fewer than k=%d: "
                "returning %d centroids",
                self.seed,
                len(ids),
                self.k,
                len(ids),
            )
        points = np.frombuffer(b"".join(self.candidates[i] for i in ids), dtype=np.uint8)
        points = points.reshape(-1, N_PIXELS)
        rng = np.random.default_rng([self.seed & _SEED_MASK, STREAM_KMEANS_PARALLEL_REDUCE])
        chosen = weighted_kmeans_pp(points, self.weights, self.k, self.trials, rng)
        return points[chosen]


def kmeans_parallel_initialisations(
    passes: BlockPasses,
    specs: Sequence[InitSpec],
    trials: Sequence[int],
    oversampling: float,
    steps: int,
) -> list[Initialised]:
    """k-means|| centres of every spec, all advanced by the same passes.

    Parameters
    ----------
    passes : BlockPasses
        Closed by the caller.
    specs : sequence of InitSpec
        Valid: ``1 <= k <= number of digits``.
    trials : sequence of int
        Candidates per centre of each spec's greedy reduction, ``>= 1``.
    oversampling : float
        ``> 0``; each round samples ``oversampling * k`` digits in expectation.
    steps : int
        Rounds, ``>= 1``.

    Returns
    -------
    list of Initialised
        One per spec, in order; fewer than ``k`` centres (with a logged warning)
        when the data holds fewer than ``k`` distinct digits.
    """
    firsts = first_centres(
        passes,
        {i: (spec.seed, substream(STREAM_KMEANS_PARALLEL, 0, 0)) for i, spec in enumerate(specs)},
    )
    models = [
        _Model(
            spec.k,
            spec.seed,
            trials[i],
            oversampling * spec.k,
            steps,
            candidates={firsts[i][1]: firsts[i][2]},
            new_ids=[firsts[i][1]],
        )
        for i, spec in enumerate(specs)
    ]
    while True:
        active = {i: model for i, model in enumerate(models) if not model.done}
        if not active:
            break
        # Every model starts with a fold and then alternates, so the active ones
        # stay in step: a fold pass keeps only the state of the models it folds.
        if len({model.sampling for model in active.values()}) != 1:
            raise RuntimeError("k-means|| models fell out of step")
        if next(iter(active.values())).sampling:
            orders: dict[int, Any] = {i: model.sample_order() for i, model in active.items()}
            rebuild: dict[int, Any] = {
                i: model.sample_order(rebuild=True) for i, model in active.items()
            }
            merged = dict(
                passes.run(
                    _sample_step,
                    orders,
                    operator.add,
                    keep_state=False,
                    lost_state="restart",
                    payload_without_state=rebuild,
                )
            )
            for i, model in active.items():
                model.sampled(i, merged)
        else:
            orders = {i: model.fold_order() for i, model in active.items()}
            rebuild = {i: model.fold_order(rebuild=True) for i, model in active.items()}
            merged = dict(
                passes.run(
                    _fold_step,
                    orders,
                    operator.add,
                    keep_state=True,
                    lost_state="restart",
                    payload_without_state=rebuild,
                )
            )
            for i, model in active.items():
                model.folded(i, merged)
    return [Initialised(model.centres(), model.passes) for model in models]
