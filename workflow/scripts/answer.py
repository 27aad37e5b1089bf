from pathlib import Path

from xltransfer.analysis.assumptions import grid_assumptions
from xltransfer.analysis.power import grid_powers
from xltransfer.analysis.published import table_has_language_axis
from xltransfer.io import read_parquets_checked, write_bytes_atomic
from xltransfer.logs import log_to
from xltransfer.report.answer import answer, grid_shape

log_to(snakemake.log[0])
# A published table without a language axis asks of the transfer gain, not zero-shot transfer.
correlations, selection, mixed, gains, similarity = read_parquets_checked(
    [
        snakemake.input.correlations,
        snakemake.input.selection,
        snakemake.input.mixed,
        snakemake.input.gains,
        snakemake.input.similarity,
    ]
)
shapes = {model: grid_shape(correlations, model) for model in correlations["model"].unique()}
text = answer(
    correlations,
    selection,
    zero_shot=table_has_language_axis(snakemake.config),
    pooling=snakemake.params.pooling,
    powers=grid_powers(gains, similarity, snakemake.params.source_language, shapes),
    mixed=mixed,
    primary=snakemake.params.primary_test,
    p_adjust=snakemake.params.p_adjust,
    assumptions=grid_assumptions(
        gains, snakemake.params.source_language, snakemake.params.families
    ),
)
write_bytes_atomic(Path(snakemake.output[0]), (text + "\n").encode())
print(text)
