from pathlib import Path

from xltransfer.jobs import evaluate
from xltransfer.logs import log_to

log_to(snakemake.log[0])
wildcards = snakemake.wildcards
evaluate(
    Path(snakemake.input.model),
    [Path(p) for p in snakemake.input.tests],
    snakemake.params.languages,
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
    alignment=snakemake.params.alignment,
    english_test=snakemake.input.get("english_test"),
)
