"""The package's own exception types.

Every error a user can cause (a bad problem file, an unknown name, a diverging run, a missing
data file) ends in one of these, with the file, the field and what was expected, so that the
CLI can print one line and exit with code 2 instead of a traceback from deep inside.
"""
from __future__ import annotations


class SpikePDEError(Exception):
    """Base class of every error raised on purpose by spikepde."""


class SpecError(SpikePDEError, ValueError):
    """A problem specification (file or dict) is invalid.

    The message names the file, the field (a dotted path such as ``conditions[1].value``) and
    what was expected.
    """

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        self.reason = message
        where = []
        if file:
            where.append(str(file))
        if field:
            where.append(f"field '{field}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownProblemError(SpikePDEError, KeyError):
    """A problem name is neither in the catalogue nor an existing file."""

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = list(available)
        super().__init__(name)

    def __str__(self) -> str:  # KeyError would quote the whole message otherwise
        return (f"unknown problem '{self.name}'. The catalogue has: {', '.join(self.available)}"
                " (or give the path of a .toml problem file)")


class DivergenceError(SpikePDEError, FloatingPointError):
    """Training produced NaN or Inf; the last good checkpoint was kept."""


class ConfigurationError(SpikePDEError, ValueError):
    """A run's settings cannot work here: it would need more memory than allowed, or a linear
    system it must solve is singular or too ill-conditioned. The message names the setting to
    change (and its current value)."""


class DataError(SpikePDEError, FileNotFoundError):
    """A data set's files are missing or malformed."""


class CheckpointError(SpikePDEError):
    """A checkpoint or run directory cannot be used (missing, corrupt or incompatible)."""
