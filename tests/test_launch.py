"""A training job with one process trains in its own Python; several go through
`accelerate launch`, which the entry point execs with the job's own arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from xltransfer.training.launch import launch_command

# Stands in for `accelerate` on PATH: records the arguments it was started with.
RECORDER = """#!{python}
import json, sys
with open({record!r}, "w") as out:
    json.dump(sys.argv[1:], out)
"""


def fake_accelerate(folder: Path) -> Path:
    record = folder / "argv.json"
    script = folder / "accelerate"
    script.write_text(RECORDER.format(python=sys.executable, record=str(record)))
    script.chmod(0o755)
    return record


def finetune(arguments: list[str], path_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PATH": f"{path_dir}{os.pathsep}{os.environ['PATH']}", **env}
    if "WORLD_SIZE" not in env:
        environment.pop("WORLD_SIZE", None)
    return subprocess.run(
        [sys.executable, "-m", "xltransfer.cli.finetune", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_launch_command_is_a_list_with_the_arguments_passed_through():
    command = launch_command(4, "my config.yaml", ["--spec", "{}", "--output", "out dir"])
    assert command == [
        "accelerate",
        "launch",
        "--config_file",
        "my config.yaml",
        "--multi_gpu",
        "--num_processes",
        "4",
        "--main_process_port",
        "0",
        "-m",
        "xltransfer.cli.finetune",
        "--spec",
        "{}",
        "--output",
        "out dir",
    ]


def test_several_processes_are_started_by_accelerate_launch(tmp_path):
    record = fake_accelerate(tmp_path)
    arguments = ["--spec", '{"a": 1}', "--output", str(tmp_path / "m"), "--processes", "2"]
    arguments += ["--accelerate-config", "config/accelerate.yaml"]
    result = finetune(arguments, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        json.loads(record.read_text()) == launch_command(2, "config/accelerate.yaml", arguments)[1:]
    )


def test_one_process_and_a_launched_rank_train_here(tmp_path):
    # Neither execs the launcher; each goes on to train here and fails on what it then reads.
    record = fake_accelerate(tmp_path)
    single = finetune(["--spec", "not json", "--output", "m", "--processes", "1"], tmp_path)
    assert single.returncode != 0 and "JSONDecodeError" in single.stderr
    # A rank the launcher started (WORLD_SIZE set) joins the process group, here none.
    arguments = ["--spec", "{}", "--output", "m", "--processes", "2", "--accelerate-config", "a"]
    rank = finetune(arguments, tmp_path, WORLD_SIZE="2")
    assert rank.returncode != 0 and "Accelerate formed a group of 1" in rank.stderr
    assert not record.exists()


def test_several_processes_without_a_launch_config_are_refused(tmp_path):
    record = fake_accelerate(tmp_path)
    result = finetune(["--spec", "{}", "--output", "m", "--processes", "2"], tmp_path)
    assert result.returncode != 0
    assert "--processes 2 needs --accelerate-config" in result.stderr
    assert not record.exists()
