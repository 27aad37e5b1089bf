import os

# Pinning asks the Hub which commit a revision is (once, or on `make stage-update`).
os.environ["HF_HUB_OFFLINE"] = "0"
os.environ["HF_DATASETS_OFFLINE"] = "0"

from xltransfer.data.staging import StagingError  # noqa: E402
from xltransfer.jobs import pin_repository  # noqa: E402
from xltransfer.logs import log_to, said_on_console  # noqa: E402

log_to(snakemake.log[0])
with said_on_console(StagingError):
    pin_repository(
        snakemake.params.repository,
        snakemake.params.key,
        snakemake.params.cache,
        snakemake.output[0],
    )
