"""The one schema every reader yields, and the constants of an MNIST digit.

Every reader in :mod:`kmeans_spark.readers` returns a Spark DataFrame with exactly
these columns, in this order:

========  ========  =========  ==========================================================
column    type      nullable   meaning
========  ========  =========  ==========================================================
id        long      no         0-based position of the digit in its input (record order)
label     int       yes        true digit 0..9, null when the input is unlabelled
pixels    binary    no         784 bytes, row-major 28 x 28, 0 = background, 255 = ink
========  ========  =========  ==========================================================

``id`` makes "the first 25%" and every seeded choice independent of how Spark
partitions the data.
"""

from __future__ import annotations

from pyspark.sql.types import BinaryType, IntegerType, LongType, StructField, StructType

IMAGE_SIDE = 28
N_PIXELS = IMAGE_SIDE * IMAGE_SIDE
N_CLASSES = 10
MAX_PIXEL = 255
UNLABELLED = -1
"""Label value used inside numpy blocks for a digit without a true label."""

DIGITS_SCHEMA = StructType(
    [
        StructField("id", LongType(), nullable=False),
        StructField("label", IntegerType(), nullable=True),
        StructField("pixels", BinaryType(), nullable=False),
    ]
)
