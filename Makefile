# One name per README command. Every target sets up what it needs first (idempotent).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python

NODE_DIR = $(shell $(PY) -c 'import os; from toolchain.node import node_binary; print(os.path.dirname(node_binary()))' 2>/dev/null)

.PHONY: help setup lambda-packages synth cdktf-synth scan test ci lint lock bench bench-synth bench-auth bench-app bench-cleanup run-local

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## Python venv from the hashed lock (Node 22 comes with it as a wheel)
	@bash scripts/bootstrap.sh

lambda-packages: setup ## Build the Lambda deployment packages (deterministic zips) into build/lambda/
	@$(PY) -m toolchain.lambda_package

synth: lambda-packages ## Synthesize every stack into cdktf.out/
	@$(PY) main.py

cdktf-synth: setup ## The same synth through the cdktf CLI (cdktf.json); byte-identical output
	@bash scripts/test-deps.sh
	@PATH="$(NODE_DIR):$$PATH" CHECKPOINT_DISABLE=1 NODE_OPTIONS=--disable-warning=DEP0044 tools/cdktf-cli/node_modules/.bin/cdktf synth

scan: synth ## checkov policy scan of every synthesized stack (accepted findings: devtools/checkov_scan.py)
	@bash scripts/test-deps.sh
	@$(PY) -m devtools.checkov_scan cdktf.out

verify: synth ## Terraform init/validate/plan/apply/re-plan/destroy of every stack against an emulated AWS
	@$(PY) -m devtools.terraform_verify cdktf.out

test: setup ## Install test servers if missing, then run the whole test suite
	@bash scripts/test-deps.sh
	@$(PY) -m pytest

ci: test lint ## What CI runs (.ci/run and .github/workflows/ci.yml): the tests, then lint

lint: setup ## ruff lint and format check
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

lock: setup ## Re-pin every hashed lock (root, checkov, images, Lambda) with scripts/lock.sh
	@bash scripts/lock.sh

bench: bench-synth bench-auth bench-app bench-cleanup ## All benchmarks

bench-synth: setup ## Full synth wall time and peak memory next to the binding-import floor
	@$(PY) bench/synth_bench.py

bench-auth: setup ## Auth service req/s and latency on a real uvicorn + PostgreSQL
	@bash scripts/test-deps.sh
	@$(PY) bench/auth_bench.py

bench-app: setup ## Main app req/s and latency on a real uvicorn + Cassandra
	@bash scripts/test-deps.sh
	@$(PY) bench/app_bench.py

run-local: setup ## PostgreSQL, Cassandra, auth (127.0.0.1:8001) and app (127.0.0.1:8000) together; Ctrl-C stops
	@bash scripts/test-deps.sh
	@$(PY) -m devtools.local_stack

bench-cleanup: setup ## Cleanup job rows/s and peak memory against Cassandra + moto
	@bash scripts/test-deps.sh
	@$(PY) bench/cleanup_bench.py
