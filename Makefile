# Two commands on a fresh machine:
#   make demo   set up, create a job from a built-in template, compile it and run it
#   make test   set up and pass the tests
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo_work

.PHONY: setup test test-fast demo lint typecheck coverage format bench clean

$(STAMP): pyproject.toml setup.py constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt --upgrade setuptools
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,torch]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

demo: setup
	bash scripts/demo.sh "$(BIN)" "$(DEMO_DIR)"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

# mypy: --strict on the compiler and the package root, default settings on the runtime and
# the CLI (see scripts/typecheck.sh and [tool.mypy] in pyproject.toml). Not part of
# `make test` itself; tests/test_tooling.py (marked slow) runs the script there.
typecheck: setup
	MYPY=$(BIN)/mypy bash scripts/typecheck.sh

# The whole suite under coverage, Python subprocesses included, then the report
# (config: [tool.coverage.*] in pyproject.toml).
coverage: setup
	bash scripts/coverage.sh "$(BIN)"

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python benchmarks/compile_bench.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) build dist *.egg-info .mypy_cache .coverage .coverage.* htmlcov
