"""What a job carries as its identity: the values Snakemake compares with the last run's.

Snakemake reruns a job whose `params` differ from the ones it recorded, compared as `repr`
strings. So a job's params hold exactly what decides its output, in one canonical form: a
change elsewhere in the config (a language added to a task, a key moved, a comment) leaves
them equal and the job's finished output stands.
"""

from __future__ import annotations

from typing import Any

# The keys of a task entry that decide how one of its splits is read and standardised. The
# metric, taxonomy, hyperparameters and other languages decide nothing about a prepared split.
SPLIT_KEYS = ("dataset", "revision", "type", "architecture", "columns", "labels")


def canonical(value: Any) -> Any:
    """`value` with every mapping's keys sorted, at any depth (lists keep their order, which
    means something): two configs that differ only in key order give equal reprs."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def split_entry(entry: dict[str, Any], language: str, role: str) -> dict[str, Any]:
    """The part of a `tasks.<name>` entry that decides its (language, role) split: a task
    entry of its own that names only that language, config and split."""
    narrowed = {key: entry[key] for key in SPLIT_KEYS if entry.get(key) is not None}
    config_name = (entry.get("configs") or {}).get(language)
    if config_name is None and entry.get("config") is not None:
        config_name = entry["config"].format(lang=language)
    if config_name is not None:
        narrowed["configs"] = {language: config_name}
    narrowed["splits"] = {role: entry["splits"][role]}
    narrowed["languages"] = [language]
    rows = entry.get("language_rows")
    if rows:
        values = rows.get("values") or {}
        narrowed["language_rows"] = {
            "column": rows["column"],
            "match": rows.get("match", "equals"),
            "values": {language: values[language]} if language in values else {},
        }
    return canonical(narrowed)


def taskemb_fisher_options(similarity: dict[str, Any]) -> dict[str, Any]:
    """The fine-tuned TaskEmb settings that decide its vectors only in some configurations:
    the number of label draws where labels are sampled, the parameter components where any
    are asked for. Elsewhere they are left out, so that a grid's finished vectors stand."""
    options: dict[str, Any] = {}
    if similarity["taskemb_labels"] == "sampled":
        options["taskemb_label_draws"] = similarity["taskemb_label_draws"]
    if similarity["taskemb_parameters"]:
        options["taskemb_parameters"] = list(similarity["taskemb_parameters"])
    return options
