# Two commands on a fresh Linux machine with Python 3.11:
#   make demo   build the demo dataset, prepare it, train on it, print the test AUC
#   make test   run the whole test suite (what CI runs)
# make docs builds the documentation site (mkdocs, --strict) into site/.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DFD := $(VENV)/bin/dfd
export NO_ALBUMENTATIONS_UPDATE := 1
export WANDB_MODE ?= offline
export HF_HUB_OFFLINE ?= 1

.PHONY: demo demo-data docs lint test test-fast clean-demo

$(VENV)/installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo-data: $(VENV)/installed
	$(DFD) demo --out data/demo/raw
	$(DFD) prepare data=demo

demo: demo-data
	$(DFD) train evaluation=multiview evaluation.robustness.enabled=true

docs: $(VENV)/installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

lint: $(VENV)/installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(VENV)/installed
	$(PY) -m pytest -m "slow or not slow" --durations=25

test-fast: $(VENV)/installed
	$(PY) -m pytest

clean-demo:
	rm -rf data/demo
