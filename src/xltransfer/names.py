"""The one rule for names (run, model, task, language, published rows).

Names become path segments, wildcard values and shell words, so they keep to a safe alphabet,
checked on the whole string: a pattern ending in `$` would also accept a final newline, which a
YAML block scalar (`run: |`) puts there, and the newline then splits a shell line.
"""

from __future__ import annotations

import re

# `\Z` (not `$`): the end of the string, never "before a final newline". The config schema's
# `definitions.name.pattern` is this same text (tests/test_names.py holds them equal).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z"
ALPHABET = "letters, digits, '_', '.' and '-', starting with a letter or digit"
_NAME = re.compile(NAME_PATTERN)


def is_safe_name(name: object) -> bool:
    """Whether `name` is a string of the safe alphabet, whole."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def name_problem(key: str, name: object) -> str | None:
    """A short message naming `key` when `name` is not a safe name, else None."""
    if is_safe_name(name):
        return None
    return (
        f"{key}: name {name!r} may only use {ALPHABET} (it becomes a path segment and a shell word)"
    )
