"""spark-submit entry point of the make-digits job.

The job itself is :mod:`kmeans_spark.jobs.make_digits`; this file only runs it, so that
``spark-submit --py-files dist/kmeans_spark.zip jobs/make_digits.py ...`` works where the
package is not installed.
"""

from __future__ import annotations

import sys

from kmeans_spark.jobs.make_digits import main

if __name__ == "__main__":
    sys.exit(main())
