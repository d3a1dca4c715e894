"""A pyspark.ml Estimator for exact, reproducible k-means of MNIST-like pixel data.

>>> from kmeans_spark.ml import KMeans  # doctest: +SKIP
>>> model = KMeans(k=10, labelCol="label").fit(digits)  # doctest: +SKIP

:class:`KMeans` fits with the project's engine, :class:`KMeansModel` assigns
rows exactly as training did, and both save and load as Spark ML stages, in a
:class:`pyspark.ml.Pipeline` too.
"""

from __future__ import annotations

from kmeans_spark.ml.estimator import KMeans
from kmeans_spark.ml.model import KMeansModel
from kmeans_spark.ml.params import DEFAULT_SEED
from kmeans_spark.ml.summary import KMeansSummary

__all__ = ["DEFAULT_SEED", "KMeans", "KMeansModel", "KMeansSummary"]
