from pathlib import Path

from xltransfer.jobs import rank_sources
from xltransfer.logs import log_to

log_to(snakemake.log[0])
rank_sources(
    Path(snakemake.input.gains),
    Path(snakemake.input.similarity),
    dict(zip(snakemake.params.sources, map(Path, snakemake.input.train), strict=True)),
    snakemake.params.max_train_examples,
    snakemake.params.settings,
    Path(snakemake.output[0]),
)
