# The two commands a fresh machine needs: `make demo` (the local pipeline) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit integration template lint bench replay clean checkov
CHECKOV_VENV := .venv-checkov
CHECKOV      := $(CHECKOV_VENV)/bin/checkov

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## run the whole pipeline locally (moto + partner sandboxes + real handlers)
	$(BIN)/python -m sandbox.pipeline

# checkov in its own venv (its boto3 pin conflicts with ours); the version is the one pinned in pyproject.toml
$(CHECKOV): pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet "$$($(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checkov"][0])')"
	@touch $(CHECKOV)

checkov: $(CHECKOV)  ## checkov on template.yaml with .checkov.yaml (each skipped check says why)
	$(CHECKOV) -f template.yaml --config-file .checkov.yaml

test: $(STAMP) $(CHECKOV)  ## unit, integration and template tests
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

template: $(STAMP) $(CHECKOV)
	$(BIN)/python -m pytest -q tests/template

bench: $(STAMP)  ## throttle benchmark: three functions share one 99minds limit (make bench BENCH_ARGS="--limit 150 --seconds 60")
	$(BIN)/python bench/throttle_benchmark.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check shared functions sandbox tests bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .local .pytest_cache
