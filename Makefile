# support-agent: `make run` serves the app (dev mode, embedded SQLite); `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 3000

.PHONY: run test lint format docs bench demo eval container-smoke clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

run: $(BIN)/.installed
	PORT=$(PORT) VENV=$(VENV) scripts/run-dev

# One pytest-xdist worker per core, each a session of its own (own databases, ports, servers).
TEST_WORKERS ?= auto

test: $(BIN)/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

PY_SOURCES := app.py support slack tests examples evals benchmarks

lint: $(BIN)/.installed
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff format $(PY_SOURCES)
	$(BIN)/ruff check --fix $(PY_SOURCES)

docs: $(BIN)/.installed
	$(BIN)/python scripts/readme_config_table.py

bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.metrics_overhead $(METRICS_BENCH_ARGS)

demo: $(BIN)/.installed
	$(BIN)/python -m scripts.demo

eval: $(BIN)/.installed
	$(BIN)/python -m evals.run

container-smoke:
	scripts/container-smoke

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
