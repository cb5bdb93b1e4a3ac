# permit-service: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the whole suite.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstalls only when pyproject.toml changes (or the venv is gone).
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
export PORT

.PHONY: help venv run test lint openapi migration bench fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the service with its dev tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing permit-service[dev] into $(VENV)"
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

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
