"""Errors of the loader. Each message says what to fix: the setting, the file or the value.

`LoaderError` is the root; the CLI prints its message without a traceback. `terminal` tells a
runner whether retrying the same input can help (it cannot for a broken contract).
"""

from __future__ import annotations


class LoaderError(Exception):
    """Root of target-iceberg's errors; the message is meant for the user."""

    terminal: bool = True


class ConfigError(LoaderError):
    """A setting is missing or invalid; the message names the setting and the valid values."""


class ContractError(LoaderError):
    """The asset spec or a Singer SCHEMA cannot be turned into a table contract."""


class EvolutionError(LoaderError):
    """The table's schema cannot legally become the contract's schema; nothing was written."""


class RejectThresholdError(LoaderError):
    """Too many records broke the contract; the run failed and nothing was committed."""


class CommitError(LoaderError):
    """The catalog refused the commit (e.g. a concurrent change); re-running is safe."""

    terminal = False
