# Every target uses the project-local virtual environment in .venv.
VENV        ?= .venv
PYTHON      := $(VENV)/bin/python
SPARK_SUBMIT := $(VENV)/bin/spark-submit
DATA_DIR    ?= data/mnist
RUN_DIR     ?= runs/train-k$(K)
K           ?= 16
SEED        ?= 1
KS          ?= 5-24,100
N_INIT      ?= 1
INIT        ?= random
PYTEST_ARGS ?=

# spark-submit reads conf/spark-defaults.conf and conf/log4j2.properties from here, and runs
# the driver and the executors' Python workers with the venv's interpreter.
export SPARK_CONF_DIR        := $(CURDIR)/conf
export PYSPARK_PYTHON        := $(CURDIR)/$(PYTHON)
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(PYTHON)

.PHONY: setup fetch run sweep predict report compare-variants test lint package cluster-up cluster-down bench bench-quick bench-sweep clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $@

fetch: setup
	$(PYTHON) jobs/fetch_mnist.py --data-dir $(DATA_DIR)

run: fetch
	$(SPARK_SUBMIT) jobs/train.py --config conf/train.toml --input $(DATA_DIR) \
		--k $(K) --seed $(SEED) --init '$(INIT)' --n-init $(N_INIT) --output $(RUN_DIR) --overwrite

# The walkthrough's sweep: every k trained together, one model folder per k.
sweep: fetch
	$(SPARK_SUBMIT) jobs/sweep.py --input $(DATA_DIR) --k $(KS) --n-init $(N_INIT) \
		--init '$(INIT)' --seed $(SEED) --output runs/sweep --overwrite

# Classify the official test digits with the model of `make run`.
predict: fetch
	$(SPARK_SUBMIT) jobs/predict.py --model $(RUN_DIR) --input $(DATA_DIR) \
		--output runs/predict-k$(K) --overwrite

# Rebuild report.html of a model folder, or of a sweep folder and every k's model.
MODEL ?= $(RUN_DIR)
report: setup
	$(SPARK_SUBMIT) jobs/report.py --model $(MODEL)

# Two pytest workers, each file on one of them (module fixtures such as the standalone
# cluster stay whole): Spark jobs wait on the JVM as much as on the CPU, so two overlap
# well on two cores; files go out in collection order, the longest first (tests/conftest.py),
# not largest-first by test count. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2
test: setup
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Issue 8's table: k-means, k-medians, spherical, per-class and deskewed variants on the
# official test digits (about 30 minutes on two cores; QUICK=--quick for a few minutes).
QUICK ?=
compare-variants: fetch
	$(SPARK_SUBMIT) --driver-memory 6g jobs/compare_variants.py --input $(DATA_DIR) \
		--output runs/variants --overwrite $(QUICK)

# Benchmarks print and save their figures (benchmark.json, .md, .png); they are not tests.
BENCH_INPUT ?= $(DATA_DIR)
bench: fetch
	$(SPARK_SUBMIT) --driver-memory 10g jobs/benchmark.py --input $(BENCH_INPUT) \
		--output runs/benchmark --overwrite

bench-quick: fetch
	$(SPARK_SUBMIT) jobs/benchmark.py --input $(BENCH_INPUT) --output runs/benchmark-quick \
		--quick --overwrite

bench-sweep: fetch
	$(SPARK_SUBMIT) jobs/bench_sweep.py --input $(BENCH_INPUT) --k $(KS) --seed $(SEED) \
		--output runs/bench-sweep --overwrite

# A wheel for pip, and dist/kmeans_spark.zip for spark-submit --py-files. The zip is the
# wheel itself: a pure-Python wheel is a zip archive with the package at its root, which is
# what Python's zipimport (and so --py-files) needs.
DIST ?= dist
package: setup
	rm -rf build $(DIST)/kmeans_spark-*.whl $(DIST)/kmeans_spark.zip
	$(PYTHON) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir $(DIST) .
	rm -rf build
	cp $(DIST)/kmeans_spark-*.whl $(DIST)/kmeans_spark.zip
	@ls -l $(DIST)

# A Spark standalone cluster on this machine (a master and two one-core workers on
# 127.0.0.1, from the pip-installed pyspark's spark-class), to try the packaged jobs
# as on a real cluster: see README.md "On a cluster". Logs and pids in runs/cluster.
CLUSTER_DIR  ?= runs/cluster
MASTER_PORT  ?= 7077
WORKERS      ?= 2
SPARK_CLASS   = $$($(PYTHON) -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')/bin/spark-class
cluster-up: setup
	mkdir -p $(CLUSTER_DIR)
	SPARK_LOCAL_IP=127.0.0.1 nohup $(SPARK_CLASS) org.apache.spark.deploy.master.Master \
		--host 127.0.0.1 --port $(MASTER_PORT) --webui-port 8080 \
		> $(CLUSTER_DIR)/master.log 2>&1 & echo $$! > $(CLUSTER_DIR)/master.pid
	for i in $$(seq 1 $(WORKERS)); do \
		mkdir -p $(CLUSTER_DIR)/worker-$$i; \
		SPARK_LOCAL_IP=127.0.0.1 nohup $(SPARK_CLASS) org.apache.spark.deploy.worker.Worker \
			--host 127.0.0.1 --cores 1 --memory 2g --work-dir $(CLUSTER_DIR)/worker-$$i \
			--webui-port $$((8080 + i)) spark://127.0.0.1:$(MASTER_PORT) \
			> $(CLUSTER_DIR)/worker-$$i.log 2>&1 & echo $$! > $(CLUSTER_DIR)/worker-$$i.pid; \
	done
	@echo "master spark://127.0.0.1:$(MASTER_PORT), web UI http://127.0.0.1:8080 (workers register in a few seconds)"

cluster-down:
	-for pid in $(CLUSTER_DIR)/*.pid; do kill $$(cat $$pid) 2>/dev/null; rm -f $$pid; done

lint: setup
	$(VENV)/bin/ruff check kmeans_spark jobs tests
	$(VENV)/bin/mypy kmeans_spark

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache spark-warehouse
