from pathlib import Path

from xltransfer.io import read_parquets_checked, write_bytes_atomic
from xltransfer.logs import log_to
from xltransfer.published import table_has_language_axis
from xltransfer.report import summary_page

log_to(snakemake.log[0])
inputs = snakemake.input
tables = read_parquets_checked(
    [inputs.correlations, inputs.mixed_effects, inputs.selection, inputs.gains]
)
page = summary_page(
    snakemake.config,
    Path(inputs.answer).read_text(),
    *tables,
    zero_shot=table_has_language_axis(snakemake.config),
)
write_bytes_atomic(Path(snakemake.output[0]), page.encode())
