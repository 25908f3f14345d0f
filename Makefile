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

# make test: two xdist workers (each test file on one worker, the e2e files together: they share a platform;
# see tests/conftest.py) and the 25 slowest tests printed every run. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
PYTEST_DIST  := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --no-loadscope-reorder)

# Infrastructure as code (infra/, databricks.yml): the CDK app imports edp (include/) and tools/.
CDK_OUT             := build/cdk.out
BUNDLE_OUT          := build/databricks
TARGET_EVENTS_PER_S ?= 1000
INFRA_PATH          := $(CURDIR)/include:$(CURDIR)/infra:$(CURDIR)
# jsii warns on every start under Node 20 (end of life for it) unless told this major is accepted.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 20
CDK_CLI             := npx --yes aws-cdk@^2

.PHONY: help setup run demo stop status send restart alerts-redrive alarms airflow browsers gx openapi query test test-fast test-unit test-integration test-infra lint format bench lambdas wheel synth deploy requirements clean

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

test: setup browsers lint  ## lint, then the whole test suite (unit, DAG integrity, integration, e2e), slowest 25 printed
	$(PY) -m pytest $(PYTEST_DIST) --durations=25

test-fast: setup lint  ## the edit-test loop: lint, unit tests, DAG integrity and contracts (no services, no Spark)
	$(PY) -m pytest -m "unit or contract" -q

test-unit: setup  ## fast tests only: no services, no Spark
	$(PY) -m pytest -m "unit"

test-integration: setup  ## tests that start local services or Spark
	$(PY) -m pytest -m "integration or e2e"

test-infra: $(SYNC_STAMP)  ## synthesize the CDK app and check its templates (cfn-lint, cdk-nag, assertions, moto)
	$(PY) -m pytest -m "infra"

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

wheel: $(SYNC_STAMP)  ## build the job wheel (edp) every Spark job receives, once per content; WHEEL_DIR=dist copies it there
	$(PY) -m edp.spark_runtime.wheel $(if $(WHEEL_DIR),--out-dir $(WHEEL_DIR))

# Offline: the Lambda zips come from the uv cache (the first build on a new machine fetches their wheels).
synth: $(SYNC_STAMP)  ## write the CloudFormation templates and the resolved Databricks bundle, offline, and print where
	$(PY) -m tools.build_lambda --all
	cd infra && PYTHONPATH=$(INFRA_PATH) CDK_OUTDIR=$(CURDIR)/$(CDK_OUT) \
		CDK_CONTEXT_JSON='{"target_events_per_s": $(TARGET_EVENTS_PER_S), "lambda_dir": "$(CURDIR)/build/lambda"}' \
		$(CURDIR)/$(PY) -m edp_infra.app
	$(VENV)/bin/cfn-lint --non-zero-exit-code error $(CDK_OUT)/*.template.json
	PYTHONPATH=$(INFRA_PATH) $(PY) -m edp_infra.databricks_bundle --target prod \
		--var instance_profile_arn=from-output:edp-access.DatabricksInstanceProfileArn --out $(BUNDLE_OUT)
	@echo "CloudFormation templates: $(CDK_OUT)/*.template.json (cdk-nag reports: $(CDK_OUT)/AwsSolutions-*.csv)"
	@echo "Databricks bundle: databricks.yml + resources/*.yml, resolved for prod in $(BUNDLE_OUT)/prod.json"

# Not run by the tests: needs AWS credentials (cdk bootstrap done once), the Databricks CLI and a
# workspace profile. docs/deploy.md goes through every step.
deploy: synth  ## cdk deploy every stack, then deploy the Databricks bundle with the stacks' outputs
	$(CDK_CLI) deploy --app $(CDK_OUT) --all --require-approval broadening --outputs-file build/cdk-outputs.json
	PYTHONPATH=$(INFRA_PATH) $(PY) -m edp_infra.outputs build/cdk-outputs.json > build/platform.env
	@echo "platform settings for the Airflow deployment: build/platform.env"
	databricks bundle validate -t prod $$(PYTHONPATH=$(INFRA_PATH) $(PY) -m edp_infra.outputs --bundle-vars build/cdk-outputs.json)
	databricks bundle deploy -t prod $$(PYTHONPATH=$(INFRA_PATH) $(PY) -m edp_infra.outputs --bundle-vars build/cdk-outputs.json)

# The Astro Runtime image provides Airflow itself; requirements.txt pins everything else from uv.lock.
requirements: $(SYNC_STAMP)  ## regenerate requirements.txt (for the Astro image) from uv.lock
	$(UV) export --frozen --no-default-groups --no-hashes --no-emit-project --no-header --no-emit-package apache-airflow --no-emit-package apache-airflow-core --no-emit-package apache-airflow-task-sdk -o requirements.txt

clean: stop  ## remove local platform state and build outputs (keeps the lake unless CLEAN_DATA=1)
	rm -rf .platform build
	@if [ "$(CLEAN_DATA)" = "1" ]; then rm -rf data; fi
