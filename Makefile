# Revisit — every target installs the pinned environment first if it is missing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?= revisit-data
DEMO_HOUSEHOLDS ?= 20000

.DEFAULT_GOAL := help

.PHONY: help install test test-slow lint format demo bench bench-scale mlflow-ui serve clean

help: ## List every target with a one-line description
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'
	@echo "Variables: HOME_DIR=$(HOME_DIR) (demo, mlflow-ui, serve), DEMO_HOUSEHOLDS=$(DEMO_HOUSEHOLDS), PYTHON=$(PYTHON)"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==26.3"
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Revisit with its dev extras from constraints.txt

test: $(STAMP) ## Run the test suite (slow tests excluded); what CI runs
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(STAMP) ## Run only the tests marked slow
	$(BIN)/python -m pytest -m slow -q

lint: $(STAMP) ## ruff check, ruff format --check and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy warehouse features models training campaign serving simulation revisit

format: $(STAMP) ## Apply ruff's formatter and autofixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP) ## The main job on the default simulated prefecture, ending with a ranked list
	scripts/demo.sh $(HOME_DIR) $(DEMO_HOUSEHOLDS)

bench: $(STAMP) ## Benchmarks of ingestion, simulation, features, training and serving
	$(BIN)/python -m benchmarks.run_all

SCALE_HOUSEHOLDS ?= 200000
SCALE_PEER ?= --peer
bench-scale: $(STAMP) ## The main job stage by stage at SCALE_HOUSEHOLDS (time, peak RSS), DuckDB peer (SCALE_PEER= leaves it out)
	$(BIN)/python -m benchmarks.bench_scale --households $(SCALE_HOUSEHOLDS) $(SCALE_PEER)

mlflow-ui: $(STAMP) ## MLflow UI on 127.0.0.1:5000 (one worker, job execution and telemetry off)
	@echo "training runs (classic view): http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true $(BIN)/mlflow server --host 127.0.0.1 --port 5000 --workers 1 \
	  --backend-store-uri sqlite:///$(abspath $(HOME_DIR))/mlflow.db \
	  --default-artifact-root $(abspath $(HOME_DIR))/mlartifacts

serve: $(STAMP) ## Start the API on 127.0.0.1:8000 with the champion model
	REVISIT_HOME=$(HOME_DIR) $(BIN)/revisit serve

clean: ## Remove the environment and generated data
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache .mypy_cache .ruff_cache
