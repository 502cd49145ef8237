# The README's two commands: `make plan` (dev stack, offline) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: plan test lint typecheck bench venv clean

$(BIN)/aiinfra: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/aiinfra

plan: $(BIN)/aiinfra
	$(BIN)/aiinfra plan --stack $(STACK)

test: $(BIN)/aiinfra
	$(BIN)/python -m pytest -q

lint: $(BIN)/aiinfra
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(BIN)/aiinfra
	$(BIN)/python bench/plan_scale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
