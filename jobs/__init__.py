"""spark-submit entry points: thin wrappers of :mod:`kmeans_spark.jobs`."""
