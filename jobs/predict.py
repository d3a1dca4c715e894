"""spark-submit entry point of the predict job.

The job itself is :mod:`kmeans_spark.jobs.predict`; this file only runs it, so that
``spark-submit --py-files dist/kmeans_spark.zip jobs/predict.py ...`` works where the
package is not installed.
"""

from __future__ import annotations

import sys

from kmeans_spark.jobs.predict import main

if __name__ == "__main__":
    sys.exit(main())
