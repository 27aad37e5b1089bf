from pathlib import Path

from xltransfer.jobs import import_published
from xltransfer.logs import log_to

log_to(snakemake.log[0])
import_published(dict(snakemake.params.settings), Path(snakemake.output[0]))
