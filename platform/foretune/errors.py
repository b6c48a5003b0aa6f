"""The errors foretune raises for problems a user can fix, one type per boundary.

Every one derives from ``ForetuneError``: the CLI prints such an error as one line and exits 2;
anything else is a bug and shows its traceback. Each also derives from ``ValueError`` (or
``RuntimeError``), so callers that caught the built-in types keep working.

    ConfigError    a configuration value or command-line flag
    DataError      input data: a column, a series, a row
    ArtifactError  a saved ensemble directory that cannot be trusted or used
    EnsembleError  a sweep that produced nothing an ensemble can be built from
    ExplainError   an explanation request that cannot be met
    StorageError   a location (s3://, gs://, ...) that cannot be opened, read or written
"""

from __future__ import annotations


class ForetuneError(Exception):
    """A problem the user can fix; its message says what to change."""


class ConfigError(ForetuneError, ValueError):
    """A configuration value a user has to change."""


class DataError(ForetuneError, ValueError):
    """Input data a user has to fix."""


class ArtifactError(ForetuneError, ValueError):
    """An artifact directory that cannot be trusted or used."""


class EnsembleError(ForetuneError, RuntimeError):
    """The sweep produced nothing an ensemble can be built from."""


class ExplainError(ForetuneError, ValueError):
    """An explanation that cannot be computed as asked."""


class StorageError(ConfigError):
    """A run directory or data location that cannot be used: an unknown URI scheme, a missing
    bucket, no credentials, no permission."""
