from pathlib import Path

from xltransfer.jobs import merge_similarity
from xltransfer.logs import log_to

log_to(snakemake.log[0])
merge_similarity([Path(p) for p in snakemake.input], Path(snakemake.output[0]))
