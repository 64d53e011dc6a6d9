# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

## run: compare every shipped arrangement (20 replications, common random numbers) and write the report page
run: $(VENV)/.installed-run
	$(BIN)/residency compare --report

## test: linters, type check and the test suite
test: $(VENV)/.installed-dev lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check sim tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy sim

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -q

## bench: speed and memory benchmark of the core (prints ratios, not a test)
bench: $(VENV)/.installed-run
	$(BIN)/python benchmarks/core_speed.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
