"""ML persistence: KMeans and KMeansModel save and load, alone and inside a Pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from chispa import assert_df_equality
from ml_support import digits_frame
from numpy.testing import assert_array_equal
from pyspark.errors import AnalysisException
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import SQLTransformer, VectorAssembler
from pyspark.ml.functions import array_to_vector
from pyspark.sql import functions as F
from support import embed, load_mnist_numpy

from kmeans_spark.errors import InputError
from kmeans_spark.ml import KMeans, KMeansModel

POINTS = [[0, 0], [2, 0], [0, 2], [10, 10], [12, 10], [11, 13]]


def _params(stage) -> dict[str, object]:
    return {param.name: value for param, value in stage.extractParamMap().items()}


def test_estimator_round_trip(spark, tmp_path: Path) -> None:
    centres = embed([[1, 2], [3, 4]]).astype(np.float64) + 0.1
    kmeans = KMeans(k=2, maxIter=7, seed=-5, initialCenters=centres.tolist(), distanceCol="d")
    path = str(tmp_path / "kmeans")
    kmeans.save(path)
    loaded = KMeans.load(path)
    assert isinstance(loaded, KMeans) and loaded.uid == kmeans.uid
    assert _params(loaded) == _params(kmeans)
    assert_array_equal(np.array(loaded.getInitialCenters()), centres)  # floats exactly
    assert not loaded.isSet(loaded.labelCol) and loaded.isSet(loaded.distanceCol)
    # Saving over a folder needs overwrite().
    with pytest.raises(AnalysisException):
        kmeans.setK(3).save(path)
    kmeans.write().overwrite().save(tmp_path.as_uri() + "/kmeans")  # a Hadoop URI works too
    assert KMeans.read().load(path).getK() == 3


@pytest.fixture(scope="module")
def fitted(spark):
    frame = digits_frame(spark, embed(POINTS), [1, 1, 7, 4, None, 9], partitions=2)
    model = KMeans(k=2, initMode="random", seed=3, labelCol="label").fit(frame)
    return model.setDistanceCol("distance").setPredictedLabelCol("digit"), frame


def test_model_round_trip(tmp_path: Path, fitted) -> None:
    model, frame = fitted
    path = str(tmp_path / "model")
    model.write().save(path)
    loaded = KMeansModel.load(path)
    assert loaded.uid == model.uid and _params(loaded) == _params(model)
    assert_array_equal(loaded.centers, model.centers)  # bit for bit
    assert loaded.centroidLabels() == model.centroidLabels() == [1, 4]
    assert not loaded.hasSummary  # as MLlib: the summary is not saved
    assert_df_equality(loaded.transform(frame), model.transform(frame))
    # No pickle: JSON metadata and Parquet data, as Spark ML writes them.
    (metadata_file,) = (tmp_path / "model" / "metadata").glob("part-*")
    metadata = json.loads(metadata_file.read_text())
    assert metadata["class"] == "kmeans_spark.ml.model.KMeansModel"
    assert (metadata["k"], metadata["numFeatures"], metadata["hasCentroidLabels"]) == (2, 784, True)
    data_files = [p.name for p in (tmp_path / "model" / "data").iterdir() if p.name[0] not in "._"]
    assert data_files and all(name.endswith(".parquet") for name in data_files)
    KMeans().save(str(tmp_path / "estimator"))
    with pytest.raises(InputError, match=r"holds a 'kmeans_spark\.ml\.estimator\.KMeans'"):
        KMeansModel.load(str(tmp_path / "estimator"))


def test_pipeline_round_trip(spark, mnist_dir, tmp_path: Path) -> None:
    images, labels = load_mnist_numpy(mnist_dir)
    # Two halves of each digit, glued back together by a VectorAssembler.
    rows = [
        (int(label), image[:392].tolist(), image[392:].tolist())
        for image, label in zip(images[:300], labels[:300], strict=True)
    ]
    raw = spark.createDataFrame(rows, "label int, top array<int>, bottom array<int>")
    frame = raw.select(
        "label",
        array_to_vector(F.col("top").cast("array<double>")).alias("top"),
        array_to_vector(F.col("bottom").cast("array<double>")).alias("bottom"),
    ).cache()
    pipeline = Pipeline(
        stages=[
            SQLTransformer(statement="SELECT *, label AS digit FROM __THIS__"),
            VectorAssembler(inputCols=["top", "bottom"], outputCol="pixels"),
            KMeans(k=5, maxIter=3, featuresCol="pixels", labelCol="digit", initMode="random"),
        ]
    )
    fitted = pipeline.fit(frame)
    path = str(tmp_path / "pipeline-model")
    fitted.save(path)
    loaded = PipelineModel.load(path)
    stage = loaded.stages[-1]
    assert isinstance(stage, KMeansModel)
    assert_array_equal(stage.centers, fitted.stages[-1].centers)
    expected = fitted.transform(frame)
    assert_df_equality(loaded.transform(frame), expected)
    clusters = [row.prediction for row in expected.collect()]
    assert len(clusters) == 300 and set(clusters) <= set(range(5))
