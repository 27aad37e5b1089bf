from pathlib import Path

from xltransfer.jobs import write_summary_page
from xltransfer.logs import log_to

log_to(snakemake.log[0])
write_summary_page(
    snakemake.config,
    Path(snakemake.input.answer),
    Path(snakemake.input.correlations),
    Path(snakemake.input.mixed_effects),
    Path(snakemake.input.selection),
    Path(snakemake.input.gains),
    Path(snakemake.output[0]),
)
