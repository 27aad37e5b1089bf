# Entry points for people and CI. Everything runs inside .venv, created on first use.
VENV ?= .venv
BIN := $(VENV)/bin
# The venv's tools (snakemake, accelerate) must be found by the jobs Snakemake starts.
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= 2
CONFIG ?= config/config.yaml

.PHONY: setup demo test lint dag profile clean-demo

setup: $(VENV)/.installed

# torch first: pip then takes the CPU build on disk instead of resolving a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[workflow,dev]"
	touch $@

demo: setup
	snakemake --cores $(CORES) --configfile $(CONFIG)
	@echo "Results: results/$$(sed -n 's/^run: *//p' $(CONFIG))/ (scores, gains, correlations, plots/)"
	@cat results/$$(sed -n 's/^run: *//p' $(CONFIG))/headline.txt

test: setup
	$(BIN)/pytest -q

lint: setup
	snakefmt --check Snakefile workflow/rules/
	ruff check src tests workflow/scripts benchmarks
	ruff format --check src tests workflow/scripts benchmarks
	snakemake --lint --configfile $(CONFIG)

# Rule graph and job DAG of any config as SVG (needs graphviz's `dot`), job counts per rule.
dag: setup
	scripts/render-dag.sh $(CONFIG) results/dag

# One-time link that makes the short form `snakemake --profile slurm` work from this checkout.
profile:
	mkdir -p $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake
	ln -sfn $(abspath profiles/slurm) $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake/slurm
	@echo "snakemake --profile slurm now reads $(abspath profiles/slurm)"
