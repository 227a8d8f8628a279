# sqlarrow developer commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help test build release lint fmt services demo wheel clean-py

help:
	@echo "make test     - start/configure local databases, build, cargo test, pytest"
	@echo "make build    - build the extension into $(VENV) (maturin develop, dev profile)"
	@echo "make release  - build the extension into $(VENV) with the release profile"
	@echo "make lint     - ruff, mypy --strict, cargo fmt --check, cargo clippy"
	@echo "make fmt      - ruff format + cargo fmt"
	@echo "make services - only ensure the local databases are up"
	@echo "make wheel    - build a release wheel into dist/"

test:
	bash scripts/test.sh $(PYTEST_ARGS)

$(PY): pyproject.toml
	bash scripts/setup_venv.sh $(VENV)

build: $(PY)
	$(VENV)/bin/maturin develop

release: $(PY)
	$(VENV)/bin/maturin develop --release

wheel: $(PY)
	$(VENV)/bin/maturin build --release --out dist

lint: $(PY)
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(VENV)/bin/mypy
	SQLARROW_NO_DEBUG_WARNING=1 $(VENV)/bin/python -m mypy.stubtest sqlarrow._core --allowlist stubtest-allowlist.txt
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings

fmt: $(PY)
	$(VENV)/bin/ruff format python tests
	$(VENV)/bin/ruff check --fix python tests
	cargo fmt --all

services:
	bash scripts/ensure_services.sh

demo: build
	$(VENV)/bin/sqlarrow demo

clean-py:
	rm -rf .pytest_cache .mypy_cache .ruff_cache dist
	find python tests -name __pycache__ -type d -prune -exec rm -rf {} +

include benches/Makefile.fragment
