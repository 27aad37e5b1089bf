from pathlib import Path

from xltransfer.jobs import transfer_gap
from xltransfer.logs import log_to

log_to(snakemake.log[0])
transfer_gap(
    Path(snakemake.input[0]),
    snakemake.params.source_language,
    dict(snakemake.output.items()),
)
