# Event data platform — one entry point for set-up, the local platform, tests and benchmarks.
# A fresh clone needs only `make run` and `make test`; every target installs what it needs.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
UV_VERSION  := 0.13.9
VENV        := .venv
TOOLS       := .tools
UV          := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
PY          := $(VENV)/bin/python
SYNC_STAMP  := $(VENV)/.synced
JARS_STAMP  := .cache/spark-jars/.provisioned

export PYTHONPATH := $(CURDIR)/include
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export PYTHONDONTWRITEBYTECODE := 1

DEMO_EVENTS ?= 100000

.PHONY: help setup run demo stop status send restart alerts-redrive alarms airflow browsers gx openapi query test test-unit test-integration lint format bench lambdas requirements clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The environment is rebuilt only when the lock changes: a second `make test` costs one stat.
$(SYNC_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

$(JARS_STAMP): $(SYNC_STAMP) include/edp/spark_runtime/jars.py
	$(PY) -m edp.spark_runtime.jars provision

setup: $(SYNC_STAMP) $(JARS_STAMP)  ## create the virtualenv from uv.lock and cache the Delta Lake jars

run: setup  ## start the whole local platform in the background and print its URLs
	$(PY) -m edp_local.runtime up

# Runs its own isolated instance (.platform/demo, data/demo/lake), so make stop first if make run is up.
demo: setup  ## bounded run of the whole platform: send DEMO_EVENTS events, drive every DAG once, reconcile
	$(PY) -m edp_local.demo --events $(DEMO_EVENTS) $(ARGS)

stop:  ## stop every process the local platform started
	@if [ -x $(PY) ]; then $(PY) -m edp_local.runtime down; else echo "nothing to stop"; fi

status: $(SYNC_STAMP)  ## print one JSON object with each component's health, pid, port and URL
	@$(PY) -m edp_local.runtime status

send: $(SYNC_STAMP)  ## send simulated app traffic to the local gateway, e.g. make send ARGS="--rate 200 --count 10000" (or "--forever --rate 50")
	$(PY) -m edp_local.load_generator $(ARGS)

restart: $(SYNC_STAMP)  ## restart one local component, e.g. make restart NAME=streaming-job
	$(PY) -m edp_local.runtime restart $(NAME)

alerts-redrive: $(SYNC_STAMP)  ## replay locally dead-lettered Slack alerts once Slack is back
	$(PY) -m edp_local.alerting redrive

alarms: $(SYNC_STAMP)  ## apply the CloudWatch alarms (PLATFORM_ENV=aws)
	$(PY) -m edp.monitoring apply

airflow: $(SYNC_STAMP)  ## run the airflow CLI locally, e.g. make airflow CMD="dags test platform_health"
	$(PY) -m edp_local.runtime airflow $(CMD)

# Debian's Chromium drives the dashboard and UI browser tests (Playwright with executable_path, no
# browser download). Installed when missing and this is a root Debian machine; elsewhere those tests
# skip with a reason.
browsers:  ## install Debian's chromium for the browser tests, if missing
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium not found: browser tests will be skipped (install Debian's chromium package)"; fi

gx: $(SYNC_STAMP)  ## rebuild the Great Expectations file context (suites, checkpoints) from the event contract
	$(PY) -m edp.quality.build_context

openapi: $(SYNC_STAMP)  ## regenerate the ingest API's request schemas (include/lambda/ingest/openapi.yaml) from the event contract
	$(PY) -m edp.contract.openapi

query: $(SYNC_STAMP)  ## ad hoc SQL over the local lake (Athena stand-in), e.g. make query SQL="SELECT count(*) FROM edp_lake.silver_events"
	$(PY) -m edp.serving.lake_catalog "$(SQL)"

test: setup browsers lint  ## lint, then the whole test suite (unit, DAG integrity, integration, e2e)
	$(PY) -m pytest

test-unit: setup  ## fast tests only: no services, no Spark
	$(PY) -m pytest -m "unit"

test-integration: setup  ## tests that start local services or Spark
	$(PY) -m pytest -m "integration or e2e"

lint: $(SYNC_STAMP)  ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m edp.quality.build_context --check

format: $(SYNC_STAMP)  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup  ## run every benchmark and print the figures for docs/benchmarks.md
	$(PY) -m benchmarks --write docs/benchmarks.md

lambdas: $(SYNC_STAMP)  ## build each Lambda into build/lambda/<name>.zip with only its own dependencies
	$(PY) -m tools.build_lambda --all

# The Astro Runtime image provides Airflow itself; requirements.txt pins everything else from uv.lock.
requirements: $(SYNC_STAMP)  ## regenerate requirements.txt (for the Astro image) from uv.lock
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --no-header --no-emit-package apache-airflow --no-emit-package apache-airflow-core --no-emit-package apache-airflow-task-sdk -o requirements.txt

clean: stop  ## remove local platform state and build outputs (keeps the lake unless CLEAN_DATA=1)
	rm -rf .platform build
	@if [ "$(CLEAN_DATA)" = "1" ]; then rm -rf data; fi
