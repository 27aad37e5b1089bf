"""Entry point of `accelerate launch -m xltransfer.cli.finetune --spec JSON --output DIR`
[--rule NAME --gpus N]: with the rule's GPU count, the job first checks it got them."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import datasets
import transformers

from xltransfer.devices import require_gpus
from xltransfer.spec import FinetuneSpec
from xltransfer.train import process_state, run_finetune


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", required=True, help="run spec as JSON (FinetuneSpec)")
    parser.add_argument("--output", required=True, type=Path, help="checkpoint folder to write")
    parser.add_argument("--rule", default="finetune", help="the workflow rule, for messages")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs the rule asked for")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # Before the process group forms or anything loads: a job without its GPUs stops here.
    require_gpus(args.rule, args.gpus)
    if not process_state().is_main_process:
        # One rank speaks for the job; the others stay quiet unless something goes wrong.
        datasets.utils.logging.set_verbosity_error()
        transformers.utils.logging.set_verbosity_error()
    run_finetune(FinetuneSpec.from_json(args.spec), args.output)


if __name__ == "__main__":
    main()
