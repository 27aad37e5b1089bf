from pathlib import Path

from xltransfer.jobs import train_tokenizer
from xltransfer.logs import log_to

log_to(snakemake.log[0])
train_tokenizer(Path(snakemake.params.corpus), snakemake.params.build, Path(snakemake.output[0]))
