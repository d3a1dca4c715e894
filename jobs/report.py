"""spark-submit entry point of the report job.

The job itself is :mod:`kmeans_spark.jobs.report`; this file only runs it, so that
``spark-submit --py-files dist/kmeans_spark.zip jobs/report.py ...`` works where the
package is not installed.
"""

from __future__ import annotations

import sys

from kmeans_spark.jobs.report import main

if __name__ == "__main__":
    sys.exit(main())
