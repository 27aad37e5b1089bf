from pathlib import Path

from xltransfer.data.staging import commit_of
from xltransfer.jobs import evaluate_retrieval, shard_context
from xltransfer.logs import log_to
from xltransfer.training.devices import require_gpus

log_to(snakemake.log[0])
require_gpus(snakemake.rule, snakemake.resources.gpu)  # fail before loading anything
source = snakemake.input.get("source")
staged = snakemake.input.get("staged")
evaluate_retrieval(
    snakemake.params.encoder,
    commit_of(staged) if staged else snakemake.params.revision,
    Path(source) if source else None,
    {
        lang: {role: Path(path) for role, path in roles.items()}
        for lang, roles in snakemake.params.files.items()
    },
    snakemake.params.settings,
    shard_context(snakemake.wildcards),
    Path(snakemake.output[0]),
    snakemake.threads,
)
