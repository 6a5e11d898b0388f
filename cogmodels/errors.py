"""Typed errors.

Every error raised on bad input says *where* (file or field), *what was
expected*, *what was found* and *how to fix it*.  Use :func:`format_problem`
to build such messages so they read the same everywhere.
"""

from __future__ import annotations


class CogModelsError(Exception):
    """Base class of every error raised by cogmodels."""


class DataFormatError(CogModelsError, ValueError):
    """A file or array does not have the expected layout, dtype or values."""


class ShapeError(CogModelsError, ValueError):
    """An array has the wrong rank or a dimension that does not match."""


class ConfigError(CogModelsError, ValueError):
    """A configuration value is missing, unknown or inconsistent."""


class WeightsUnavailableError(CogModelsError, RuntimeError):
    """Pretrained weights were requested but cannot be obtained (e.g. offline)."""


class NotFittedError(CogModelsError, AttributeError):
    """A model method that needs ``fit`` was called before ``fit``."""


class RegistryError(CogModelsError, KeyError):
    """An unknown name was asked of a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


def format_problem(where: str, expected: str, found: str, fix: str | None = None) -> str:
    """Build the standard error message.

    >>> format_problem("responses.npy", "float32 array", "int64 array", "cast it")
    'responses.npy: expected float32 array, found int64 array. Fix: cast it.'
    """
    message = f"{where}: expected {expected}, found {found}."
    if fix:
        message += f" Fix: {fix.rstrip('.')}."
    return message
