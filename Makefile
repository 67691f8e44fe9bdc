# The two set-up commands of the README:
#   make tour   — installs into .venv and runs the guided tour (figures in tour-output/)
#   make test   — installs into .venv and runs the test suite, notebooks and the website included
# and, after either:
#   make docs   — builds the documentation website into build/site (open build/site/index.html)
# Every install goes through .ci/constraints.txt, which pins the local CPU build of PyTorch.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c .ci/constraints.txt

.PHONY: tour test docs bench gpu-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml .ci/constraints.txt
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -e ".[dev]"
	touch $@

tour: $(VENV)/.installed
	$(BIN)/python -m tour --out tour-output

# One worker per core (at most 4), one thread each (the models are tiny; threads would fight for cores);
# the website checks share one worker, which builds the site once when RLCORE_SITE_DIR is unset.
test: $(VENV)/.installed-docs
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist loadgroup --nbmake --nbmake-timeout=600 tests notebooks

# The website: docs/ and notebooks/ (executed at build time) with Sphinx + MyST-NB; see docs/conf.py.
$(VENV)/.installed-docs: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[docs]"
	touch $@

docs: $(VENV)/.installed-docs
	$(BIN)/python -m sphinx -b html -q -j auto -c docs . build/site
	@echo "The website is in build/site: open build/site/index.html"

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[bench]"
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/bench_dp.py
	$(BIN)/python bench/bench_agents.py
	$(BIN)/python bench/bench_lmenv.py
	$(BIN)/python bench/bench_learners.py
	$(BIN)/python bench/bench_bandits.py
	$(BIN)/python bench/bench_td_extras.py
	$(BIN)/python bench/bench_approximation.py
	$(BIN)/python bench/bench_rlhf.py
	$(BIN)/python bench/bench_tree.py

# On a machine with a GPU: the device-path tests, a short pre-training run and the speed ratios on
# that device (bench/gpu_check.py; `--dry-run` runs the same on the CPU in under a minute).
gpu-check: $(VENV)/.installed
	$(BIN)/python bench/gpu_check.py

clean:
	rm -rf $(VENV) tour-output
