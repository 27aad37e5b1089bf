from pathlib import Path

import pandas as pd

from xltransfer.answer import answer
from xltransfer.io import write_bytes_atomic
from xltransfer.logs import log_to
from xltransfer.published import table_has_language_axis

log_to(snakemake.log[0])
# A published table without a language axis asks of the transfer gain, not zero-shot transfer.
text = answer(
    pd.read_parquet(snakemake.input.correlations),
    pd.read_parquet(snakemake.input.selection),
    zero_shot=table_has_language_axis(snakemake.config),
    pooling=snakemake.params.pooling,
)
write_bytes_atomic(Path(snakemake.output[0]), (text + "\n").encode())
print(text)
