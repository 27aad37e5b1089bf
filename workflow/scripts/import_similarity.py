from pathlib import Path

from xltransfer.jobs import import_similarity
from xltransfer.logs import log_to

log_to(snakemake.log[0])
import_similarity(
    Path(snakemake.input[0]),
    snakemake.params.design,
    snakemake.params.reserved,
    Path(snakemake.output[0]),
)
