"""Transliteration of Latin demo words into Cyrillic letters."""

from __future__ import annotations

# One Cyrillic letter (or pair) per Latin letter; only lowercase letters occur in the demo.
_LATIN_TO_CYRILLIC: dict[str, str] = {
    "a": "а", "b": "б", "c": "ц", "d": "д", "e": "е", "f": "ф", "g": "г",
    "h": "х", "i": "и", "j": "й", "k": "к", "l": "л", "m": "м", "n": "н",
    "o": "о", "p": "п", "q": "кв", "r": "р", "s": "с", "t": "т", "u": "у",
    "v": "в", "w": "ў", "x": "кс", "y": "ы", "z": "з",
}  # fmt: skip

SCRIPTS: tuple[str, ...] = ("latin", "cyrillic")


def to_script(word: str, script: str) -> str:
    """Write a lowercase Latin word in the given script."""
    if script == "latin":
        return word
    if script == "cyrillic":
        return "".join(_LATIN_TO_CYRILLIC.get(ch, ch) for ch in word)
    raise ValueError(f"unknown script {script!r}; expected one of {SCRIPTS}")
