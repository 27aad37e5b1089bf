from pathlib import Path

from xltransfer.data.tasks import TaskSpec
from xltransfer.jobs import prepare_data
from xltransfer.logs import log_to

log_to(snakemake.log[0])
folder = snakemake.params.folder
prepare_data(
    TaskSpec.from_config(snakemake.wildcards.task, snakemake.params.task),
    snakemake.wildcards.lang,
    snakemake.wildcards.role,
    Path(snakemake.output[0]),
    Path(folder) if folder else None,
)
