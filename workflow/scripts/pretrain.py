from pathlib import Path

from xltransfer.jobs import pretrain
from xltransfer.logs import log_to
from xltransfer.training.devices import require_gpus

log_to(snakemake.log[0])
require_gpus(snakemake.rule, snakemake.resources.gpu)  # fail before loading anything
pretrain(
    Path(snakemake.params.corpus),
    Path(snakemake.input.tokenizer),
    snakemake.params.build,
    Path(snakemake.output[0]),
    snakemake.threads,
)
