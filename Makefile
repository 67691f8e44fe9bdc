# The two set-up commands of the README:
#   make tour   — installs into .venv and runs the guided tour (figures in tour-output/)
#   make test   — installs into .venv and runs the test suite, notebooks included
# Every install goes through .ci/constraints.txt, which pins the local CPU build of PyTorch.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c .ci/constraints.txt

.PHONY: tour test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml .ci/constraints.txt
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -e ".[dev]"
	touch $@

tour: $(VENV)/.installed
	$(BIN)/python -m tour --out tour-output

test: $(VENV)/.installed
	$(BIN)/python -m pytest --nbmake --nbmake-timeout=600 tests notebooks

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[bench]"
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/bench_dp.py
	$(BIN)/python bench/bench_agents.py
	$(BIN)/python bench/bench_lmenv.py
	$(BIN)/python bench/bench_learners.py

clean:
	rm -rf $(VENV) tour-output
