from pathlib import Path

from xltransfer.jobs import demo_benchmark
from xltransfer.logs import log_to

log_to(snakemake.log[0])
demo_benchmark(snakemake.params.settings, Path(snakemake.output[0]))
