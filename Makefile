# Entry points for people and CI. Everything runs inside .venv, created on first use.
VENV ?= .venv
BIN := $(VENV)/bin
# The venv's tools (snakemake, accelerate) must be found by the jobs Snakemake starts.
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= 2
CONFIG ?= config/config.yaml
# Snakemake reads --configfile itself and, for invalid YAML, names neither file nor line: this
# strict read does (and refuses a key given twice or an empty file) before Snakemake starts.
CHECK_CONFIG = $(BIN)/python -m xltransfer.config_files $(CONFIG)

.PHONY: setup demo test lint dag stage stage-update plan status profile clean-demo

setup: $(VENV)/.installed

# torch first: pip then takes the CPU build on disk instead of resolving a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[workflow,dev]"
	touch $@

demo: setup
	@$(CHECK_CONFIG)
	snakemake --cores $(CORES) --configfile $(CONFIG)
	@echo "Results: results/$$(sed -n 's/^run: *//p' $(CONFIG))/ (scores, gains, correlations, plots/)"
	@cat results/$$(sed -n 's/^run: *//p' $(CONFIG))/headline.txt

# The slowest tests are listed, so CI's time (kept under 25 minutes) stays in view.
test: setup
	$(BIN)/pytest -q --durations=15

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
# step that reaches the Hub (HF_TOKEN from the environment for gated repositories).
stage: setup
	@$(CHECK_CONFIG)
	snakemake stage --cores 1 --configfile $(CONFIG)

# Move one repository (REPO=owner/name, or REPO=all) to the current commit of its revision: the
# explicit act a moved branch needs; finished results keep the commit their rows record.
stage-update: setup
	@$(CHECK_CONFIG)
	rm -f results/$$(sed -n 's/^run: *//p' $(CONFIG))/staged/*/$(if $(filter all,$(REPO)),*/*,$(REPO)).json
	XLTRANSFER_STAGE_UPDATE=$(REPO) snakemake stage --cores 1 --configfile $(CONFIG)

# Cost plan before submitting (jobs, tokens, device-hours, disk) in results/<run>/plan.md; runs
# nothing and needs no GPU. The profile's `jobs` sets how much is in flight at once.
plan: setup
	@$(CHECK_CONFIG)
	$(BIN)/python -m xltransfer.cli.plan --config $(CONFIG)

# The grid's live state (done, running, failed, pending per cell) from results/, logs/ and squeue;
# JSON=1 prints it as JSON.
status: setup
	$(BIN)/python -m xltransfer.cli.status --config $(CONFIG) $(if $(JSON),--json)

# One-time link that makes the short form `snakemake --profile slurm` work from this checkout.
profile:
	mkdir -p $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake
	ln -sfn $(abspath profiles/slurm) $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake/slurm
	@echo "snakemake --profile slurm now reads $(abspath profiles/slurm)"
