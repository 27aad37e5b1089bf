from pathlib import Path

from xltransfer.analysis.published import table_has_language_axis
from xltransfer.io import read_parquets_checked
from xltransfer.logs import log_to
from xltransfer.report import plots

log_to(snakemake.log[0])
zero_shot = table_has_language_axis(snakemake.config)  # else: "transfer gain", no languages
summary, similarity, correlations = read_parquets_checked(
    [snakemake.input.summary, snakemake.input.similarity, snakemake.input.correlations]
)
plots.plot_gain_heatmap(summary, Path(snakemake.output.heatmap), zero_shot=zero_shot)
plots.plot_similarity_vs_gain(
    summary,
    similarity,
    correlations,
    Path(snakemake.output.scatter),
    zero_shot=zero_shot,
)
