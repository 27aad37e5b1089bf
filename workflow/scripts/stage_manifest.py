from xltransfer.jobs import stage_manifest
from xltransfer.logs import log_to

log_to(snakemake.log[0])
stage_manifest(snakemake.input, snakemake.output[0])
