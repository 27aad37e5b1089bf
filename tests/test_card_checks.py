"""A staged dataset card's configs and ClassLabel names, checked against the grid at the DAG."""

from __future__ import annotations

import shutil

import pytest
import yaml
from hub_fixtures import xnli
from test_identity import XNLI

from xltransfer.data.card_checks import card_problems, check_staged_cards
from xltransfer.data.dataset_files import CARD, read_card
from xltransfer.data.tasks import TaskSpec
from xltransfer.errors import ConfigError

# test_identity's XNLI entry (facebook/xnli, config per language, its three labels).
ENTRY = XNLI


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    repo = xnli(tmp_path_factory.mktemp("xnli") / "xnli")
    return read_card((repo / CARD).read_text())


def test_a_card_that_agrees_has_nothing_to_say(card):
    assert card_problems(TaskSpec.from_config("xnli", ENTRY), ["en", "de", "sw"], card) == []


def test_a_language_without_its_config_is_named(card):
    task = TaskSpec.from_config("xnli", ENTRY)
    assert card_problems(task, ["en", "fr"], card) == [
        "tasks.xnli.languages: 'fr' reads config 'fr', which 'facebook/xnli' does not have "
        "(its card declares 3: en, de, sw)"
    ]


def test_labels_in_another_order_are_named(card):
    task = TaskSpec.from_config(
        "xnli", {**ENTRY, "labels": ["entailment", "contradiction", "neutral"]}
    )
    problem, other = card_problems(task, ["en", "de"], card)  # one per config
    assert "config 'de' names its ClassLabel" in other
    assert problem == (
        "tasks.xnli.labels: ['entailment', 'contradiction', 'neutral'], but 'facebook/xnli' "
        "config 'en' names its ClassLabel ['entailment', 'neutral', 'contradiction'] (names and "
        "order must match)"
    )


def test_the_dag_check_reads_staged_cards_only(card, tmp_path):
    registry = {"xnli": TaskSpec.from_config("xnli", ENTRY)}
    needs = [("xnli", "en", "train"), ("xnli", "fr", "test")]
    check_staged_cards(needs, registry, tmp_path / "cache")  # not staged yet: its jobs check
    staged = tmp_path / "cache" / "datasets" / "facebook" / "xnli"
    staged.mkdir(parents=True)
    (staged / CARD).write_text("---\n" + yaml.safe_dump(card) + "---\n")
    with pytest.raises(ConfigError, match="'fr' reads config 'fr', which 'facebook/xnli'"):
        check_staged_cards(needs, registry, tmp_path / "cache")
    shutil.rmtree(staged)
