"""How a fine-tuning job starts its processes: one process runs in the job's own Python, several
are started by `accelerate launch`.

A launcher around a single process costs a second Python start and Accelerate's imports (about
2 s a job, against tens of seconds of training for a small job), and gives nothing: one process
forms no process group. With several, `accelerate launch --multi_gpu` starts one per GPU.
"""

from __future__ import annotations

import os

ENTRY_POINT = "xltransfer.cli.finetune"


def inside_launcher() -> bool:
    """Whether this process was started by a distributed launcher (torchrun, accelerate)."""
    return "WORLD_SIZE" in os.environ


def launch_command(processes: int, accelerate_config: str, arguments: list[str]) -> list[str]:
    """The `accelerate launch` command line that runs the entry point with `arguments` on
    `processes` processes of this node; a list, so no shell ever reads it."""
    return [
        "accelerate",
        "launch",
        "--config_file",
        accelerate_config,
        "--multi_gpu",
        "--num_processes",
        str(processes),
        "--main_process_port",
        "0",  # a free port: several jobs may share a node
        "-m",
        ENTRY_POINT,
        *arguments,
    ]


def relaunch_if_needed(processes: int, accelerate_config: str | None, arguments: list[str]) -> None:
    """Replace this process by `accelerate launch` when several processes are asked for and no
    launcher started this one; return (and train here) otherwise."""
    if processes <= 1 or inside_launcher():
        return
    if accelerate_config is None:
        raise SystemExit(f"{ENTRY_POINT}: --processes {processes} needs --accelerate-config")
    command = launch_command(processes, accelerate_config, arguments)
    os.execvp(command[0], command)
