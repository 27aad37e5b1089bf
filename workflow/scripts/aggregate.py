from pathlib import Path

from xltransfer.jobs import aggregate
from xltransfer.logs import log_to

log_to(snakemake.log[0])
aggregate(snakemake.params.expected, snakemake.params.allow_partial, Path(snakemake.output[0]))
