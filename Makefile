# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast lint typecheck pytest bench docs clean

# The venv installs with uv (MIT/Apache-2.0, from PyPI) where it can be had: it fetches and unpacks
# wheels in parallel, 13 s for the dev extra on a fresh machine against pip's 100 to 140 s. Where uv
# cannot be installed or fails, pip does the same install. Both compile the installed modules to bytecode:
# where PYTHONDONTWRITEBYTECODE is set (as on this project's machines) nothing else would, and every process
# the tests start (hundreds of `residency` commands and workers) would compile numpy, pydantic and the rest
# from source again, about 0.6 s each. `compile` does the same for the package's own sources before a run.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	-$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

install = { [ -x $(BIN)/uv ] && $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python $(1); } \
	|| { $(BIN)/python -m pip install --quiet --upgrade pip && $(BIN)/python -m pip install --quiet $(1); }

# `make run` installs the fast extra (Numba, which compiles the hot loops: a 1,000-world explore in about
# 7 minutes instead of 13) where it installs; where it does not (no wheel for the platform), the package
# alone, whose Python kernels give the same results to the bit.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(call install,-e '.[fast]') || { echo "make: the fast extra (Numba) did not install; installing without it (the same results, slower)" >&2; $(call install,-e .); }
	touch $@

compile = $(BIN)/python -m compileall -q sim > /dev/null

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(call install,-e '.[dev]')
	touch $@ $(VENV)/.installed-run

## run: compare every shipped arrangement (6 replications each, as the shipped configs set; common random numbers) and write the report page
run: $(VENV)/.installed-run
	$(compile)
	$(BIN)/residency compare --report

## test: linters, type check and the whole test suite, with coverage (CLI subprocesses included)
## that fails below the floor set in pyproject.toml ([tool.coverage.report] fail_under)
## (the type check, some 25 s of one core on a fresh clone, runs beside the tests instead of before them)
test: $(VENV)/.installed-dev lint
	$(MAKE) --no-print-directory -j2 typecheck pytest

## test-fast: linters, type check and the tests not marked slow: the everyday loop (no coverage)
test-fast: $(VENV)/.installed-dev lint typecheck
	$(compile)
	$(BIN)/pytest -q -m "not slow" -n auto

## lint: ruff, and the layers contract in pyproject.toml (lint-imports: no import runs back up, no circle)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check sim tests benchmarks docs
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy sim

pytest: $(VENV)/.installed-dev
	rm -f .coverage .coverage.*
	$(compile)
	$(BIN)/pytest -q -n auto --cov --cov-report=term

## bench: speed and memory benchmark of the core (prints ratios, not a test)
bench: $(VENV)/.installed-run
	$(BIN)/python benchmarks/core_speed.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .coverage .coverage.* *.egg-info site

## docs: build the documentation site into site/ (mkdocs, strict: a broken link or a missing page fails)
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
