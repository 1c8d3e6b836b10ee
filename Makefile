# lianban — two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
UV_VERSION := 0.13.8
PYTHON ?= python3.11
# The project's own interpreter: Debian's CPython 3.11 where the machine has it (linked statically and built
# with profile-guided and link-time optimisation), else $(PYTHON). pyenv's default build links libpython as a
# shared library without either: a pure-Python loop ran 22 % slower on it, and staging 100,000 records 13 %
# (2026-12-04, in turn). Changing it remakes the venv (below).
VENV_PYTHON ?= $(or $(wildcard /usr/bin/python3.11),$(PYTHON))
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: install demo test lint typecheck unit bench clean up down

UV := .tools/bin/uv

# uv itself lives in a private tools venv (works on any Python with venv, PEP 668 or not).
$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# The lock (uv.lock) pins every dependency; `uv sync --frozen` installs exactly it, compiled to bytecode: where
# PYTHONDONTWRITEBYTECODE is set no .pyc is ever written, and every process (each `lianban run` step, each
# Airflow task) would compile its imports again (measured: 2.1 s of a 10k-record staging run).
# The stamp names the interpreter, so that another one remakes the venv on it (uv keeps a venv whose Python is
# the same version).
SYNCED := $(VENV)/.synced-$(subst /,_,$(VENV_PYTHON))
$(SYNCED): pyproject.toml uv.lock | $(UV)
	@want="$$($(VENV_PYTHON) -c 'import sys; print(sys.executable)')"; \
	have="$$($(BIN)/python -c 'import sys; print(sys._base_executable)' 2>/dev/null)"; \
	if [ -d $(VENV) ] && [ "$$want" != "$$have" ]; then echo "remaking $(VENV) on $$want (was: $${have:-none})"; rm -rf $(VENV); fi
	$(UV) sync --frozen --python $(VENV_PYTHON) --compile-bytecode
	@rm -f $(VENV)/.synced*; touch $@

# Our own sources too (cheap when nothing changed: only stale files are compiled again).
install: $(SYNCED)
	@$(BIN)/python -m compileall -q -j0 lianban connectors simulators dags plugins bench >/dev/null

demo: install
	$(BIN)/lianban demo --records 200

# The real Airflow on this machine (UI, scheduler, executor), the simulators and the hub API: lianban up / down.
up: install
	$(BIN)/lianban up

down: install
	$(BIN)/lianban down

# Import rules (layers, departments, only dags/ imports Airflow) are in .importlinter.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

typecheck: install
	$(BIN)/mypy lianban connectors simulators dags

unit: install
	$(BIN)/pytest -q -m "not airflow"

# The suites that run Airflow itself go one at a time (each starts Airflow processes of its own); the rest in
# parallel on up to TEST_WORKERS cores.
TEST_WORKERS ?= 4
test: install lint typecheck
	scripts/ensure-chromium.sh
	export LIANBAN_TEST_PG_URL="$${LIANBAN_TEST_PG_URL:-$$(scripts/ensure-postgres.sh)}"; \
	export LIANBAN_TEST_REDIS_URL="$${LIANBAN_TEST_REDIS_URL:-$$(scripts/ensure-redis.sh)}"; \
	$(BIN)/pytest -q -n auto --maxprocesses $(TEST_WORKERS) -m "not airflow" && \
	$(BIN)/pytest -q -m airflow

# make bench [BENCH_N=1000000]: sealing costs, validation (100k rows), staging alone, the exchange DAG through
# Airflow at 100 and 100k records (the same task instances), its first run under the real scheduler with every DAG
# live (100k records), then the pipeline end to end (also at 10k first, for its CPU per record beside N's) against
# a naive baseline (last line).
BENCH_N ?= 100000
bench: install
	$(BIN)/python -m bench.seal
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.stage --records 10000
	$(BIN)/python -m bench.dag_run --records 100 100000
	$(BIN)/python -m bench.scheduled --records 100000
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
