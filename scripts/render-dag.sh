#!/usr/bin/env bash
# The rule graph and the job DAG of a config as SVG (graphviz's dot), and the dry run's job
# counts per rule as text.
#   scripts/render-dag.sh [CONFIG] [OUTDIR]      (defaults: config/config.yaml results/dag)
# The job DAG has one node per job: for grids of thousands of jobs set JOB_DAG=0 and keep the
# rule graph and the counts.
set -euo pipefail
config=${1:-config/config.yaml}
out=${2:-results/dag}
snakemake=${SNAKEMAKE:-snakemake}
if ! command -v dot >/dev/null; then
    echo "render-dag: graphviz's 'dot' is missing (Debian: apt-get install graphviz)" >&2
    exit 1
fi
mkdir -p "$out"

render() {  # render <snakemake flag> <name>: written under a temporary name, then renamed
    $snakemake --configfile "$config" "$1" | dot -Tsvg -o "$out/.$2.svg.tmp"
    mv "$out/.$2.svg.tmp" "$out/$2.svg"
    echo "$out/$2.svg"
}

render --rulegraph rulegraph
if [ "${JOB_DAG:-1}" != 0 ]; then
    render --dag dag
fi
$snakemake --configfile "$config" -n --quiet rules > "$out/.job-counts.txt.tmp" 2>&1
sed -n '/^Job stats:/,/^total/p' "$out/.job-counts.txt.tmp" > "$out/job-counts.txt"
rm "$out/.job-counts.txt.tmp"
cat "$out/job-counts.txt"
