"""One rule for names: the schema's pattern and xltransfer.names agree, on the whole string."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from xltransfer.names import NAME_PATTERN, is_safe_name, name_problem

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
NAME_SCHEMA = yaml.safe_load(SCHEMA.read_text())["definitions"]["name"]

BAD = [
    "demo\n",  # `$` would accept it: a YAML block scalar (`run: |`) ends in a newline
    "\ndemo",
    "my run",
    "demo ",
    "a/b",
    "../x",
    "x;touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "-rf",
    ".hidden",
    "..",
    "tâche",
    "a\tb",
    "",
]
GOOD = ["demo", "tiny-xlmr", "xlm-roberta.base_v2", "run.v1-a_b", "7", "en"]


def test_the_schema_uses_the_one_pattern():
    assert NAME_SCHEMA == {"type": "string", "pattern": NAME_PATTERN}


@pytest.mark.parametrize("name", BAD, ids=repr)
def test_a_bad_name_is_refused_by_the_schema_and_the_checks(name):
    assert not jsonschema.Draft202012Validator(NAME_SCHEMA).is_valid(name)
    assert not is_safe_name(name)
    assert repr(name) in name_problem("run", name)


@pytest.mark.parametrize("name", GOOD)
def test_a_good_name_passes_both(name):
    assert jsonschema.Draft202012Validator(NAME_SCHEMA).is_valid(name)
    assert is_safe_name(name) and name_problem("run", name) is None


@pytest.mark.parametrize("value", [None, 3, ["demo"]])
def test_a_name_must_be_a_string(value):
    assert not is_safe_name(value)
    assert name_problem("models.x", value).startswith("models.x: name")
