import os

# The one job that talks to the Hub: everything else runs with HF_HUB_OFFLINE=1, which
# huggingface_hub reads when it is first imported.
os.environ["HF_HUB_OFFLINE"] = "0"
os.environ["HF_DATASETS_OFFLINE"] = "0"

from xltransfer.data.staging import StagingError  # noqa: E402
from xltransfer.jobs import stage_repository  # noqa: E402
from xltransfer.logs import log_to, said_on_console  # noqa: E402

log_to(snakemake.log[0])
with said_on_console(StagingError):
    stage_repository(
        snakemake.params.request,
        snakemake.params.cache,
        snakemake.input.commit,
        snakemake.output[0],
    )
