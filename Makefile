# ipaas-sync. A fresh machine needs two commands: `make demo` (the local pipeline) and `make test`.
# `make help` lists every target.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP  := $(VENV)/.installed-$(PYVER)
LAYER  := .aws-sam/build/SharedLayer

.DEFAULT_GOAL := help
.PHONY: help demo test unit integration template lint format build validate serve deploy bench bench-outage lock observability docs destinations clean checkov
CHECKOV_VENV := .venv-checkov
CHECKOV      := $(CHECKOV_VENV)/bin/checkov

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-z][a-zA-Z_-]*:.*##/ {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  (Python: make demo PYTHON=python3.12; 3.11 is tested, 3.12 and 3.13 are allowed, the Lambda runtime is python3.11)"

# The venv: rebuilt from scratch when it was made by another Python or a previous install did not finish;
# installed from the lock (requirements-dev.lock), then the project itself without resolving anything again.
$(STAMP): pyproject.toml requirements-dev.lock
	@test -n "$(PYVER)" || { echo "need $(PYTHON) on PATH (Python 3.11 to 3.13), e.g. make demo PYTHON=python3.12"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' || \
		{ echo "$(PYTHON) is Python $(PYVER); ipaas-sync needs 3.11 to 3.13 (make demo PYTHON=python3.12)"; exit 1; }
	@if [ -x $(BIN)/python ] && ls $(VENV)/.installed-* >/dev/null 2>&1 && \
		[ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$(PYVER)" ]; then :; \
	else echo "creating $(VENV) with $(PYTHON) (Python $(PYVER))"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: $(STAMP)  ## run the whole pipeline locally (moto + partner sandboxes + the real handlers)
	$(BIN)/python -m sandbox.pipeline

# checkov in its own venv (its boto3 pin conflicts with ours); the version is the one pinned in pyproject.toml
$(CHECKOV): pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet "$$($(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checkov"][0])')"
	@touch $(CHECKOV)

checkov: $(CHECKOV)  ## checkov on template.yaml with .checkov.yaml (each skipped check says why)
	$(CHECKOV) -f template.yaml --config-file .checkov.yaml

# three workers on two cores: the integration tests spend much of their time waiting (SQS delays, the partners' rate
# limits), so a third worker fills the cores (1734 tests: 705 s with two workers, 581 s with three, December 2026)
test: $(STAMP) $(CHECKOV)  ## unit, integration and template tests
	$(BIN)/python -m pytest -n 3 --dist worksteal -q

unit: $(STAMP)  ## unit tests only
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)  ## integration tests only (real handlers against moto and the partner sandboxes)
	$(BIN)/python -m pytest -q tests/integration

template: $(STAMP) $(CHECKOV)  ## template tests only (cfn-lint, SAM translation, IAM, generated blocks)
	$(BIN)/python -m pytest -q tests/template

lint: $(STAMP)  ## ruff check, ruff format --check, mypy (strict on shared/ipaas_sync)
	$(BIN)/ruff check shared functions sandbox tests bench scripts
	$(BIN)/ruff format --check shared functions sandbox tests bench scripts
	$(BIN)/mypy

format: $(STAMP)  ## ruff format the tree
	$(BIN)/ruff format shared functions sandbox tests bench scripts

CONFIG_ENV ?= default

# ARCHITECTURE=x86_64 (or arm64) builds for another architecture than the template's default, for scripts/invoke-local
# on this machine only: `make deploy` refuses it (a stack must run what it was built for: samconfig.toml says which)
build: $(STAMP)  ## sam build (functions + layer from shared/requirements.txt), then print the layer's size (CONFIG_ENV=dev: samconfig.toml's [dev])
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam build --config-env $(CONFIG_ENV) \
		$(if $(ARCHITECTURE),--parameter-overrides Architecture=$(ARCHITECTURE),)
	$(BIN)/python scripts/layer_size.py $(LAYER)

validate: $(STAMP)  ## cfn-lint and sam validate --lint on template.yaml
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $${AWS_REGION:-$${AWS_DEFAULT_REGION:-us-east-1}}

serve: $(STAMP)  ## keep the local stack running (moto + partner sandboxes) for scripts/invoke-local; Ctrl-C stops
	$(BIN)/python -m sandbox.serve

deploy: build  ## sam deploy with samconfig.toml (CONFIG_ENV=dev|prod: its environment; first time: make deploy GUIDED=1)
	$(if $(ARCHITECTURE),$(error ARCHITECTURE is for local builds; set Architecture in samconfig.toml or the template),)
	$(BIN)/sam deploy --config-env $(CONFIG_ENV) $(if $(GUIDED),--guided,)

bench: $(STAMP)  ## cold start ratio, mapping collections (load time, cost vs Python), then the throttle benchmark (make bench BENCH_ARGS="--limit 150 --seconds 60 --backlog 75")
	-$(BIN)/python -m bench.cold_start
	-$(BIN)/python -m bench.mapping_benchmark
	$(BIN)/python -m bench.throttle_benchmark $(BENCH_ARGS)

bench-outage: $(STAMP)  ## a time-compressed 99minds outage ridden out: DLQs, exactly once, calls while down, rate after recovery, cost of waiting
	$(BIN)/python -m bench.outage_benchmark $(BENCH_ARGS)

lock: $(STAMP)  ## re-resolve the locks with uv: shared/requirements.txt (the layer) and requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_17 \
		--generate-hashes --custom-compile-command "make lock" -q -o shared/requirements.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--custom-compile-command "make lock" -q -o requirements-dev.lock

observability: $(STAMP)  ## rewrite the dashboard, alarms and Logs Insights queries in template.yaml from its resources
	$(BIN)/python scripts/observability.py

docs: $(STAMP)  ## rewrite the stack parameter table in docs/deploy.md from template.yaml
	$(BIN)/python scripts/stack_parameters.py

destinations: $(STAMP)  ## rewrite template.yaml's per-destination parts (queues, secrets, events, policies, routes, outputs) from the registry
	$(BIN)/python scripts/destinations.py
	$(BIN)/python scripts/observability.py

clean:  ## remove the venv, the build and the local stack's files
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .local .pytest_cache
