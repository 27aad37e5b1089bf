from pathlib import Path

from xltransfer.jobs import correlate
from xltransfer.logs import log_to

log_to(snakemake.log[0])
headline = correlate(
    Path(snakemake.input.gains),
    Path(snakemake.input.similarity),
    snakemake.params.source_language,
    {key: Path(path) for key, path in snakemake.output.items()},
    snakemake.params.inference,
)
print(headline)
