from pathlib import Path

from xltransfer.jobs import make_plots
from xltransfer.logs import log_to

log_to(snakemake.log[0])
make_plots(
    Path(snakemake.input.summary),
    Path(snakemake.input.correlations),
    Path(snakemake.input.similarity),
    dict(snakemake.output.items()),
)
