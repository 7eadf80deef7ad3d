# The two commands a fresh machine needs: `make demo` (the local pipeline) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit integration template lint bench replay clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## run the whole pipeline locally (moto + partner sandboxes + real handlers)
	$(BIN)/python -m sandbox.pipeline

test: $(STAMP)  ## unit, integration and template tests
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

template: $(STAMP)
	$(BIN)/python -m pytest -q tests/template

bench: $(STAMP)  ## cold start ratio, then the throttle benchmark: three functions share one 99minds limit (make bench BENCH_ARGS="--limit 150 --seconds 60 --backlog 75")
	-$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/throttle_benchmark.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check shared functions sandbox tests bench

clean:
	rm -rf $(VENV) .aws-sam .local .pytest_cache
