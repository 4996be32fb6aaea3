"""Exceptions that the CLI turns into one clear line and exit code 2."""

from __future__ import annotations

__all__ = ["KGZSLError", "ConfigError", "DataError"]


class KGZSLError(Exception):
    """A user's mistake (bad config, missing file, malformed input).

    The CLI prints ``str(error)`` on one line and exits with code 2, never a traceback.
    """


class ConfigError(KGZSLError, ValueError):
    """An experiment config or a component's parameters are wrong."""


class DataError(KGZSLError, ValueError):
    """An input file is missing, empty or malformed."""
