"""Entry point of a fine-tuning job: `python -m xltransfer.cli.finetune --spec JSON --output DIR
[--processes N --accelerate-config FILE] [--rule NAME --gpus N] [--threads N]`.

One process trains here; with N > 1 the job replaces itself by `accelerate launch`, which starts
N copies of it (xltransfer.training.launch). With the rule's GPU count, the job first checks it
got them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", required=True, help="run spec as JSON (FinetuneSpec)")
    parser.add_argument("--output", required=True, type=Path, help="checkpoint folder to write")
    parser.add_argument("--rule", default="finetune", help="the workflow rule, for messages")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs the rule asked for")
    parser.add_argument("--processes", type=int, default=1, help="training processes (per GPU)")
    parser.add_argument("--accelerate-config", help="`accelerate launch` settings, for N > 1")
    parser.add_argument("--threads", type=int, help="CPU threads per process (the spec's if unset)")
    parser.add_argument("--attempt", type=int, default=1, help="Snakemake's attempt of this job")
    args = parser.parse_args(argv)
    if args.attempt > 1 and restored(args.spec, args.output):
        return
    # Only what this decision needs is imported before it: the launcher's children import the rest.
    from xltransfer.training.devices import require_gpus
    from xltransfer.training.launch import relaunch_if_needed

    # Before the process group forms or anything loads: a job without its GPUs stops here.
    require_gpus(args.rule, args.gpus)
    relaunch_if_needed(args.processes, args.accelerate_config, argv)

    import transformers

    from xltransfer.spec import FinetuneSpec
    from xltransfer.training.loop import process_state, run_finetune

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not process_state().is_main_process:
        # One rank speaks for the job; the others stay quiet unless something goes wrong.
        transformers.utils.logging.set_verbosity_error()
    spec = FinetuneSpec.from_json(args.spec)
    # Threads come from the job's resources, outside the spec: they decide no result, so
    # changing them retrains nothing (the spec is the job's identity, `xltransfer.identity`).
    if args.threads:
        spec = replace(spec, threads=args.threads)
    run_finetune(spec, args.output)


def restored(spec_json: str, output: Path) -> bool:
    """A retry (attempt > 1) within one Snakemake run puts back the fine-tune its first attempt
    finished, instead of training again (xltransfer.training.finished)."""
    import json

    from xltransfer.spec import FinetuneSpec
    from xltransfer.training.finished import restore_finished
    from xltransfer.training.loop import SUMMARY_FILE, pinned_to_commit

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spec = pinned_to_commit(FinetuneSpec.from_json(spec_json))
    return restore_finished(json.loads(spec.to_json()), output, SUMMARY_FILE)


if __name__ == "__main__":
    main()
