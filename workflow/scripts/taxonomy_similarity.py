from pathlib import Path

from xltransfer.jobs import taxonomy_similarity
from xltransfer.logs import log_to

log_to(snakemake.log[0])
params = snakemake.params
taxonomy_similarity(
    params.facets,
    params.method,
    params.setting,
    params.models,
    params.sources,
    params.targets,
    Path(snakemake.output[0]),
)
