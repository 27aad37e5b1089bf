from pathlib import Path

from xltransfer.jobs import embedding_similarity
from xltransfer.logs import log_to
from xltransfer.training.devices import require_gpus

log_to(snakemake.log[0])
require_gpus(snakemake.rule, snakemake.resources.gpu)  # fail before loading anything
params = snakemake.params
embedding_similarity(
    params.method,
    params.task_models,
    dict(zip(params.tasks, map(Path, snakemake.input.train), strict=True)),
    params.heads,
    params.sources,
    params.targets,
    params.settings,
    {key: Path(path) for key, path in snakemake.output.items()},
)
