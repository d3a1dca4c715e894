"""spark-submit entry point of the fetch mnist job.

The job itself is :mod:`kmeans_spark.jobs.fetch_mnist`; this file only runs it, so that
``spark-submit --py-files dist/kmeans_spark.zip jobs/fetch_mnist.py ...`` works where the
package is not installed.
"""

from __future__ import annotations

import sys

from kmeans_spark.jobs.fetch_mnist import main

if __name__ == "__main__":
    sys.exit(main())
