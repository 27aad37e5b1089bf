"""Nothing from the config reaches a shell unquoted.

Every `shell:` command of the workflow is read from the rule files; each `{placeholder}` in it
must carry Snakemake's `:q` (shell quoting), except the few words the workflow builds itself.
"""

from __future__ import annotations

import ast
import re
import string
import subprocess
from pathlib import Path

import yaml
from test_workflow import SNAKEMAKE, default_config, workflow_copy

REPO = Path(__file__).resolve().parents[1]
RULES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
# Words the workflow itself builds from fixed strings, which may stay unquoted: none today.
BUILT_HERE: set[str] = set()


def _constant(text: str, name: str) -> str:
    """The string constant `name = (...)` defined in a rule file."""
    match = re.search(rf"^{name} = (\(.*?^\))", text, re.S | re.M)
    assert match, f"no constant {name}"
    return ast.literal_eval(match.group(1))


def shell_commands() -> dict[str, str]:
    """`file:rule` -> the shell command of every `shell:` directive."""
    commands = {}
    for path in RULES:
        text = path.read_text()
        for match in re.finditer(r"^rule (\w+):.*?(?=^rule |\Z)", text, re.S | re.M):
            body = match.group(0)
            shell = re.search(r"^    shell:\n((?:        .*\n?)+)", body, re.M)
            if not shell:
                continue
            value = shell.group(1).strip()
            command = _constant(text, value) if value.isidentifier() else ast.literal_eval(value)
            commands[f"{path.name}:{match.group(1)}"] = command
    return commands


def unquoted(command: str) -> list[str]:
    return [
        field
        for _, field, spec, _ in string.Formatter().parse(command)
        if field is not None and spec != "q" and field not in BUILT_HERE
    ]


def test_the_reader_finds_the_training_commands_and_an_unquoted_field():
    commands = shell_commands()
    assert {"train.smk:train_source", "train.smk:train_target"} <= set(commands)
    assert unquoted("run {params.x} > {log}") == ["params.x", "log"]
    assert unquoted("run {params.x:q} --n {threads:q} > {log:q}") == []


def test_every_shell_value_is_quoted():
    offenders = {
        rule: fields for rule, cmd in shell_commands().items() if (fields := unquoted(cmd))
    }
    assert offenders == {}, f"unquoted shell interpolations: {offenders}"


def test_a_command_in_a_config_value_is_never_run(tmp_path):
    # A file whose name holds a command substitution is a legal accelerate config; quoted, the
    # printed training command passes it as one word and the substitution never runs.
    folder = workflow_copy(tmp_path)
    name = "$(touch PWNED)accelerate.yaml"
    (folder / name).write_text((REPO / "config" / "accelerate.yaml").read_text())
    config = default_config()
    config["accelerate_config"] = name
    (folder / "c.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run(
        [*SNAKEMAKE, "-n", "-p", "--configfile", "c.yaml", "--until", "train_source"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "--accelerate-config '$(touch PWNED)accelerate.yaml'" in run.stdout + run.stderr
    assert not (folder / "PWNED").exists()
