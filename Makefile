# Everything runs from the project's own virtualenv (.venv), created and filled here.
# `make install` is idempotent: it re-installs only when requirements.txt or pyproject.toml change.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

SANDBOX_PORT ?= 8900

.PHONY: install system-deps test bench-smoke bench lint format unit sandbox demo demo-headless services stop clean help

help:
	@echo "make install   create .venv and install the pinned working set (idempotent)"
	@echo "make system-deps  Debian packages the browser and compose tests drive: chromium, chromedriver, docker-compose"
	@echo "make test      lint, then the whole test suite (needs Redis and PostgreSQL; see README)"
	@echo "make unit      only the fast unit tests"
	@echo "make lint      ruff and mypy"
	@echo "make demo      the whole pipeline on the embedded defaults: sandbox + airflow standalone, one sample run"
	@echo "make services  the same demo on docker-compose.yaml's services, without Docker (local PostgreSQL, Redis, Celery)"
	@echo "make stop      stop every process a running demo started"
	@echo "make sandbox   run the local SP-API sandbox on http://127.0.0.1:$(SANDBOX_PORT) (state in var/sandbox)"

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) pip install --python $(PY) --compile-bytecode --quiet -r requirements.txt -e .
	@touch $(STAMP)

# Debian's Chromium + ChromeDriver (the status page's browser test) and docker-compose (checks
# docker-compose.yaml without an engine). Only what is missing is installed, and without Debian's
# recommended extras (docker-compose would pull in the Docker engine); needs root or sudo.
SYSTEM_PACKAGES := chromium:chromium chromedriver:chromium-driver docker-compose:docker-compose
system-deps:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -z "$$missing" ]; then echo "system packages present"; exit 0; fi; \
	sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	echo "installing:$$missing"; \
	$$sudo apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy plugins/spapi plugins/listings_pipeline demo dags

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The suite runs on TEST_WORKERS processes (pytest-xdist; each has its own Airflow home, PostgreSQL
# database and Redis keys): most of its time is DAG runs, demos and sandboxes waiting, so two workers
# halve it even on two cores. The few `timing` tests measure how soon the OS wakes threads and
# processes, so they run afterwards, alone. pytest exits 5 when it collected nothing: a failure for
# the main run, never a pass; the timing run may select nothing when PYTEST_ARGS narrows the suite.
TEST_WORKERS ?= 2
test: lint
	@$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist worksteal -m "not timing" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc
	@$(VENV)/bin/pytest -m timing $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc
	$(MAKE) bench-smoke

# The benchmarks at a small size: every figure printed, failing only on correctness (at a few
# thousand rows fixed costs dominate any time budget); the full sizes are for `make bench`.
bench-smoke: install
	$(PY) -m benchmarks.bench_catalog_sync --rows 2000 --smoke --incremental
	$(PY) -m benchmarks.bench_dag_import --repeat 1 --smoke

bench: install
	$(PY) -m benchmarks.bench_catalog_sync --rows 100000 1000000 --incremental
	$(PY) -m benchmarks.bench_dag_import
	$(PY) -m benchmarks.bench_feed_build
	$(PY) -m benchmarks.bench_report_parse

sandbox: install
	$(PY) -m sandbox --port $(SANDBOX_PORT) --data-dir var/sandbox

# The demo keeps its state in var/demo (DEMO_ARGS: e.g. --port 8081 --keep --state-dir DIR; STOP_ARGS:
# --state-dir DIR); see demo/__main__.py.
DEMO_ARGS ?=
STOP_ARGS ?=
demo: install
	$(PY) -m demo run $(DEMO_ARGS)

demo-headless: install
	$(PY) -m demo run --headless $(DEMO_ARGS)

# docker-compose.yaml's services as processes: PostgreSQL metadata + warehouse databases (created on
# the local server), Redis for Celery and the shared limiter, one process per Airflow component.
services: install
	$(PY) -m demo run --services $(DEMO_ARGS)

stop:
	@test -x $(PY) && $(PY) -m demo stop $(STOP_ARGS) || echo "nothing to stop: no virtualenv yet"

unit: install
	$(VENV)/bin/pytest tests/unit -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info plugins/*.egg-info
