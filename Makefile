# hpckernels: two commands do all the set-up on a fresh Debian machine:
#   make run    # the main job
#   make test   # the test suite (make test-fast: unit and MPI tests only)
# Both depend on `setup`, which is idempotent. `make docs` builds the documentation site
# into docs/_build/html.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
CORES ?= $(shell nproc)

# nrnivmodl and the hpckernels CLI live in the venv; OpenMPI refuses root without these
export PATH := $(BIN):$(PATH)
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export NEURON_MODULE_OPTIONS := -nogui

# Debian packages: OpenMPI for mpi4py/NEURON, SLURM + munge + MariaDB for the cluster test,
# headless Chromium for the test that opens the Snakemake report in a browser
DEB_PACKAGES := libopenmpi-dev openmpi-bin slurmctld slurmd slurm-client munge slurmdbd \
	mariadb-server chromium
DEB_CHECK := mpicc mpiexec slurmctld slurmd slurmdbd munged mariadbd chromium

.PHONY: setup system-packages mechanisms run paper test test-fast bench lint docs config-readme clean

setup: system-packages $(VENV)/.installed mechanisms

# Installs missing system packages when running as root (CI, containers); otherwise
# tells what is missing.
system-packages:
	@missing=""; for tool in $(DEB_CHECK); do \
	  command -v $$tool >/dev/null || [ -x /usr/sbin/$$tool ] || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      $(DEB_PACKAGES) >/dev/null; \
	  else \
	    echo "missing system tools:$$missing (install: $(DEB_PACKAGES))"; \
	    command -v mpicc >/dev/null || exit 1; \
	  fi; \
	fi

# the package with every extra, at the versions the tests ran with (constraints.txt);
# pyproject.toml itself declares compatible ranges
EXTRAS := workflow,test,docs,nwb,mne,notebook
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

mechanisms: $(VENV)/.installed
	$(BIN)/hpckernels mechanisms config/hay_l5pc.yaml

run: setup
	$(BIN)/snakemake -s workflow/Snakefile --profile cluster_profiles/local --cores $(CORES)
	@echo "signals:       $(CURDIR)/results/default/signals.h5"
	@echo "kernel tensors: $(CURDIR)/results/default/tensor/"
	@echo "figures:       $(CURDIR)/results/default/figures/"

# the paper's validation at reduced scale, both networks (docs/validation.md), and their
# tables in one file
paper: setup
	for config in paper paper_hay; do \
	  $(BIN)/snakemake -s workflow/Snakefile --profile cluster_profiles/local --cores $(CORES) \
	    paper --configfile config/$$config.yaml || exit 1; \
	  $(BIN)/snakemake -s workflow/Snakefile --profile cluster_profiles/local \
	    paper --report results/$$config/report.html --configfile config/$$config.yaml \
	    || exit 1; done
	cat results/paper/validation/summary.md results/paper_hay/validation/summary.md \
	  > results/paper.md
	@echo "figures: $(CURDIR)/results/paper/paper $(CURDIR)/results/paper_hay/paper"
	@echo "reports: $(CURDIR)/results/paper/report.html $(CURDIR)/results/paper_hay/report.html"
	@echo "tables:  $(CURDIR)/results/paper.md"
	@echo "figures: $(CURDIR)/results/paper/validation/figures/, $(CURDIR)/results/paper_hay/validation/figures/"

test: setup
	$(BIN)/python -m pytest -q --durations=25

# unit and MPI tests: the quick loop while developing (no Snakemake, SLURM or slow tests)
test-fast: setup
	$(BIN)/python -m pytest -q -m "(unit or mpi) and not slow"

bench: setup
	$(BIN)/python benchmarks/run_benchmarks.py

# the documentation site (Sphinx): API pages from the docstrings, the configuration
# reference from the schema; any warning fails the build
docs: $(VENV)/.installed
	rm -rf docs/_build
	$(BIN)/sphinx-build -W --keep-going -n -q -b html -d docs/_build/doctrees docs docs/_build/html
	@echo "documentation: $(CURDIR)/docs/_build/html/index.html"

# config/README.md, every config key, from the schema (tests/test_catalog.py checks it)
config-readme: $(VENV)/.installed
	$(BIN)/python docs/_ext/config_readme.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check workflow

clean:
	rm -rf results .snakemake .test/results .test/.snakemake .test/report.html
