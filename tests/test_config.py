"""Config validation: schema errors and cross-checks name the bad key; grid arithmetic."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from xltransfer.config import (
    ConfigError,
    Grid,
    check_config,
    check_paths,
    job_hyperparameters,
    stage_hyperparameters,
)

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config() -> dict:
    loaded = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(loaded, str(SCHEMA))  # fills the schema's defaults, as the workflow does
    return loaded


def test_default_config_is_valid(config):
    check_config(config)
    assert config["training"]["target"]["global_batch_size"] == 32  # a schema default


def test_misspelt_key_is_named_by_the_schema(config):
    bad = copy.deepcopy(config)
    bad["training"]["source"]["learning_rat"] = 1e-4
    with pytest.raises(WorkflowError, match="learning_rat"):
        validate(bad, str(SCHEMA))


def test_unknown_metric_is_rejected_by_the_schema(config):
    bad = copy.deepcopy(config)
    bad["tasks"]["xnli"]["metric"] = "acuracy"
    with pytest.raises(WorkflowError, match="acuracy"):
        validate(bad, str(SCHEMA))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("experiment", "sources"), ["mnli", "qqqp"], r"experiment.sources: unknown task 'qqqp'"),
        (("experiment", "models"), ["tiny-xlmrr"], r"experiment.models: unknown model"),
        (("experiment", "targets"), ["xnlii"], r"experiment.targets: unknown task 'xnlii'"),
        (
            ("experiment", "target_languages"),
            {"xnli": ["en", "klingon"]},
            r"experiment.target_languages.xnli: language 'klingon'",
        ),
        (("tasks", "xnli", "metric"), "pearson", r"tasks.xnli.metric: 'pearson' does not fit"),
        (("experiment", "source_language"), "de", r"tasks.mnli.languages: the source language"),
        (("experiment", "seeds"), [1, 1], r"experiment.seeds: duplicate"),
    ],
)
def test_cross_checks_name_the_key(config, path, value, message):
    bad = copy.deepcopy(config)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        check_config(bad)


def test_parameter_components_need_the_reference_estimator(config):
    bad = copy.deepcopy(config)
    bad["similarity"] |= {
        "taskemb_parameters": ["classifier.*"],
        "taskemb_estimator": "per_example",
    }
    with pytest.raises(ConfigError, match=r"similarity.taskemb_parameters: .* taskemb_estimator"):
        check_config(bad)
    bad["similarity"]["taskemb_estimator"] = "batch"
    check_config(bad)


def test_shell_text_cannot_become_a_name(config):
    bad = copy.deepcopy(config)
    bad["models"]["x; rm -rf ~"] = {"path": "org/model"}
    with pytest.raises(WorkflowError):
        validate(bad, str(SCHEMA))
    with pytest.raises(ConfigError, match="models.x; rm -rf ~"):
        check_config(bad)


def test_grid_job_counts(config):
    grid = Grid.from_config(config)
    counts = grid.job_counts()
    # 7 sources; 8 runs per target incl. the baseline; 5 targets; 1 model; 1 seed.
    assert counts["train_source"] == 7
    assert counts["train_target"] == 8 * 5
    assert counts["evaluate"] == 8 * 5  # all languages in one shard
    # (7 sources + 4 targets with their own training data) x (train, dev) in English, xquad
    # reading squad's, + 5 targets x 6 test languages.
    assert counts["prepare_data"] == 11 * 2 + 5 * 6
    assert grid.train_data["xquad"] == "squad" and grid.train_data["panx"] == "panx"
    assert ("xquad", "en", "train") not in grid.data_needs()
    assert ("xquad", "en", "test") in grid.data_needs()


def test_train_task_must_exist_and_match_the_target(config):
    def broken(change) -> dict:
        bad = copy.deepcopy(config)
        change(bad["tasks"])
        return bad

    cases = [
        (lambda t: t["xquad"].update(train_task="squadd"), r"tasks.xquad.train_task: unknown task"),
        (
            lambda t: t["xquad"].update(train_task="panx"),
            r"tasks.xquad.train_task: 'panx' is a token_classification task",
        ),
        (
            lambda t: t["panx"].update(train_task="conll2003"),
            r"tasks.panx.train_task: 'conll2003' .* labels .*B-MISC",
        ),
        (lambda t: t["squad"].update(train_task="xquad"), r"tasks.squad.train_task: 'xquad' must"),
        (lambda t: t["xquad"].pop("train_task"), r"tasks.xquad.splits: no \['train', 'dev'\]"),
    ]
    for change, message in cases:
        bad = broken(change)
        validate(bad, str(SCHEMA))
        with pytest.raises(ConfigError, match=message):
            check_config(bad)


def test_language_shards(config):
    config["experiment"]["languages_per_job"] = 4
    grid = Grid.from_config(config)
    assert grid.shards("xnli") == [("en", "ov100", "ov60", "ov30"), ("ov0", "cy0")]
    assert grid.job_counts()["evaluate"] == 8 * 5 * 2
    with pytest.raises(ConfigError, match="2 language shards"):
        grid.shard_languages("xnli", 2)


def test_qa_windows_must_overlap_by_less_than_half(config):
    bad = copy.deepcopy(config)
    check_config(bad)  # the default stride, 16, fits the demo's max_length of 64
    bad["training"]["source"].update(max_length=64, doc_stride=32)
    with pytest.raises(ConfigError, match=r"training.source.doc_stride: 32 must be below half"):
        check_config(bad)
    bad["training"]["source"].update(max_length=64, doc_stride=16)
    bad["tasks"]["squad"]["hyperparameters"] = {"max_length": 384, "doc_stride": 200}
    with pytest.raises(ConfigError, match=r"tasks.squad.hyperparameters.doc_stride: 200 must"):
        check_config(bad)


def test_job_hyperparameters_take_task_then_model_overrides(config):
    config["tasks"]["mnli"]["hyperparameters"] = {"max_length": 256, "learning_rate": 3e-5}
    config["models"]["tiny-xlmr"]["hyperparameters"] = {"learning_rate": 1e-5}
    validate(config, str(SCHEMA))
    hp = stage_hyperparameters(config, "source", "mnli", "tiny-xlmr")
    assert (hp["max_length"], hp["learning_rate"], hp["epochs"]) == (256, 1e-5, 3)
    # Overrides carry no schema defaults: the stage's values stay where they are not named.
    assert set(config["tasks"]["mnli"]["hyperparameters"]) == {"max_length", "learning_rate"}
    assert stage_hyperparameters(config, "target", "xnli", "tiny-xlmr")["max_length"] == 64


def test_override_values_are_type_checked_by_the_schema(config):
    config["tasks"]["mnli"]["hyperparameters"] = {"max_lenght": 256}
    with pytest.raises(WorkflowError, match="max_lenght"):
        validate(config, str(SCHEMA))
    config["tasks"]["mnli"]["hyperparameters"] = {"epochs": 0}
    with pytest.raises(WorkflowError, match="minimum"):
        validate(config, str(SCHEMA))


def test_language_rows_values_name_task_languages(config):
    config["tasks"]["xnli"]["language_rows"] = {"column": "language", "values": {"xx": "x"}}
    validate(config, str(SCHEMA))
    with pytest.raises(ConfigError, match=r"tasks.xnli.language_rows.values: \['xx'\]"):
        check_config(config)


def xtreme_config() -> dict:
    loaded = yaml.safe_load((REPO / "config" / "xtreme.yaml").read_text())
    validate(loaded, str(SCHEMA))
    return loaded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (  # 32 over 12 per device on the default single process
            lambda c: c["training"]["source"].update(per_device_batch_size=12),
            r"training.source.global_batch_size: 32 is not a multiple of "
            r"training.source.per_device_batch_size 12 x 1 process\(es\) "
            r"\(resources.train.gpu: 0\) = 12 \(rule train_source: mnli on tiny-xlmr\); "
            r"use a multiple of 12, e.g. 24 or 36",
        ),
        (  # a model's override is named as the key at fault, and targets are checked too
            lambda c: c["models"]["tiny-xlmr"].update(hyperparameters={"global_batch_size": 20}),
            r"models.tiny-xlmr.hyperparameters.global_batch_size: 20 is not a multiple of "
            r"training.source.per_device_batch_size 32 .* e.g. 32,",
        ),
        (  # 3 GPUs of 32 each cannot make a global batch of 32
            lambda c: c["resources"]["train"].update(gpu=3),
            r"training.source.global_batch_size: 32 is not a multiple of .* x 3 process\(es\) "
            r"\(resources.train.gpu: 3\) = 96 .* e.g. 96,",
        ),
        (
            lambda c: c["training"]["target"].update(mixed_precision="fp16"),
            r"training.target.mixed_precision: fp16 needs a GPU, but resources.train.gpu is 0 "
            r"\(rule train_target: xnli on tiny-xlmr\)",
        ),
        (
            lambda c: (
                c["resources"]["train"].update(gpu=1),
                c["training"].update(gpu_bf16=False),
                c["tasks"]["xnli"].update(hyperparameters={"mixed_precision": "bf16"}),
            ),
            r"tasks.xnli.hyperparameters.mixed_precision: bf16, but training.gpu_bf16 is false",
        ),
    ],
    ids=["per-device", "model-override", "gpus", "fp16-on-cpu", "bf16-without-bf16"],
)
def test_training_jobs_are_checked_before_any_gpu_is_spent(config, change, message):
    bad = copy.deepcopy(config)
    change(bad)
    validate(bad, str(SCHEMA))
    with pytest.raises(ConfigError, match=message):
        check_config(bad)


def test_every_xtreme_training_rule_has_even_batches_on_its_gpus():
    config = xtreme_config()
    check_config(config)  # 32 = 16 per device x 1 GPU (x 2 accumulation)
    config["resources"]["train"]["gpu"] = 2
    check_config(config)  # 16 x 2 GPUs, no accumulation
    config["resources"]["train"]["gpu"] = 4
    with pytest.raises(ConfigError, match=r"x 4 process\(es\) \(resources.train.gpu: 4\) = 64"):
        check_config(config)


def test_auto_precision_is_fixed_per_model_from_config(config):
    # The demo's CPU jobs train in full precision, as they always did.
    assert {
        job_hyperparameters(config, stage, task, "tiny-xlmr")["mixed_precision"]
        for stage, task in (("source", "mnli"), ("target", "xnli"))
    } == {"no"}
    xtreme = xtreme_config()
    assert xtreme["training"]["gpu_bf16"] is True
    for stage, task in (("source", "mnli"), ("target", "xnli"), ("target", "panx")):
        assert job_hyperparameters(xtreme, stage, task, "xlmr-base")["mixed_precision"] == "bf16"
    xtreme["training"]["gpu_bf16"] = False  # V100s: auto becomes full precision everywhere
    assert job_hyperparameters(xtreme, "target", "xnli", "xlmr-base")["mixed_precision"] == "no"
    # mT5 asks for bf16 itself, which gpu_bf16 false then refuses at DAG build.
    with pytest.raises(ConfigError, match=r"models.mt5-base.hyperparameters.mixed_precision: bf16"):
        check_config(xtreme)
    # The stage's own value is kept for everything else that reads it (evaluation settings).
    assert stage_hyperparameters(xtreme, "target", "xnli", "xlmr-base")["mixed_precision"] == "auto"


def test_paths_the_jobs_read_are_checked_at_dag_build(config, tmp_path):
    check_paths(config, REPO)  # config/accelerate.yaml; the demo model is built, not read
    bad = copy.deepcopy(config)
    bad["accelerate_config"] = "config/accelerat.yaml"
    with pytest.raises(
        ConfigError,
        match=r"accelerate_config: no file 'config/accelerat.yaml' \(.*config/accelerat.yaml\)",
    ):
        check_paths(bad, REPO)

    folder = tmp_path / "my-encoder"
    local = copy.deepcopy(config)
    local["models"]["tiny-xlmr"] = {"path": str(folder)}
    validate(local, str(SCHEMA))
    with pytest.raises(
        ConfigError,
        match=rf"models.tiny-xlmr.path: '{folder}' is a local folder .* {folder} does not exist",
    ):
        check_paths(local, REPO)
    folder.mkdir()
    with pytest.raises(
        ConfigError, match=rf"models.tiny-xlmr.path: .* {folder} holds no config.json"
    ):
        check_paths(local, REPO)
    (folder / "config.json").write_text("{}")
    check_paths(local, REPO)
    local["models"]["tiny-xlmr"] = {"path": "FacebookAI/xlm-roberta-base"}  # a Hub id: not read
    check_paths(local, REPO)
