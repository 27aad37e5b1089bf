from pathlib import Path

from xltransfer.analysis.selection import rank_sources
from xltransfer.logs import log_to

log_to(snakemake.log[0])
train = list(map(Path, snakemake.input.train))  # none for published results
rank_sources(
    Path(snakemake.input.gains),
    Path(snakemake.input.similarity),
    dict(zip(snakemake.params.sources, train, strict=True)) if train else {},
    snakemake.params.max_train_examples,
    snakemake.params.sizes,
    snakemake.params.facets,
    snakemake.params.settings,
    Path(snakemake.output[0]),
)
