from pathlib import Path

from xltransfer.jobs import task_embedding
from xltransfer.logs import log_to
from xltransfer.training.devices import require_gpus

log_to(snakemake.log[0])
require_gpus(snakemake.rule, snakemake.resources.gpu)  # fail before loading anything
params = snakemake.params
task_embedding(
    snakemake.wildcards.method,
    snakemake.wildcards.model,
    params.embedder,
    snakemake.wildcards.task,
    Path(snakemake.input.train),
    params.head,
    {**params.settings, "threads": snakemake.threads},
    Path(snakemake.output[0]),
)
