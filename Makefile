# lianban — two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
UV_VERSION := 0.13.8
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: install demo test lint typecheck unit bench clean

UV := .tools/bin/uv

# uv itself lives in a private tools venv (works on any Python with venv, PEP 668 or not).
$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# The lock (uv.lock) pins every dependency; `uv sync --frozen` installs exactly it.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced

demo: install
	$(BIN)/lianban demo --records 200

# Import rules (layers, departments, only dags/ imports Airflow) are in .importlinter.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

typecheck: install
	$(BIN)/mypy lianban connectors simulators dags

unit: install
	$(BIN)/pytest -q -m "not airflow"

test: install lint typecheck
	scripts/ensure-chromium.sh
	LIANBAN_TEST_PG_URL="$${LIANBAN_TEST_PG_URL:-$$(scripts/ensure-postgres.sh)}" $(BIN)/pytest -q

# make bench [BENCH_N=1000000]: sealing costs, validation (100k rows), then the pipeline end to end against a naive baseline (last line).
BENCH_N ?= 100000
bench: install
	$(BIN)/python -m bench.seal
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.pipeline --records $(BENCH_N)

# make drills [DRILLS_N=10000]: fault drills against the simulators, one line each
# (sent/received/duplicates/lost/fates, counted at the departments and 皖事通办); exits 1 on any loss or duplicate.
DRILLS_N ?= 10000
.PHONY: drills bench-sweep
drills: install
	$(BIN)/python -m bench.drills --records $(DRILLS_N)

# make bench-sweep [SWEEP_N=100000]: the status sweep (poll, collect HRSS's log, report to 皖事通办), timed.
SWEEP_N ?= 100000
bench-sweep: install
	$(BIN)/python -m bench.sweep --items $(SWEEP_N)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .tools
