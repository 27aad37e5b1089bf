from pathlib import Path

from xltransfer.jobs import write_answer
from xltransfer.logs import log_to

log_to(snakemake.log[0])
print(
    write_answer(
        Path(snakemake.input.correlations),
        Path(snakemake.input.selection),
        Path(snakemake.output[0]),
    )
)
