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

.PHONY: setup fetch run sweep predict report test lint bench bench-quick bench-sweep clean

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

test: setup
	$(PYTHON) -m pytest $(PYTEST_ARGS)

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

lint: setup
	$(VENV)/bin/ruff check kmeans_spark jobs tests
	$(VENV)/bin/mypy kmeans_spark

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache spark-warehouse
