"""k-means++ (Arthur and Vassilvitskii 2007) with greedy local trials, one Spark pass per centre.

The first centre is the digit with the smallest draw of a dedicated stream. Each
later centre is chosen as scikit-learn does: ``trials`` candidates are drawn by
D^2 sampling (probability proportional to the squared distance to the nearest
chosen centre), and the candidate that leaves the smallest total cost
``sum_x min(D^2(x), d^2(x, candidate))`` is kept (ties: the first trial).
``trials = 1`` is the paper's original algorithm.

Passes. Every block keeps, for each model, its digits' D^2 (exact int64) from
pass to pass (:class:`~kmeans_spark.passes.BlockPasses`). A pass receives per
model the centre chosen by the previous pass (folded into D^2) and the
candidates for the next centre. For every candidate ``j`` it emits the cost of
the *scenario* ``D^2_j = min(D^2, d^2(x, candidate_j))`` and, looking one step
ahead, the shortlists of the next centre's ``trials`` races under ``D^2_j``
(:mod:`~kmeans_spark.init.sampling`; the same draws in every scenario). The
driver keeps the cheapest candidate ``j*``; the winners of scenario ``j*``'s
races are the next candidates, already drawn. So choosing centre ``s`` costs one
pass, and ``k`` centres cost ``k + 1`` passes: one for the first centre, one to
fold it and draw the first candidates, one per later centre.

Exactness. D^2 values are exact integers (:mod:`~kmeans_spark.init.exact`) and
costs exact integer sums; the races are decided on the driver
(:class:`~kmeans_spark.init.sampling.RaceShortlist`). The centres are therefore
the same for any partitioning, and a model initialised in a batch gets the
centres it gets alone.

Streams: the first centre draws from ``substream(STREAM_KMEANS_PP, 0, 0)``, trial
``t`` of centre ``s >= 1`` from ``substream(STREAM_KMEANS_PP, s, t)``.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kmeans_spark.blocks import DigitBlock
from kmeans_spark.hashing import STREAM_KMEANS_PP, uniform_by_id
from kmeans_spark.init.exact import exact_sq_distances
from kmeans_spark.init.first_centre import first_centres
from kmeans_spark.init.sampling import (
    RaceShortlist,
    race_exponentials,
    race_shortlist,
    substream,
)
from kmeans_spark.init.spec import Initialised, InitSpec
from kmeans_spark.passes import BlockPasses, Emitted
from kmeans_spark.schema import N_PIXELS

logger = logging.getLogger(__name__)

_COST, _RACE = 0, 1
"""Kinds of emitted keys: ``(model, _COST, scenario)`` -> int, summed;
``(model, _RACE, scenario, trial)`` -> RaceShortlist, merged."""

PlusPlusState = dict[int, npt.NDArray[np.int64]]
"""Per block: each model's D^2 of the block's digits, shape (n,)."""


@dataclass(frozen=True)
class PlusPlusOrder:
    """What one pass does for one model.

    Attributes
    ----------
    seed : int
    fold : ndarray of uint8, shape (784,), optional
        The centre chosen by the previous pass, to fold into D^2.
    candidates : ndarray of uint8, shape (m, 784), optional
        Candidates for the next centre, one scenario each; None: one scenario,
        D^2 itself.
    race_step : int, optional
        Index of the centre whose races to run in every scenario; None: no races.
    trials : int
    folded : ndarray of uint8, shape (s, 784), optional
        Every centre folded by earlier passes; sent only when the blocks lost
        their kept D^2 (an executor was lost), to rebuild it exactly.
    """

    seed: int
    fold: npt.NDArray[np.uint8] | None
    candidates: npt.NDArray[np.uint8] | None
    race_step: int | None
    trials: int
    folded: npt.NDArray[np.uint8] | None = None


def _scenarios(block: DigitBlock, d2: npt.NDArray[np.int64], order: PlusPlusOrder) -> np.ndarray:
    """D^2 under each candidate, shape (m, n); D^2 itself, (1, n), without candidates."""
    if order.candidates is None:
        return d2[None, :]
    to_candidates = exact_sq_distances(block.pixels, block.sq_norms, order.candidates)
    return np.minimum(d2[None, :], to_candidates.T)


def _plus_plus_step(
    block: DigitBlock, state: PlusPlusState | None, orders: Mapping[int, PlusPlusOrder]
) -> tuple[PlusPlusState, Emitted]:
    previous = state or {}
    kept: PlusPlusState = {}
    emitted: Emitted = []
    for model, order in orders.items():
        d2 = previous.get(model)
        if d2 is None and order.folded is not None and len(order.folded):
            # Exact integers: the minimum over the same centres is the D^2 that was lost.
            d2 = exact_sq_distances(block.pixels, block.sq_norms, order.folded).min(axis=1)
        if order.fold is not None:
            to_fold = exact_sq_distances(block.pixels, block.sq_norms, order.fold[None, :])[:, 0]
            d2 = to_fold if d2 is None else np.minimum(d2, to_fold)
        if d2 is None:
            raise RuntimeError(f"model {model}: no centre folded before its first scenarios")
        kept[model] = d2
        scenarios = _scenarios(block, d2, order)
        for j, cost in enumerate(scenarios.sum(axis=1).tolist()):
            emitted.append(((model, _COST, j), int(cost)))
        if order.race_step is None or len(block) == 0:
            continue
        for t in range(order.trials):
            uniforms = uniform_by_id(
                block.ids, order.seed, substream(STREAM_KMEANS_PP, order.race_step, t)
            )
            exponentials = race_exponentials(uniforms)
            for j, weights in enumerate(scenarios):
                shortlist = race_shortlist(block.ids, weights, uniforms, exponentials, block.pixels)
                if shortlist is not None:
                    emitted.append(((model, _RACE, j, t), shortlist))
    return kept, emitted


def _combine(a: Any, b: Any) -> Any:
    """Costs add; race shortlists merge."""
    if isinstance(a, RaceShortlist):
        return a.merge(b)
    return a + b


@dataclass
class _Model:
    """The driver's view of one model being initialised."""

    k: int
    seed: int
    trials: int
    centres: list[npt.NDArray[np.uint8]]
    fold: npt.NDArray[np.uint8] | None = None
    candidates: npt.NDArray[np.uint8] | None = None
    passes: int = 1
    done: bool = False

    def order(self, rebuild: bool = False) -> PlusPlusOrder:
        """This model's part of the next pass; with ``rebuild``, also the folded centres."""
        # With candidates, this pass decides centre len(centres); without (the pass
        # that folds the first centre), none. It draws the candidates of the next
        # centre, if there is one.
        decided = len(self.centres) if self.candidates is not None else len(self.centres) - 1
        race_step = decided + 1 if decided + 1 < self.k else None
        folded = None
        if rebuild:
            # The centre being folded is the last one chosen; the others are in D^2.
            done = self.centres[:-1] if self.fold is not None else self.centres
            folded = np.stack(done) if done else np.zeros((0, N_PIXELS), dtype=np.uint8)
        return PlusPlusOrder(self.seed, self.fold, self.candidates, race_step, self.trials, folded)

    def advance(self, model: int, merged: Mapping[Hashable, Any]) -> None:
        """Take the cheapest candidate and the next candidates from one pass's results."""
        self.passes += 1
        scenario_count = 1 if self.candidates is None else len(self.candidates)
        costs = [merged[(model, _COST, j)] for j in range(scenario_count)]
        best = int(np.argmin(costs))  # the first of equal costs: the first trial
        if self.candidates is not None:
            self.centres.append(self.candidates[best])
            self.fold = self.candidates[best]
        else:
            self.fold = None
        if len(self.centres) == self.k:
            self.done = True
            return
        if costs[best] == 0:
            logger.warning(
                "k-means++ (seed %d): the data holds only %d distinct digits, fewer than k=%d: "
                "returning %d centroids",
                self.seed,
                len(self.centres),
                self.k,
                len(self.centres),
            )
            self.done = True
            return
        winners = []
        for t in range(self.trials):
            shortlist = merged.get((model, _RACE, best, t))
            if shortlist is None:  # impossible while some D^2 is positive
                raise RuntimeError(f"k-means++: race {t} of model {model} has no contender")
            winners.append(shortlist.winner().pixels)
        self.candidates = np.frombuffer(b"".join(winners), dtype=np.uint8).reshape(-1, N_PIXELS)


