from pathlib import Path

import pandas as pd

from xltransfer.io import write_bytes_atomic
from xltransfer.logs import log_to
from xltransfer.published import table_has_language_axis
from xltransfer.report import summary_page

log_to(snakemake.log[0])
page = summary_page(
    snakemake.config,
    Path(snakemake.input.answer).read_text(),
    pd.read_parquet(snakemake.input.correlations),
    pd.read_parquet(snakemake.input.mixed_effects),
    pd.read_parquet(snakemake.input.selection),
    pd.read_parquet(snakemake.input.gains),
    zero_shot=table_has_language_axis(snakemake.config),
)
write_bytes_atomic(Path(snakemake.output[0]), page.encode())
