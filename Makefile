# Two commands matter: `make demo` and `make test`. Each sets up .venv itself (uv, from the
# lock file) and is safe to run again.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
PYTHON ?= python3

export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: venv demo airflow airflow-stop airflow-status test bench mutation lint typecheck clean

venv: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(UV) || { echo ">> creating $(VENV) with uv $(UV_VERSION)"; \
		$(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q uv==$(UV_VERSION); }
	@echo ">> installing the locked dependencies into $(VENV)"
	$(UV) sync --frozen --all-extras --compile-bytecode --quiet
	@touch $@

# The main job: a real Airflow DAG run (dags_examples/train_model.py), captured, then shown.
demo: venv
	scripts/demo.sh

# Real Airflow (standalone on 127.0.0.1:8080) with the example DAGs, writing to the demo's store.
# Ctrl-C stops it, and every process it started; `make airflow-stop` does the same from elsewhere.
# The controller is the package scripts/airflow_local (installed into .venv by `make venv`);
# `$(PY) -m airflow_local trigger DAG_ID --wait` triggers a DAG through the REST API.
airflow: venv
	$(PY) -m airflow_local start --foreground --quiet $(if $(PORT),--port $(PORT))

airflow-stop: venv
	$(PY) -m airflow_local stop

airflow-status: venv
	$(PY) -m airflow_local status

test: venv
	scripts/run_tests.sh

bench: venv
	$(PY) benchmarks/store_bench.py
	$(PY) benchmarks/capture_bench.py --json benchmarks/results/capture_bench.json
	$(PY) benchmarks/prefect_capture_bench.py --json benchmarks/results/prefect_capture_bench.json
	$(PY) benchmarks/run_end_bench.py --json benchmarks/results/run_end_bench.json
	$(PY) benchmarks/eval_bench.py --json benchmarks/results/eval_bench.json
	$(PY) benchmarks/monitor_bench.py --json benchmarks/results/monitor_bench.json
	$(PY) benchmarks/lifecycle_bench.py --json benchmarks/results/lifecycle_bench.json

# Mutation score of the core modules (scripts/mutation.py): would the tests notice a small wrong
# change? SQLite always; PostgreSQL too when AIMOPS_TEST_POSTGRES_URL names a reachable server.
# Surviving mutants are listed; equivalent ones are judged in scripts/mutation_equivalent.txt.
mutation: venv
	nice -n 10 $(PY) scripts/mutation.py --output benchmarks/results/mutation.txt

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	scripts/typecheck.sh

clean:
	rm -rf $(VENV) .aimops-demo .airflow
