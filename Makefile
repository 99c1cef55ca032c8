# Every target sets itself up on a fresh machine: `install` makes a virtual environment in the
# checkout (one per interpreter: PYTHON=python3.14t gets .venv-python3.14t) and installs the
# project editable with its dev and dask extras.

PYTHON ?= python3
VENV ?= $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint bench compare flamegraphs report clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,dask]'
	touch $@

test: install
	$(PY) -m pytest tests

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) -m pytest bench

clean:
	rm -rf .venv .venv-* .pytest_cache .hypothesis .ruff_cache *.egg-info
