"""Schema validation of the merged config, with a short message naming the failing key.

Snakemake's `validate` fills in the schema's defaults, but its error prints the failing value
and the whole sub-schema: thousands of lines for a misspelt top-level key. The message here
is one line: the key's path, what is wrong and, for an unknown key, the nearest known one.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from xltransfer.names import ALPHABET


class ConfigSchemaError(ValueError):
    """A config value the schema refuses; the message names the key."""


def _descendants(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    return [e for child in error.context for e in (child, *_descendants(child))]


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        prefix = "" if where == "(top level)" else f"{where}."
        return (
            f"{prefix}{unknown[0] if len(unknown) == 1 else unknown}: unknown key "
            f"{', '.join(hints)}; known keys here: {', '.join(known)}"
        )
    if error.validator == "not" and isinstance(error.instance, dict):
        # The schema's `not: {anyOf: [{required: [key]}, ...]}`: keys that may not appear here.
        barred = [
            key
            for option in error.validator_value.get("anyOf", [])
            for key in option.get("required", [])
        ]
        given = [key for key in barred if key in error.instance]
        if given:
            return (
                f"{where}: {', '.join(given)} may not be given together with the other keys "
                f"here (a published-results run reads its table and trains nothing: drop "
                f"{', '.join(given)}, or drop published)"
            )
    options = error.validator_value if error.validator == "oneOf" else []
    choices = [option["required"] for option in options if list(option) == ["required"]]
    if choices and len(choices) == len(options) and isinstance(error.instance, dict):
        # The schema's `oneOf: [{required: [a]}, {required: [b]}]`: exactly one of the keys.
        keys = [key for required in choices for key in required]
        given = [key for key in keys if key in error.instance]
        return (
            f"{where}: give exactly one of {' or '.join(keys)} "
            f"(given: {', '.join(given) if given else 'neither'})"
        )
    if error.validator in ("oneOf", "anyOf") and error.context:
        tried = "; ".join(dict.fromkeys(child.message for child in error.context))
        return f"{where}: {error.instance!r} fits none of the allowed forms ({tried})"[:400]
    if error.validator == "pattern":
        return f"{where}: {error.instance!r} may only use {ALPHABET}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {error.validator_value}"
    message = error.message
    if len(message) > 300:  # a long instance repr, e.g. a whole mapping
        message = f"{message[:300]}..."
    return f"{where}: {message}"


def schema_problems(config: dict[str, Any], schema_file: Path | str) -> list[str]:
    """One short message per schema error of `config`, most relevant first (at most five)."""
    schema = yaml.safe_load(Path(schema_file).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(config))
    if not errors:
        return []
    best = jsonschema.exceptions.best_match(errors)
    # An unknown key first: a misspelt one also makes the key it meant "required".
    # best_match may pick a subschema's error of a oneOf/anyOf: its parent says no more.
    others = [
        error
        for error in errors
        if error is not best and not (error.context and best in _descendants(error))
    ]
    ordered = sorted(
        [best, *others],
        key=lambda error: error.validator != "additionalProperties",
    )
    return [_describe(error) for error in ordered[:5]]


def validate_config(config: dict[str, Any], schema_file: Path | str) -> None:
    """Validate `config` against the schema, filling in its defaults (Snakemake's `validate`);
    ConfigSchemaError with short messages instead of Snakemake's schema dump."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, schema=str(schema_file))
    except WorkflowError:
        problems = schema_problems(config, schema_file) or ["the config does not match the schema"]
        raise ConfigSchemaError("\n".join(problems)) from None
