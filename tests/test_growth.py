"""A grid grows: each change to a finished run plans exactly the jobs it touches, and the grown
run's tables equal a from-scratch run of the new config.

One tiny grid is run once. Every change of the matrix is then dry-run against it and must plan
exactly the jobs stated here, per rule; two of them (a source, a method) are run one after the
other, and the tables they leave are compared with a from-scratch run of the final config. A
language is run and compared on the CI SLURM cluster (tests/test_slurm.py), restaging through
the Hub in tests/test_restage.py. Snakemake's rerun triggers stay
on: what the jobs declare decides.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_workflow import SNAKEMAKE, workflow_copy
from test_workflow import planned as plan_of

pytestmark = pytest.mark.workflow

TINY = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
FULL = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

# The run-level steps after new scores, and after any new score or similarity.
SCORES = {"aggregate": 1, "gains": 1, "transfer_gap": 1}
ANSWER = {"correlate": 1, "rank_sources": 1, "answer": 1, "plots": 1, "summary_page": 1, "all": 1}
# Every similarity table is rebuilt when the set of sources or targets changes (a cheap CPU job
# each); the vectors of tasks already embedded are kept.
SIMILARITY = {
    "taxonomy_similarity": 1,
    "wu_palmer_similarity": 1,
    "textemb_similarity": 1,
    "taskemb_similarity": 1,
    "task_similarity": 1,
}


def base_config() -> dict:
    config = copy.deepcopy(TINY)
    config["tasks"]["xnli"]["languages"] = ["en", "ov60"]
    config["similarity"] = {"methods": ["taxonomy", "wu_palmer", "textemb", "taskemb"]}
    # Kept target checkpoints: a new language is scored without retraining (with temporary
    # ones the model is gone, and the run retrains; docs/cluster.md).
    config["keep"] = {"target_checkpoints": True}
    tiny = {"train_tokens_per_s": 20000, "eval_tokens_per_s": 60000, "source": "assumed"}
    config["plan"] = {
        "device": "cpu",
        "models": {"tiny-xlmr": {"parameters": 60000, "throughput": {"cpu": tiny}}},
    }
    return config


def add_language(config):
    config["tasks"]["xnli"]["languages"].append("cy0")


def add_source(config):
    config["tasks"]["qqp"] = FULL["tasks"]["qqp"]
    config["experiment"]["sources"].append("qqp")


def add_seed(config):
    config["experiment"]["seeds"].append(2)


def add_method(config):
    config["similarity"]["methods"].append("vocab_overlap")


def add_target(config):
    config["tasks"]["sentiment"] = {**FULL["tasks"]["sentiment"], "languages": ["en", "ov60"]}
    config["experiment"]["targets"].append("sentiment")


def add_model(config):
    second = copy.deepcopy(config["models"]["tiny-xlmr"])
    second["build"]["hidden_size"] = 16
    config["models"]["tiny-second"] = second
    config["experiment"]["models"].append("tiny-second")


def task_hyperparameter(config):
    config["tasks"]["sst2"]["hyperparameters"] = {"learning_rate": 1.0e-4}


def model_learning_rate(config):
    config["models"]["tiny-xlmr"]["hyperparameters"] = {"learning_rate": 1.0e-4}


def analysis_setting(config):
    config.setdefault("analysis", {})["permutation_resamples"] = 500


def no_op(config):
    # Every mapping's keys in another order, and a thread count (no result depends on it).
    def reverse(value):
        if isinstance(value, dict):
            return {key: reverse(value[key]) for key in reversed(list(value))}
        return value

    languages = config["demo_benchmark"]["languages"]  # generated in this order: not reordered
    reordered = reverse(config)
    reordered["demo_benchmark"]["languages"] = languages
    config.clear()
    config.update(reordered)
    config["resources"] = {"train": {"threads": 1}}


# Changes dry-run against the finished base grid, with the jobs each must plan.
PLANNED = {
    # Run and compared with a from-scratch run on the CI SLURM cluster (tests/test_slurm.py).
    "add a language": (
        add_language,
        {"prepare_data": 1, "split_checksums": 1, "evaluate": 3, **SCORES, **ANSWER},
    ),
    "add a seed": (
        add_seed,
        {"train_source": 2, "train_target": 3, "evaluate": 6, **SCORES, **ANSWER},
    ),
    "add a target": (
        add_target,
        {"prepare_data": 4, "split_checksums": 2, "task_embedding": 2, "train_target": 3,
         "evaluate": 6, **SIMILARITY, **SCORES, **ANSWER},
    ),
    "add a model": (
        add_model,
        {"train_tokenizer": 1, "pretrain": 1, "task_embedding": 6, "train_source": 2,
         "train_target": 3, "evaluate": 6, **SIMILARITY, **SCORES, **ANSWER},
    ),
    # sst2 is a source: its fine-tune, its run, and its TaskEmb (from that checkpoint).
    "change one task's hyperparameter": (
        task_hyperparameter,
        {"train_source": 1, "task_embedding": 1, "train_target": 1, "evaluate": 2,
         "taskemb_similarity": 1, "task_similarity": 1, **SCORES, **ANSWER},
    ),
    "change one model's learning rate": (
        model_learning_rate,
        {"train_source": 2, "train_target": 3, "evaluate": 6, "task_embedding": 3,
         "taskemb_similarity": 1, "task_similarity": 1, **SCORES, **ANSWER},
    ),
    "change an analysis setting": (
        analysis_setting,
        {"correlate": 1, "answer": 1, "plots": 1, "summary_page": 1, "all": 1},
    ),
    "no-op (keys reordered, threads)": (no_op, {}),
}  # fmt: skip

# Changes applied one after another to the finished grid and run, then compared.
GROWN = [
    ("add a source", add_source,
     {"prepare_data": 2, "task_embedding": 2, "train_source": 1, "train_target": 1,
      "evaluate": 2, **SIMILARITY, **SCORES, **ANSWER}),
    ("add a similarity method", add_method,
     {"vocab_overlap_similarity": 1, "task_similarity": 1, **ANSWER}),
]  # fmt: skip

TABLES = ("scores", "gains", "similarity", "correlations", "source_selection")


def write(folder, config) -> str:
    (folder / "growth.yaml").write_text(
        "# a comment the workflow must ignore\n" + yaml.safe_dump(config, sort_keys=False)
    )
    return "growth.yaml"


def environment() -> dict:
    # The venv's tools must be found by the jobs, as `make test` arranges.
    return {
        **os.environ,
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
    }


def planned(folder, config) -> dict[str, int]:
    return plan_of(folder, write(folder, config), environment())


def run(folder, config) -> None:
    done = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--configfile", write(folder, config)],
        cwd=folder, env=environment(), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def table(folder, name) -> pd.DataFrame:
    frame = pd.read_parquet(folder / "results" / "tiny" / f"{name}.parquet")
    frame = frame.drop(columns=[c for c in ("created_at",) if c in frame])
    return frame.sort_values(list(frame.columns[:6])).reset_index(drop=True)


def test_each_change_to_a_finished_grid_plans_only_what_it_touches(tmp_path):
    folder = workflow_copy(tmp_path / "grown")
    config = base_config()
    command = [*SNAKEMAKE, "--cores", "2", "--configfile", write(folder, config)]
    record = folder / ".snakemake" / "xltransfer-run.json"
    log = tmp_path / "first.log"
    with (
        log.open("w") as output,
        subprocess.Popen(
            command, cwd=folder, env=environment(), stdout=output, stderr=subprocess.STDOUT
        ) as first,
    ):
        # A second run while the first one lives is refused in one line, naming its record.
        deadline = time.monotonic() + 120
        while not record.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        second = subprocess.run(command, cwd=folder, env=environment(), capture_output=True,
                                text=True)  # fmt: skip
        said = second.stdout + second.stderr
        assert second.returncode != 0 and "another run holds this folder: pid" in said, said
        assert "rerun-incomplete" not in said and "--unlock" not in said
        assert first.wait() == 0, log.read_text()[-3000:]
    assert not record.exists()
    assert planned(folder, config) == {}

    for name, (change, expected) in PLANNED.items():
        changed = copy.deepcopy(config)
        change(changed)
        assert planned(folder, changed) == expected, name

    # The cost of a change before paying it: `make plan` names every finished fine-tune the
    # next run would train again, and the run refuses to until told.
    changed = copy.deepcopy(config)
    model_learning_rate(changed)
    plan = subprocess.run(
        [sys.executable, "-m", "xltransfer.cli.plan", "--config", write(folder, changed)],
        cwd=folder, env=environment(), capture_output=True, text=True,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "It would train 5 finished fine-tune(s) again" in plan.stdout, plan.stdout[-3000:]
    assert "- train_source tiny-xlmr seed 1 mnli: Params have changed" in plan.stdout
    assert "| train_target | 3 | 0 |" in plan.stdout
    refused = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--configfile", "growth.yaml"],
        cwd=folder, env=environment(), capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "this run would train 5 finished fine-tune(s) again" in refused.stderr
    assert planned(folder, changed) == PLANNED["change one model's learning rate"][1]

    for name, change, expected in GROWN:
        change(config)
        assert planned(folder, config) == expected, name
        run(folder, config)
        assert planned(folder, config) == {}, name

    scratch = workflow_copy(tmp_path / "scratch")
    run(scratch, config)
    for name in TABLES:
        pd.testing.assert_frame_equal(table(folder, name), table(scratch, name), obj=name)
    shutil.rmtree(scratch / "results")
