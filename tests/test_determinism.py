"""Determinism on real digits: the same model, bit for bit, whatever the partitioning or batch.

One matrix over 3,000 real MNIST digits: for every initialisation method, the
initial centroids and the trained models (centroid bytes, iterations, inertia,
cluster sizes, label counts, per-iteration history) must not depend on the
number of partitions (1, 2, 7, 16), nor on whether a model was initialised and
trained alone or in a batch with other models (as a sweep over several k and
restarts does).

To stay cheap, each partitioning initialises two models per method in one
batch (k=8 and k=3, different seeds) and trains all six in one
:func:`~kmeans_spark.lloyd.fit_lloyd_batch`; the batch-versus-alone test then
retrains the k=8 models alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from numpy.testing import assert_array_equal
from support import blocks_from_arrays, load_mnist_numpy

from kmeans_spark.blocks import DigitBlocks
from kmeans_spark.init import INIT_METHODS, InitResult, InitSpec, initial_centroids
from kmeans_spark.lloyd import LloydResult, fit_lloyd, fit_lloyd_batch

N_DIGITS = 3000
SPECS = (InitSpec(8, 5), InitSpec(3, 6))
MAX_ITER = 3
PARTITIONS = (1, 2, 7, 16)

Trained = dict[str, tuple[list[InitResult], list[LloydResult]]]


@pytest.fixture(scope="module")
def blocks_by_partitions(spark, mnist_dir) -> Iterator[dict[int, DigitBlocks]]:
    """The same 3,000 real digits (with labels) as blocks for every partition count."""
    images, labels = load_mnist_numpy(mnist_dir)
    made = {
        p: blocks_from_arrays(spark, images[:N_DIGITS], labels[:N_DIGITS], partitions=p)
        for p in PARTITIONS
    }
    yield made
    for blocks in made.values():
        blocks.unpersist()


@pytest.fixture(scope="module")
def trained(blocks_by_partitions) -> dict[int, Trained]:
    """Per partition count and method: the batched initialisations and trained models."""
    out: dict[int, Trained] = {}
    for partitions, blocks in blocks_by_partitions.items():
        assert blocks.num_partitions == partitions
        inits = {method: initial_centroids(blocks, SPECS, method) for method in INIT_METHODS}
        starts = [init.centroids for method in INIT_METHODS for init in inits[method]]
        models = fit_lloyd_batch(blocks, starts, max_iter=MAX_ITER)
        out[partitions] = {
            method: (inits[method], models[i * len(SPECS) : (i + 1) * len(SPECS)])
            for i, method in enumerate(INIT_METHODS)
        }
    return out


def _history(model: LloydResult) -> list[tuple[object, ...]]:
    return [(s.iteration, s.moved, s.max_shift, s.inertia, s.empty_clusters) for s in model.history]


def assert_same_model(actual: LloydResult, expected: LloydResult) -> None:
    """Everything a model records is identical (wall times aside), centroids as bytes."""
    assert actual.centroids.tobytes() == expected.centroids.tobytes()
    assert actual.iterations == expected.iterations
    assert actual.converged == expected.converged
    assert actual.inertia == expected.inertia
    assert_array_equal(actual.cluster_sizes, expected.cluster_sizes)
    assert_array_equal(actual.label_counts, expected.label_counts)
    assert _history(actual) == _history(expected)


@pytest.mark.parametrize("method", INIT_METHODS)
def test_same_models_for_1_2_7_and_16_partitions(trained, method) -> None:
    ref_inits, ref_models = trained[1][method]
    # The comparison means something: k distinct centroids that then moved, on every digit.
    for spec, init, model in zip(SPECS, ref_inits, ref_models, strict=True):
        assert init.centroids.shape == (spec.k, 784)
        assert len({row.tobytes() for row in init.centroids}) == spec.k
        assert model.iterations >= 2 and int(model.cluster_sizes.sum()) == N_DIGITS
        assert model.centroids.tobytes() != init.centroids.tobytes()
    for partitions in PARTITIONS[1:]:
        inits, models = trained[partitions][method]
        for init, ref_init in zip(inits, ref_inits, strict=True):
            assert init.centroids.tobytes() == ref_init.centroids.tobytes()
            assert init.passes == ref_init.passes
        for model, ref_model in zip(models, ref_models, strict=True):
            assert_same_model(model, ref_model)


@pytest.mark.parametrize("method", INIT_METHODS)
def test_alone_equals_in_a_batch(blocks_by_partitions, trained, method) -> None:
    # The batch ran on 7 partitions with 5 other models; alone runs on 2 partitions.
    blocks = blocks_by_partitions[2]
    batch_inits, batch_models = trained[7][method]
    for spec, batch_init in zip(SPECS, batch_inits, strict=True):
        (alone,) = initial_centroids(blocks, [spec], method)
        assert alone.centroids.tobytes() == batch_init.centroids.tobytes()
    model = fit_lloyd(blocks, batch_inits[0].centroids, max_iter=MAX_ITER)
    assert_same_model(model, batch_models[0])
