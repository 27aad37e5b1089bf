from pathlib import Path

import pandas as pd

from xltransfer import plots
from xltransfer.logs import log_to
from xltransfer.published import table_has_language_axis

log_to(snakemake.log[0])
zero_shot = table_has_language_axis(snakemake.config)  # else: "transfer gain", no languages
summary = pd.read_parquet(snakemake.input.summary)
plots.plot_gain_heatmap(summary, Path(snakemake.output.heatmap), zero_shot=zero_shot)
plots.plot_similarity_vs_gain(
    summary,
    pd.read_parquet(snakemake.input.similarity),
    pd.read_parquet(snakemake.input.correlations),
    Path(snakemake.output.scatter),
    zero_shot=zero_shot,
)
