"""spark-submit entry point of the variant comparison job (kmeans_spark.jobs.compare_variants)."""

from __future__ import annotations

import sys

from kmeans_spark.jobs.compare_variants import main

if __name__ == "__main__":
    sys.exit(main())
