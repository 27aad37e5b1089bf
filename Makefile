# Entry points for people and CI. Everything runs inside .venv, created on first use.
VENV ?= .venv
BIN := $(VENV)/bin
# The venv's tools (snakemake, accelerate) must be found by the jobs Snakemake starts.
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= 2
CONFIG ?= config/config.yaml
RUN = $(shell sed -n 's/^run: *//p' $(CONFIG))
# Snakemake reads --configfile itself and, for invalid YAML, names neither file nor line: this
# strict read does (and refuses a key given twice or an empty file) before Snakemake starts.
CHECK_CONFIG = $(BIN)/python -m xltransfer.config_files $(CONFIG)

.PHONY: setup lock demo test lint dag stage stage-update plan status verify profile clean-demo

setup: $(VENV)/.installed

# torch first: pip then takes the CPU build on disk instead of resolving a multi-GB CUDA build.
# Then the exact versions of requirements-lock.txt, and this package without resolving again.
$(VENV)/.installed: pyproject.toml requirements-lock.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements-lock.txt
	$(BIN)/pip install -q --no-deps -e ".[workflow,dev]"
	$(BIN)/pip check
	touch $@

# Rewrite the lock from what is installed (after changing a range in pyproject.toml and
# installing it): the CPU build's local version label is dropped, so GPU nodes match it too.
lock: setup
	{ sed -n '1,3p' requirements-lock.txt; $(BIN)/pip freeze --exclude-editable \
	  | sed 's/+cpu$$//' | grep -v '^xltransfer'; } > requirements-lock.txt.new
	mv requirements-lock.txt.new requirements-lock.txt

demo: setup
	@$(CHECK_CONFIG)
	snakemake --cores $(CORES) --configfile $(CONFIG)
	@echo "Results: results/$$(sed -n 's/^run: *//p' $(CONFIG))/ (scores, gains, correlations, plots/)"
	@cat results/$$(sed -n 's/^run: *//p' $(CONFIG))/headline.txt

# The slowest tests are listed, so CI's time (kept under 45 minutes) stays in view. Two
# workers, each taking whole modules, slowest first (tests/conftest.py): the SLURM tests
# wait on the scheduler while the other modules use the CPUs.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

lint: setup
	snakefmt --check Snakefile workflow/rules/
	ruff check src tests workflow/scripts benchmarks
	ruff format --check src tests workflow/scripts benchmarks
	snakemake --lint --configfile $(CONFIG)

# Rule graph and job DAG of any config as SVG (needs graphviz's `dot`), job counts per rule.
dag: setup
	@$(CHECK_CONFIG)
	scripts/render-dag.sh $(CONFIG) results/dag

# Stage every Hub model and dataset the grid reads, at a commit, on this (login) node: the only
# step that reaches the Hub (HF_TOKEN from the environment for gated repositories). Every staged
# file is checked against its lock (size and checksum) and fetched again where it differs.
stage: setup
	@$(CHECK_CONFIG)
	snakemake stage --cores 1 --configfile $(CONFIG) --forcerun stage_model stage_dataset

# Move one repository (REPO=owner/name, or REPO=all) to the current commit of its revision: the
# explicit act a moved branch needs. The next run redoes the jobs that read it, and no other;
# finished results keep the commit their rows record.
stage-update: setup
	@$(CHECK_CONFIG)
	@test -n "$(REPO)" || { echo "make stage-update: name REPO=owner/name (or REPO=all)"; exit 2; }
	XLTRANSFER_STAGE_UPDATE="$(REPO)" snakemake stage --cores 1 --configfile $(CONFIG) \
	  --forcerun $(if $(filter all,$(REPO)),pin_model pin_dataset,\
	  $(wildcard $(addprefix results/$(RUN)/staged/,models/$(REPO).commit datasets/$(REPO).commit)))

# Cost plan before submitting (jobs, tokens, device-hours, disk) in results/<run>/plan.md; runs
# nothing and needs no GPU. The profile's `jobs` sets how much is in flight at once.
plan: setup
	@$(CHECK_CONFIG)
	$(BIN)/python -m xltransfer.cli.plan --config $(CONFIG)

# The grid's live state (done, running, failed, pending per cell) from results/, logs/ and squeue;
# JSON=1 prints it as JSON.
status: setup
	$(BIN)/python -m xltransfer.cli.status --config $(CONFIG) $(if $(JSON),--json)

# Every Parquet output of the run against the checksum recorded when it was written; damaged
# ones (whatever their timestamps) are moved aside, so the next run rebuilds them.
verify: setup
	$(BIN)/python -m xltransfer.cli.verify --config $(CONFIG)

# One-time link that makes the short form `snakemake --profile slurm` work from this checkout.
profile:
	mkdir -p $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake
	ln -sfn $(abspath profiles/slurm) $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake/slurm
	@echo "snakemake --profile slurm now reads $(abspath profiles/slurm)"
