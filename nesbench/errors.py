"""User-facing errors: one line naming the file and the fix, no traceback."""


class NesbenchError(Exception):
    """An error caused by input or environment; the CLI prints ``error: <message>`` and exits non-zero."""

    exit_code = 1


class ConfigError(NesbenchError):
    """A configuration file is missing, malformed or inconsistent."""


class DataError(NesbenchError):
    """Input data (images, json, predictions) is missing or malformed."""


class AssetError(NesbenchError):
    """A required asset (weights, FLAME, upstream checkout) is missing or wrong."""
