from pathlib import Path

from xltransfer.jobs import compare_task_embeddings
from xltransfer.logs import log_to

log_to(snakemake.log[0])
params = snakemake.params
compare_task_embeddings(
    params.method,
    [Path(path) for path in snakemake.input.vectors],
    params.sources,
    params.targets,
    params.settings,
    {key: Path(path) for key, path in snakemake.output.items()},
)
