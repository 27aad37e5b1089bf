from pathlib import Path

from xltransfer.jobs import gains
from xltransfer.logs import log_to

log_to(snakemake.log[0])
gains(Path(snakemake.input[0]), Path(snakemake.output[0]))
