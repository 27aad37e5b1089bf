import os

# The one job that talks to the Hub: everything else runs with HF_HUB_OFFLINE=1, which
# huggingface_hub reads when it is first imported.
os.environ["HF_HUB_OFFLINE"] = "0"
os.environ["HF_DATASETS_OFFLINE"] = "0"

from xltransfer.jobs import stage_repository  # noqa: E402
from xltransfer.logs import log_to  # noqa: E402

log_to(snakemake.log[0])
stage_repository(snakemake.params.request, snakemake.params.cache, snakemake.output[0])