def kmeans_pp_initialisations(
    passes: BlockPasses, specs: Sequence[InitSpec], trials: Sequence[int]
) -> list[Initialised]:
    """k-means++ centres of every spec, all advanced by the same passes.

    Parameters
    ----------
    passes : BlockPasses
        Closed by the caller.
    specs : sequence of InitSpec
        Valid: ``1 <= k <= number of digits``.
    trials : sequence of int
        Candidates per centre of each spec, ``>= 1``.

    Returns
    -------
    list of Initialised
        One per spec, in order; fewer than ``k`` centres (with a logged warning)
        when the data holds fewer than ``k`` distinct digits.
    """
    firsts = first_centres(
        passes,
        {i: (spec.seed, substream(STREAM_KMEANS_PP, 0, 0)) for i, spec in enumerate(specs)},
    )
    models = []
    for i, spec in enumerate(specs):
        first = np.frombuffer(firsts[i][2], dtype=np.uint8)
        model = _Model(spec.k, spec.seed, trials[i], [first], fold=first)
        model.done = spec.k == 1
        models.append(model)
    while True:
        active = {i: model for i, model in enumerate(models) if not model.done}
        if not active:
            break
        merged = dict(
            passes.run(
                _plus_plus_step,
                {i: model.order() for i, model in active.items()},
                _combine,
                keep_state=True,
                lost_state="restart",
                payload_without_state={i: model.order(rebuild=True) for i, model in active.items()},
            )
        )
        for i, model in active.items():
            model.advance(i, merged)
    return [Initialised(np.stack(model.centres), model.passes) for model in models]
