# Two commands on a fresh machine:
#   make demo   set up, create a job from a built-in template, compile it and run it
#   make test   set up and pass the tests
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo_work

.PHONY: setup test test-fast demo lint format bench clean

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

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python benchmarks/compile_bench.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) build dist *.egg-info
