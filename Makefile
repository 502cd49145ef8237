# The README's two commands: `make plan` (dev stack, offline) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: plan test lint typecheck bench venv clean

$(BIN)/aiinfra: pyproject.toml requirements-tools.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet --upgrade pip
	.venv-tools/bin/pip install --quiet -r requirements-tools.txt
	ln -sf ../../.venv-tools/bin/checkov $(BIN)/checkov
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
	rm -rf $(VENV) .venv-tools .pytest_cache .mypy_cache .ruff_cache
