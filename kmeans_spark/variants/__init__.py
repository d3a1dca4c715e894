"""Beyond plain k-means: k-medians, spherical k-means, per-class centres, preprocessed digits.

:mod:`.algorithms` (assignment and centre updates of each algorithm),
:mod:`.features` (digits as the features a variant trains on), :mod:`.training`
(the Lloyd passes), :mod:`.experiment` (train, label, classify).
"""

from __future__ import annotations

from kmeans_spark.variants.algorithms import ALGORITHMS, KMEANS, KMEDIANS, SPHERICAL
from kmeans_spark.variants.experiment import VariantParams, train_variants

__all__ = ["ALGORITHMS", "KMEANS", "KMEDIANS", "SPHERICAL", "VariantParams", "train_variants"]
