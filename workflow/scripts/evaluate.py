from pathlib import Path

from xltransfer.jobs import evaluate, shard_context
from xltransfer.logs import log_to
from xltransfer.training.devices import require_gpus

log_to(snakemake.log[0])
require_gpus(snakemake.rule, snakemake.resources.gpu)  # fail before loading anything
evaluate(
    Path(snakemake.input.model),
    [Path(p) for p in snakemake.params.tests],
    snakemake.params.languages,
    shard_context(snakemake.wildcards),
    Path(snakemake.output[0]),
    snakemake.threads,
    alignment=snakemake.params.alignment,
    english_test=snakemake.input.get("english_test"),
    task=snakemake.params.task,
)
