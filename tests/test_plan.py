"""The cost plan: known answers on a hand-made grid, and the CLI on config/xtreme.yaml."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import REPO

from xltransfer.cli.plan import main
from xltransfer.cli.workflow_config import load_workflow_config
from xltransfer.config import expected_job_counts
from xltransfer.planning.markdown import _hours, _span, render_markdown
from xltransfer.planning.plan import PlanError, build_plan, lock_rows, model_throughput, read_locks

PAIR = {
    "columns": {"text_a": "a", "text_b": "b", "label": "label"},
    "type": "pair_classification",
    "labels": ["no", "yes"],
    "metric": "accuracy",
}
HANDMADE = {
    "run": "handmade",
    "models": {"m1": {"path": "org/m1"}},
    "tasks": {
        "src": {
            **PAIR,
            "dataset": "org/src",
            "splits": {"train": "train", "dev": "validation", "test": "validation"},
            "languages": ["en"],
        },
        "tgt": {
            **PAIR,
            "dataset": "org/tgt",
            "config": "{lang}",
            "splits": {"train": "train", "dev": "validation", "test": "test"},
            "languages": ["en", "de"],
        },
    },
    "experiment": {"models": ["m1"], "sources": ["src"], "targets": ["tgt"], "seeds": [1, 2]},
    "training": {
        "source": {"epochs": 2, "max_length": 16},
        "target": {"epochs": 1, "max_length": 8, "max_train_examples": 300},
    },
    "similarity": {"methods": ["vocab_overlap"]},
    "resources": {"train": {"gpu": 1}, "evaluate": {"gpu": 1}},
    "plan": {
        "device": "gpu1",
        "models": {
            "m1": {
                "parameters": 100_000_000,
                "throughput": {
                    "gpu1": {
                        "train_tokens_per_s": 1000,
                        "eval_tokens_per_s": 4000,
                        "source": "test",
                    }
                },
            }
        },
        "rows": {
            "src": {"train": 1000, "dev": 100},
            "tgt": {"train": 500, "dev": 50, "test": {"en": 200, "de": 200}},
        },
        "bytes_per_row": 100,
        "overhead_minutes": 0.5,
    },
}


@pytest.fixture
def config(tmp_path) -> dict:
    """The hand-made grid, validated and cross-checked as the workflow and the CLI do it."""
    path = tmp_path / "handmade.yaml"
    path.write_text(yaml.safe_dump(HANDMADE))
    return load_workflow_config(path)


def test_jobs_per_rule_are_the_dry_runs(config):
    plan = build_plan(config, jobs_in_flight=3)
    assert plan.job_counts == expected_job_counts(config)
    assert plan.job_counts["train_source"] == 2 and plan.job_counts["train_target"] == 4


def test_tokens_and_device_hours_by_hand(config):
    plan = build_plan(config, jobs_in_flight=3)
    work = {w.rule: w for w in plan.workloads}
    # train_source: 2 seeds x 1,000 examples x 2 epochs x 16 tokens; dev 100 rows per epoch.
    assert (work["train_source"].train_tokens, work["train_source"].eval_tokens) == (64_000, 6_400)
    # train_target: 2 seeds x 2 runs (none, src), capped at 300 of 500 examples, 1 epoch x 8.
    assert work["train_target"].jobs == 4
    assert (work["train_target"].train_tokens, work["train_target"].eval_tokens) == (9_600, 1_600)
    # evaluate: 4 runs x (200 en + 200 de) test rows x 8 tokens.
    assert (work["evaluate"].jobs, work["evaluate"].eval_tokens) == (4, 12_800)
    # Seconds: tokens / (1,000 train or 4,000 eval tokens/s), plus 30 s start-up per job.
    hours = plan.rule_hours()
    assert hours["train_source"] == pytest.approx((64 + 1.6 + 2 * 30) / 3600)
    assert hours["train_target"] == pytest.approx((9.6 + 0.4 + 4 * 30) / 3600)
    assert hours["evaluate"] == pytest.approx((3.2 + 4 * 30) / 3600)
    assert plan.total_hours == pytest.approx(378.8 / 3600)
    assert plan.overhead_hours == pytest.approx(10 * 30 / 3600)
    # Measured throughput includes the optimizer step: one figure, not a range.
    assert plan.measured and plan.hours_range == pytest.approx((378.8 / 3600, 378.8 / 3600))


def test_an_assumed_throughput_gives_a_range_with_adams_step_by_hand(config):
    config = copy.deepcopy(config)
    del config["plan"]["models"]["m1"]["throughput"]
    config["plan"]["models"]["m1"]["compute_parameters"] = 50_000_000
    config["plan"]["devices"] = {
        "gpu1": {"peak_tflops": 300, "memory_gb_per_s": 1800, "source": "x"}
    }
    config["plan"]["mfu"] = {"train": {"low": 0.1, "high": 0.4}, "eval": 0.2, "source": "assumed"}
    config["plan"]["optimizer_bandwidth_share"] = {"low": 0.25, "high": 0.75}
    plan = build_plan(config, jobs_in_flight=3)
    assert not plan.measured
    work = {w.rule: w for w in plan.workloads}
    # Optimizer steps: per source job ceil(1,000 / 32) x 2 epochs, per target job ceil(300 / 32).
    assert work["train_source"].steps == 2 * 32 * 2 and work["train_target"].steps == 4 * 10
    train = {"low": 300e12 * 0.4 / 3e8, "high": 300e12 * 0.1 / 3e8}  # tokens/s, fast end first
    scoring = 300e12 * 0.2 / 1e8
    # AdamW: 100M parameters x 36 bytes at 75 % (fast) or 25 % of 1,800 GB/s.
    step = {"low": 3.6e9 / (1800e9 * 0.75), "high": 3.6e9 / (1800e9 * 0.25)}
    for bound in ("low", "high"):
        expected = (64_000 / train[bound] + 6_400 / scoring + 128 * step[bound] + 60) / 3600
        assert plan.rule_hours(bound)["train_source"] == pytest.approx(expected)
    low, high = plan.hours_range
    assert low < high
    text = render_markdown(plan, "handmade.yaml", "test")
    assert f"device-hours ({_hours(plan.overhead_hours)} of them job start-up, assumed)" in text
    assert f"| **total** | **{plan.job_counts['total']:,}** | **{_span(low, high)}** |" in text
    assert "the device-hours are a range" in text and "AdamW 2.7-8.0 ms a step" in text


def test_disk_by_hand(config):
    config = copy.deepcopy(config)
    config["keep"] = {"target_checkpoints": True}
    plan = build_plan(config, jobs_in_flight=3)
    checkpoint = 100_000_000 * 4
    data = (1000 + 100 + 500 + 50 + 200 + 200) * 100  # every shard's rows x bytes_per_row
    # Pretrained weights, 2 source and 4 target checkpoints, the data.
    assert plan.final_bytes == pytest.approx((1 + 2 + 4) * checkpoint + data)
    # 3 of the 6 training jobs in flight, each with 2 resume states of 3 model copies.
    assert plan.peak_bytes == pytest.approx(plan.final_bytes + 3 * 2 * 3 * checkpoint)


def test_temporary_target_checkpoints_leave_the_final_disk(config):
    config = copy.deepcopy(config)
    config["keep"] = {"target_checkpoints": False}  # the schema's default
    plan = build_plan(config, jobs_in_flight=3)
    checkpoint = 100_000_000 * 4
    data = 2050 * 100
    assert plan.final_bytes == pytest.approx(3 * checkpoint + data)
    # Up to 3 unscored target checkpoints at once, beside the resume states.
    assert plan.peak_bytes == pytest.approx(plan.final_bytes + 3 * checkpoint + 18 * checkpoint)


def test_lock_files_win_over_hints(config):
    lock = {
        "repo_id": "org/src",
        "files": [
            {"path": "README.md", "size": 10},
            {"path": "default/train/0000.parquet", "size": 60_000, "rows": 700},
            {"path": "default/train/0001.parquet", "size": 60_000, "rows": 500},
            {"path": "default/validation/0000.parquet", "size": 8_000, "rows": 80},
        ],
        "card": None,
    }
    plan = build_plan(config, {"org/src": lock}, jobs_in_flight=3)
    work = {w.rule: w for w in plan.workloads}
    assert work["train_source"].train_tokens == 2 * 1200 * 2 * 16
    assert plan.rows[("src", "en", "train")].origin == "lock file"
    assert plan.rows[("tgt", "en", "train")].origin.startswith("plan.rows")


def test_lock_rows_follow_the_card_and_join_splits():
    card = {
        "configs": [
            {
                "config_name": "plain",
                "data_files": [
                    {"split": "train_r1", "path": "plain/train_r1-*"},
                    {"split": "train_r2", "path": "plain/train_r2-*"},
                ],
            }
        ]
    }
    files = [
        {"path": "plain/train_r1-00000.parquet", "rows": 10},
        {"path": "plain/train_r2-00000.parquet", "rows": 5},
    ]
    assert lock_rows({"files": files, "card": card}, "plain", "train_r1+train_r2") == 15
    assert lock_rows({"files": files, "card": card}, "plain", "test") is None
    # Without the card, file and folder names decide.
    assert lock_rows({"files": files}, "plain", "train_r2") == 5
    assert lock_rows({"files": [{"path": "x/train/0.parquet"}]}, "x", "train") is None


def test_read_locks_takes_the_staged_card(tmp_path):
    folder = tmp_path / "datasets" / "org" / "src"
    folder.mkdir(parents=True)
    card = "---\nconfigs:\n- config_name: default\n  data_files:\n"
    card += "  - {split: train, path: d/t-*}\n---\n"
    (folder / "README.md").write_text(card)
    lock = {
        "repo_id": "org/src",
        "folder": str(folder),
        "files": [{"path": "d/t-0.parquet", "rows": 9}],
    }
    (tmp_path / "locks" / "datasets" / "org").mkdir(parents=True)
    (tmp_path / "locks" / "datasets" / "org" / "src.json").write_text(json.dumps(lock))
    locks = read_locks(tmp_path, ["org/src", "org/unstaged"])
    assert list(locks) == ["org/src"]
    assert lock_rows(locks["org/src"], None, "train") == 9  # only the card maps d/t-* to train


def test_flops_throughput_from_the_datasheet_peak():
    plan = {
        "device": "a100",
        "devices": {"a100": {"peak_tflops": 312, "source": "datasheet"}},
        "mfu": {"train": 0.5, "eval": 0.25, "source": "assumed"},
        "models": {"m": {"parameters": 100_000_000, "compute_parameters": 52_000_000}},
    }
    speed = model_throughput(plan, "m")
    assert speed.train["low"] == pytest.approx(312e12 * 0.5 / (6 * 52e6))  # 500,000 tokens/s
    assert speed.eval["high"] == pytest.approx(312e12 * 0.25 / (2 * 52e6))  # 750,000 tokens/s
    assert speed.step_seconds == {"low": 0.0, "high": 0.0}  # no bandwidth given: not counted
    assert not speed.measured  # one MFU, so one figure, but an assumed one
    assert any("datasheet" in c for c in speed.citations)


def test_missing_figures_are_all_named(config):
    config = copy.deepcopy(config)
    del config["plan"]["rows"]["tgt"]["test"]["de"]
    config["plan"]["models"] = {}
    with pytest.raises(PlanError, match=r"plan\.rows\.tgt\.test \(de\).*plan\.models\.m1"):
        build_plan(config)


def test_cli_writes_the_xtreme_plan(tmp_path, capsys):
    main(["--config", str(REPO / "config" / "xtreme.yaml"), "--results", str(tmp_path)])
    text = (tmp_path / "xtreme" / "plan.md").read_text()
    assert text in capsys.readouterr().out
    counts = expected_job_counts(load_workflow_config(REPO / "config" / "xtreme.yaml"))
    for rule, count in counts.items():
        if rule != "total":
            assert f"| {rule} | {count:,} |" in text
    assert f"| **total** | **{counts['total']:,}** |" in text
    assert "| train_target | xlmr-base | xnli | 33 |" in text
    assert "NVIDIA A100" in text  # the FLOPs estimate cites its peak


def test_cli_plans_the_demo_on_cpu(tmp_path):
    main(
        [
            "--config",
            str(REPO / "config" / "config.yaml"),
            "--results",
            str(tmp_path),
            "--jobs",
            "2",
        ]
    )
    text = (tmp_path / "demo" / "plan.md").read_text()
    assert "device `cpu`; 2 jobs in flight" in text
    assert "demo_benchmark sizes" in text and "measured" in text
    # The effect the grid can detect, stated before any job runs: 7 sources are simulated,
    # and more sources detect less.
    power = text.split("## Power")[1]
    rows = re.findall(r"^\| (\d+) [^|]*\| ([\d.]+) \| (\w+) \|$", power, re.MULTILINE)
    assert [(int(n), how) for n, _, how in rows] == [
        (7, "simulated"), (9, "simulated"), (12, "analytic"), (17, "analytic")
    ]  # fmt: skip
    effects = [float(value) for _, value, _ in rows]
    assert effects == sorted(effects, reverse=True) and 0.5 < effects[0] < 0.9


def test_the_plan_records_the_software_it_plans_with(config):
    from xltransfer.planning.markdown import render_markdown
    from xltransfer.results import package_versions, project_commit

    text = render_markdown(build_plan(config, jobs_in_flight=3), "config.yaml", "no profile")
    versions = package_versions()
    line = next(line for line in text.splitlines() if line.startswith("Software:"))
    for name in ("torch", "transformers", "accelerate"):
        assert f"{name} {versions[name]}" in line
    assert f"xltransfer commit {project_commit()}" in line
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if commit:  # a checkout (CI's is one): its HEAD, marked when files differ from it
        assert project_commit().split("+")[0] == commit


def test_a_staged_model_without_figures_is_counted_from_its_config(tiny_model_dir, tmp_path):
    from transformers import AutoModel

    from xltransfer.cli.plan import count_staged_models
    from xltransfer.planning.parameters import count_parameters

    model = AutoModel.from_pretrained(tiny_model_dir)
    total = sum(p.numel() for p in model.parameters())
    embedded = model.get_input_embeddings().weight.numel()
    assert count_parameters(tiny_model_dir) == (total, total - embedded)
    staged = tmp_path / "cache" / "models" / "xlt-test" / "tiny"
    shutil.copytree(tiny_model_dir, staged)
    config = {
        "experiment": {"models": ["hub", "given"]},
        "models": {"hub": {"path": "xlt-test/tiny"}, "given": {"path": "xlt-test/tiny"}},
        "plan": {"models": {"given": {"parameters": 5}}},
    }
    count_staged_models(config, tmp_path / "cache")
    assert config["plan"]["models"]["given"] == {"parameters": 5}  # the config's figure wins
    counted = config["plan"]["models"]["hub"]
    assert (counted["parameters"], counted["compute_parameters"]) == (total, total - embedded)
    assert counted["source"].endswith("xlt-test/tiny/config.json")
