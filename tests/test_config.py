"""Config validation: schema errors and cross-checks name the bad key; grid arithmetic."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from xltransfer.config import ConfigError, Grid, check_config, stage_hyperparameters

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
