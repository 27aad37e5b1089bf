"""The error every configuration check raises, importable from any layer without a cycle."""


class ConfigError(ValueError):
    """A config value that is well-formed but inconsistent; the message names the key."""
