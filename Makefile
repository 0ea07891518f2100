# snnrepro — one-command setup, demo, tests and reproductions.
# Everything installs into a project-local virtualenv (.venv) from pyproject.toml.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SNN := $(VENV)/bin/snnrepro
PROFILE ?= quick
DEVICE ?= auto
# Real dataset copies for offline work: ../shared/data when present, else ./data.
SNNREPRO_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath data))
RESULTS ?= results
# What stays of a finished run's checkpoints: all | last (default: the last epoch's, for evaluate/export) | none
CHECKPOINTS ?= last
export SNNREPRO_DATA

.PHONY: setup demo test lint bench reproduce-all tables data-check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	# NeuroBench's metric code is pure Python; its declared dependencies (snntorch, torchaudio, numba) are
	# not needed for the functions the tests compare against, and torchaudio would pin another torch.
	$(PY) -m pip install --quiet --no-deps "neurobench==2.3.0"
	touch $@

setup: $(VENV)/.installed ## create .venv and install snnrepro with its test tools

# The demo writes its own records here (ignored by git), never over the committed ones in results/.
DEMO_RESULTS ?= results-demo

demo: setup ## the main job offline: RSN 784-400-10 on scikit-learn's digits, STDBP 784-400-10 when MNIST is present; + its table
	SNNREPRO_OFFLINE=1 $(SNN) run mnist-rsn-mlp --profile quick --results $(DEMO_RESULTS)
	@if $(SNN) data check mnist --format tsv | awk -F'\t' 'NR > 1 && $$2 == "present" {ok = 1} END {exit !ok}'; then \
		echo "SNNREPRO_OFFLINE=1 $(SNN) run mnist-stdbp-mlp400 --profile quick --results $(DEMO_RESULTS)"; \
		SNNREPRO_OFFLINE=1 $(SNN) run mnist-stdbp-mlp400 --profile quick --results $(DEMO_RESULTS); \
	else \
		echo "MNIST is not under $(SNNREPRO_DATA): put it there, or name a folder that has it (make demo SNNREPRO_DATA=DIR; snnrepro run --data-root DIR), for the STDBP row"; \
	fi
	$(SNN) table mnist-rsn-mlp mnist-stdbp-mlp400 --results $(DEMO_RESULTS)

test: setup ## the test suite (CPU, minutes)
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check snnrepro tests

# glibc allocator setting used for every CPU benchmark (snnrepro and peers alike; see docs/performance.md)
BENCH_ENV ?= MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736

bench: setup ## speed ratios against references measured in the same run, report in results/bench/
	$(BENCH_ENV) $(SNN) bench all --device $(DEVICE) --results $(RESULTS)

reproduce-all: setup ## every spec under PROFILE (full = the papers' budgets; meant for a GPU), then all tables
	$(SNN) reproduce --all --profile $(PROFILE) --device $(DEVICE) --results $(RESULTS) --keep-checkpoints $(CHECKPOINTS)

tables: setup ## plots (results/plots/*.png), CSVs, Markdown tables and the README's results section, from the records
	$(SNN) plot all --results $(RESULTS)
	$(SNN) reproduce --all --no-run --results $(RESULTS) --readme README.md

data-check: setup
	$(SNN) data check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
