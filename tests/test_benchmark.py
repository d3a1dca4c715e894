from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose
from sklearn.cluster import KMeans
from support import blocks_from_arrays

from kmeans_spark import benchmark as bench


def test_numpy_floor_and_ours_follow_lloyd(spark) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (400, 784)).astype(np.uint8)
    initial = pixels[:5].astype(np.float64)
    reference = KMeans(5, init=initial, n_init=1, max_iter=3, tol=0.0, algorithm="lloyd")
    reference.fit(pixels.astype(np.float64))
    seconds, floor = bench.numpy_floor(pixels, pixels.astype(np.float32), initial, 3)
    assert seconds > 0
    assert_allclose(floor, reference.cluster_centers_, rtol=1e-9)
    seconds, centroids = bench.ours(blocks_from_arrays(spark, pixels), initial, 3)
    assert seconds > 0
    assert_allclose(centroids, reference.cluster_centers_, rtol=1e-9)


def test_markdown_table_has_ratios() -> None:
    records = [
        bench.Record("kmeans_spark", 60000, 16, 0.5, 5, "median"),
        bench.Record("mllib_block", 60000, 16, 1.5, 5, "difference"),
        bench.Record("numpy_floor", 60000, 16, 0.25, 5, "median"),
        bench.Record("mllib_row", 60000, 16, None, 5, "", None, "skipped"),
    ]
    table = bench.markdown_table(records)
    row = next(line for line in table.splitlines() if line.startswith("| 60,000"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:7] == ["0.500", "—", "1.500", "—", "0.250"]
    assert cells[7:] == ["3.00", "—", "2.00"]


def test_budget_estimates_from_the_same_k() -> None:
    from kmeans_spark.benchmark_run import Budget

    budget = Budget(limit=100.0, iterations=9)
    assert budget.allows("mllib_row", 60_000, 16) == (True, "")
    budget.record("mllib_row", 60_000, 16, 1.0)  # 10 s per measurement at 60,000
    budget.record("mllib_row", 60_000, 400, 20.0)
    assert budget.allows("mllib_row", 250_000, 16)[0]  # about 42 s
    allowed, note = budget.allows("mllib_row", 1_000_000, 16)  # about 167 s
    assert not allowed and "budget 100 s" in note
    assert not budget.allows("mllib_row", 250_000, 400)[0]
