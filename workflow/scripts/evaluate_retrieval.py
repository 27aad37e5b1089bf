from pathlib import Path

from xltransfer.jobs import evaluate_retrieval, shard_context
from xltransfer.logs import log_to

log_to(snakemake.log[0])
source = snakemake.input.get("source")
evaluate_retrieval(
    snakemake.params.encoder,
    snakemake.params.revision,
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
