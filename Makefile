# permit-service: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the whole suite.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Exact versions with hashes: requirements/dev.lock (service + dev tools, for make venv and CI) and
# requirements/runtime.lock (the service alone, for the Dockerfile). `make lock` refreshes both.
LOCKS := requirements/runtime.lock requirements/dev.lock
# Reinstalls only when pyproject.toml or a lock changes (or the venv is gone).
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
export PORT

.PHONY: help venv lock audit-deps run test lint openapi migration bench bench-compare fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the service with its dev tools

$(STAMP): pyproject.toml $(LOCKS)
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing requirements/dev.lock (hash-checked) and permit-service into $(VENV)"
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python bin/check-lock
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# uv resolves; --universal keeps markers for every platform, the hashes cover every wheel of a pinned version.
UV_COMPILE = $(BIN)/python -m uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 --quiet
lock: ## refresh requirements/*.lock from pyproject.toml (newest versions its ranges allow)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m uv --version >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet uv
	@mkdir -p requirements
	$(UV_COMPILE) --upgrade -o requirements/runtime.lock
	$(UV_COMPILE) --upgrade --extra dev -o requirements/dev.lock
	@echo "requirements/*.lock refreshed: review the diff, run make test, commit"

audit-deps: venv ## pip-audit the locked versions against PyPI's advisories (says SKIPPED when unreachable)
	$(BIN)/python bin/audit-deps

# A demo receiver on this machine is reachable (webhooks refuse loopback by default, DC-04).
run: export WEBHOOK_ALLOWED_NETWORKS ?= 127.0.0.1,::1
run: venv ## migrate, seed the demo data and serve gunicorn (with the scheduler when it exists)
	$(BIN)/permit-service db upgrade
	$(BIN)/permit-service seed-demo
	@echo "serving http://127.0.0.1:$(PORT)  (API docs: http://127.0.0.1:$(PORT)/docs; Ctrl-C stops)"
	@if $(BIN)/permit-service scheduler --help >/dev/null 2>&1; then \
		$(BIN)/permit-service scheduler & scheduler=$$!; \
		trap 'kill $$scheduler 2>/dev/null; wait $$scheduler 2>/dev/null || true' EXIT; \
		echo "scheduler running beside gunicorn (pid $$scheduler)"; \
	else \
		echo "no 'permit-service scheduler' command yet: serving without the scheduler"; \
	fi; \
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

test: venv ## the whole suite on SQLite, then on PostgreSQL if a server answers (REQUIRE_POSTGRES=1 insists)
	bin/run-tests $(PYTEST_ARGS)

lint: venv ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

FUZZ_EXAMPLES ?= 100
fuzz: venv ## schemathesis against the API as two enterprises and a regulator, FUZZ_EXAMPLES cases per operation (CI: 5)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/integration/test_schemathesis.py -p no:cacheprovider -rA

openapi: venv ## regenerate openapi/openapi.yaml from the code
	@mkdir -p openapi
	$(BIN)/permit-service openapi --output openapi/openapi.yaml
	@echo "openapi/openapi.yaml regenerated"

migration: venv ## regenerate the initial migration from the models (before the first release)
	bin/regen-initial-migration

bench: venv ## run the benchmarks in bench/ (scripts and pytest-benchmark files)
	@shopt -s nullglob; ran=0; \
	for script in bench/*.py; do \
		case $${script##*/} in _*|conftest.py|test_*) continue ;; esac; \
		echo "==> $(BIN)/python $$script"; $(BIN)/python "$$script"; ran=1; \
	done; \
	tests=(bench/test_*.py); \
	if [ $${#tests[@]} -gt 0 ]; then $(BIN)/python -m pytest "$${tests[@]}" --benchmark-only; ran=1; fi; \
	[ $$ran = 1 ] || echo "no benchmarks in bench/"

bench-compare: venv ## the service beside the bare stack (../shared/perf's floor) on PostgreSQL; appends to bench/RESULTS.md
	RESULTS=bench/RESULTS.md bench/compare/run_compare.sh
