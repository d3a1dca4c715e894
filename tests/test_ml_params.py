"""kmeans_spark.ml Params: MLlib's names and defaults, a constant seed, checks before any work."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from ml_support import digits_frame, jobs_in
from support import embed

from kmeans_spark.errors import UsageError
from kmeans_spark.ml import DEFAULT_SEED, KMeans, KMeansModel
from kmeans_spark.schema import N_PIXELS

OPTIONAL = (
    "distanceCol",
    "labelCol",
    "predictedLabelCol",
    "initialCenters",
    "initTrials",
    "partitions",
)


def test_defaults_are_mllibs_where_the_concept_is_mllibs() -> None:
    kmeans = KMeans()
    assert kmeans.getK() == 2
    assert kmeans.getMaxIter() == 20
    assert kmeans.getTol() == 1e-4
    assert kmeans.getInitMode() == "k-means||"
    assert kmeans.getInitSteps() == 2
    assert kmeans.getFeaturesCol() == "features"
    assert kmeans.getPredictionCol() == "prediction"
    assert kmeans.getSeed() == DEFAULT_SEED == 1
    assert kmeans.getInitOversampling() == 2.0
    assert kmeans.getNInit() == 1
    assert kmeans.getEmptyCluster() == "farthest"
    for name in OPTIONAL:
        assert not kmeans.isDefined(kmeans.getParam(name)), name
    assert kmeans.getDistanceCol() is None and kmeans.getLabelCol() is None
    assert kmeans.getPredictedLabelCol() is None and kmeans.getInitialCenters() is None
    assert kmeans.getInitTrials() is None and kmeans.getPartitions() is None


def test_default_seed_is_the_same_in_every_python_process() -> None:
    # pyspark's HasSeed defaults to hash(class name), which string hash
    # randomisation changes from one process to the next.
    code = "from kmeans_spark.ml import KMeans; print(KMeans().getSeed(), KMeans().uid[:7])"
    seen = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        seen.add(done.stdout.split()[0])
    assert seen == {str(DEFAULT_SEED)}


def test_init_and_set_params_are_keyword_only() -> None:
    with pytest.raises(TypeError, match="keyword"):
        KMeans(3)  # type: ignore[misc]
    with pytest.raises(TypeError, match="keyword"):
        KMeans().setParams(3)  # type: ignore[misc]


def test_setters_getters_and_none_clears_an_optional_param() -> None:
    kmeans = KMeans(k=7, distanceCol="d", labelCol="label", initTrials=3, partitions=4)
    assert (kmeans.getK(), kmeans.getDistanceCol(), kmeans.getInitTrials()) == (7, "d", 3)
    chained = (
        kmeans.setK(9)
        .setMaxIter(5)
        .setTol(0.5)
        .setSeed(-3)
        .setInitMode("random")
        .setInitSteps(4)
        .setInitOversampling(3.5)
        .setNInit(2)
        .setEmptyCluster("keep")
        .setFeaturesCol("pixels")
        .setPredictionCol("cluster")
        .setPredictedLabelCol("digit")
    )
    assert chained is kmeans
    assert (kmeans.getK(), kmeans.getMaxIter(), kmeans.getTol()) == (9, 5, 0.5)
    assert (kmeans.getSeed(), kmeans.getInitMode(), kmeans.getInitSteps()) == (-3, "random", 4)
    assert kmeans.getInitOversampling() == 3.5
    assert (kmeans.getNInit(), kmeans.getEmptyCluster()) == (2, "keep")
    assert (kmeans.getFeaturesCol(), kmeans.getPredictionCol()) == ("pixels", "cluster")
    assert kmeans.getPredictedLabelCol() == "digit"
    kmeans.setParams(distanceCol=None, initTrials=None)
    kmeans.setPartitions(None).setLabelCol(None)
    for name in ("distanceCol", "initTrials", "partitions", "labelCol"):
        assert not kmeans.isSet(kmeans.getParam(name)), name
    assert kmeans.getK() == 9  # setParams leaves what it is not given


def test_type_converters_apply() -> None:
    kmeans = KMeans(k=np.int64(4), tol=1, initialCenters=np.zeros((2, 3), dtype=np.uint8))
    assert kmeans.getK() == 4 and isinstance(kmeans.getK(), int)
    assert kmeans.getTol() == 1.0 and isinstance(kmeans.getTol(), float)
    assert kmeans.getInitialCenters() == [[0.0] * 3] * 2
    with pytest.raises(TypeError, match="k"):
        KMeans(k="four")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="initialCenters"):
        KMeans(initialCenters=[["a"] * N_PIXELS])


def test_copy_explain_and_extract_param_map() -> None:
    kmeans = KMeans(k=5, distanceCol="d")
    twin = kmeans.copy({kmeans.k: 8, kmeans.maxIter: 3})
    assert twin.uid == kmeans.uid and twin is not kmeans
    assert (twin.getK(), twin.getMaxIter(), twin.getDistanceCol()) == (8, 3, "d")
    assert (kmeans.getK(), kmeans.getMaxIter()) == (5, 20)
    params = {param.name: value for param, value in kmeans.extractParamMap().items()}
    assert params["k"] == 5 and params["seed"] == DEFAULT_SEED and params["distanceCol"] == "d"
    assert "labelCol" not in params  # unset and without default
    explained = kmeans.explainParams()
    for param in kmeans.params:
        assert f"{param.name}:" in explained
    assert "k: The number of clusters" in explained and "(default: 2, current: 5)" in explained
    assert "seed: random seed. (default: 1)" in explained


def test_the_model_has_the_same_params() -> None:
    model = KMeansModel(np.zeros((2, N_PIXELS)))
    assert sorted(p.name for p in model.params) == sorted(p.name for p in KMeans().params)
    assert model.getK() == 2 and model.getSeed() == DEFAULT_SEED
    assert model.setDistanceCol("d").setPredictedLabelCol("digit") is model
    assert (model.getDistanceCol(), model.getPredictedLabelCol()) == ("d", "digit")
    model.setDistanceCol(None)
    assert model.getDistanceCol() is None


GOOD_CENTRES = np.zeros((2, N_PIXELS)).tolist()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 0}, "k must be >= 1, got 0"),
        ({"maxIter": 0}, "maxIter must be >= 1"),
        ({"tol": -1.0}, "tol must be >= 0"),
        ({"tol": float("nan")}, "tol must be >= 0"),
        ({"initMode": "kmeans++"}, "initMode 'kmeans\\+\\+' is unknown"),
        ({"initSteps": 0}, "initSteps must be >= 1"),
        ({"initTrials": 0}, "initTrials must be >= 1"),
        ({"initOversampling": 0.0}, "initOversampling must be > 0"),
        ({"nInit": 0}, "nInit must be >= 1"),
        ({"emptyCluster": "drop"}, "emptyCluster 'drop' is unknown"),
        ({"partitions": 0}, "partitions must be >= 1"),
        ({"k": 3, "initialCenters": GOOD_CENTRES}, "initialCenters must be k=3 lists of 784"),
        ({"initialCenters": [[0.0] * 10] * 2}, "lists of sizes \\[10\\]"),
        ({"initialCenters": [[float("nan")] * N_PIXELS] * 2}, "NaN or infinite"),
        ({"initialCenters": GOOD_CENTRES, "nInit": 2}, "one restart only"),
    ],
)
def test_bad_params_raise_usage_errors(params, message) -> None:
    with pytest.raises(UsageError, match=message):
        KMeans(**params).checked_settings()


def test_fit_checks_params_before_any_spark_job(spark) -> None:
    frame = digits_frame(spark, embed([[0, 0], [1, 1], [5, 5]]))
    with jobs_in(spark, "ml-params-checks") as jobs:
        for bad in (KMeans(k=0), KMeans(emptyCluster="none"), KMeans(predictedLabelCol="digit")):
            with pytest.raises(UsageError):
                bad.fit(frame)
    assert jobs() == []
