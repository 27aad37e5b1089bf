from pathlib import Path

from xltransfer.jobs import pretrain
from xltransfer.logs import log_to

log_to(snakemake.log[0])
pretrain(
    Path(snakemake.params.corpus),
    Path(snakemake.input.tokenizer),
    snakemake.params.build,
    Path(snakemake.output[0]),
    snakemake.threads,
)
