"""The config files a run was given, read strictly before Snakemake's merged view is used.

Snakemake's YAML loader keeps the last of two equal keys, so a task defined twice in one file
silently loses its first definition; and a file holding `{}` or nothing would make the run fall
back to the demo. Both are refused here, naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

import yaml


class ConfigFileError(ValueError):
    """A config file that parses but cannot be what its author meant; names file and line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor`: its keys may be overridden here, as YAML intends
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigFileError(
                f"{key_node.start_mark.name}:{line}: key {key!r} is given twice in one mapping "
                f"(first on line {seen[key]}); YAML would keep only the last"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_config_file(path: Path | str) -> dict:
    """The mapping in `path`; ConfigFileError for duplicate keys, invalid YAML or an empty file."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as stream:
            value = yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigFileError(f"{where}: not valid YAML ({error.problem})") from None
    except UnicodeDecodeError as error:
        raise ConfigFileError(
            f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}); save the config file as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigFileError(f"{path}: cannot read the config file ({error.strerror})") from None
    if not value:
        raise ConfigFileError(
            f"{path}: the config file is empty; give the keys that differ from the defaults "
            "(config/config.yaml is the embedded demo, run without --configfile)"
        )
    if not isinstance(value, dict):
        raise ConfigFileError(
            f"{path}: a config file holds a mapping of keys, not a {type(value).__name__}"
        )
    return value


def check_config_files(paths: list[str | Path]) -> None:
    """Read each config file given on the command line strictly (see `read_config_file`)."""
    for path in paths:
        read_config_file(path)


def main(argv: list[str] | None = None) -> int:
    """`python -m xltransfer.config_files FILE...`: the strict check, before Snakemake reads
    the files (its own loader names neither file nor line of invalid YAML)."""
    import sys

    try:
        check_config_files(sys.argv[1:] if argv is None else argv)
    except ConfigFileError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
