from pathlib import Path

from xltransfer.jobs import evaluate_retrieval
from xltransfer.logs import log_to

log_to(snakemake.log[0])
wildcards = snakemake.wildcards
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
    {
        "run": wildcards.run,
        "model": wildcards.model,
        "source": wildcards.source,
        "target": wildcards.target,
        "seed": int(wildcards.seed),
        "shard": int(wildcards.shard),
    },
    Path(snakemake.output[0]),
    snakemake.threads,
)
