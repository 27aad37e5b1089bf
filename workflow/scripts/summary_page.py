from pathlib import Path

from xltransfer.analysis.published import table_has_language_axis
from xltransfer.io import read_parquet_checked, read_parquets_checked, write_bytes_atomic
from xltransfer.logs import log_to
from xltransfer.report.page import summary_page

log_to(snakemake.log[0])
inputs = snakemake.input
tables = read_parquets_checked(
    [inputs.correlations, inputs.mixed_effects, inputs.selection, inputs.gains]
)
plots = {"heatmap": inputs.heatmap, "scatter": inputs.scatter}
transfer_gap = None
# Only a run that fine-tunes targets has a transfer gap (the rule's input is empty otherwise).
if inputs.transfer_gap:
    plots["transfer_gap"] = inputs.transfer_gap_plot
    transfer_gap = read_parquet_checked(inputs.transfer_gap)
page = summary_page(
    snakemake.config,
    Path(inputs.answer).read_text(),
    *tables,
    zero_shot=table_has_language_axis(snakemake.config),
    plots=plots,
    transfer_gap=transfer_gap,
)
write_bytes_atomic(Path(snakemake.output[0]), page.encode())
