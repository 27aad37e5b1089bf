from pathlib import Path

from xltransfer.jobs import vocabulary_similarity
from xltransfer.logs import log_to

log_to(snakemake.log[0])
params = snakemake.params
vocabulary_similarity(
    dict(zip(params.tasks, map(Path, snakemake.input), strict=True)),
    params.size,
    params.models,
    params.sources,
    params.targets,
    Path(snakemake.output[0]),
    params.heads,
)
