"""Checks of encoder constructor parameters, shared by every encoder's ``validate_params``.

Each check raises a :class:`~cogmodels.errors.ConfigError` whose message names the
config field (``encoder.<name>``, the key a Hydra override uses), what was expected,
what was found and the fix, for example::

    encoder.alphas: expected finite alphas > 0 (a non-empty 1-D list), found 0 (alphas[0] of [0. 1.]).
    Fix: use e.g. alphas=[0.01, 1, 100]; alpha=0 is unregularised least squares.

The checks only read the value; they never convert or store it (``__init__`` stores
parameters as given, sklearn-style).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from cogmodels.errors import ConfigError, format_problem


def param_error(name: str, expected: str, found: str, fix: str) -> ConfigError:
    """The ConfigError of a bad value of constructor parameter ``name``."""
    return ConfigError(format_problem(f"encoder.{name}", expected, found, fix))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value, *, low: int = 1, allow_none: bool = False, fix: str | None = None) -> None:
    """``value`` is an integer >= ``low`` (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if not _is_int(value) or value < low:
        expected = f"an integer >= {low}" + (" or null" if allow_none else "")
        raise param_error(name, expected, f"{value!r} ({type(value).__name__})", fix or f"set {name} to e.g. {max(low, 1)}")


def check_float(name: str, value, *, low: float | None = None, high: float | None = None, low_open: bool = False,
                high_open: bool = False, fix: str | None = None) -> None:
    """``value`` is a finite real number in the given range (bounds inclusive unless ``*_open``)."""
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    expected = "a finite number" + (f" {' and '.join(bounds)}" if bounds else "")
    ok = (_is_int(value) or isinstance(value, (float, np.floating))) and math.isfinite(float(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise param_error(name, expected, f"{value!r}", fix or f"set {name} to a number {' and '.join(bounds)}")


def check_bool(name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise param_error(name, "true or false", f"{value!r} ({type(value).__name__})", f"set {name}=true or false")


def check_choice(name: str, value, choices: Sequence) -> None:
    if not isinstance(value, str) or value not in choices:
        raise param_error(name, f"one of {tuple(choices)}", repr(value), f"pick one of {tuple(choices)}")


def check_seed(name: str, value) -> None:
    """A seed: a non-negative int or a numpy Generator."""
    if isinstance(value, np.random.Generator):
        return
    check_int(name, value, low=0, fix=f"set {name} to a non-negative integer, e.g. 0")


def check_str_list(name: str, value, *, allow_none: bool = False) -> None:
    """A list/tuple of non-empty strings (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if isinstance(value, str) or not isinstance(value, Sequence) or \
            not all(isinstance(v, str) and v for v in value):
        raise param_error(name, "a list of names" + (" or null" if allow_none else ""), repr(value),
                          f"pass e.g. {name}=[\"name\"]" + (" or null" if allow_none else " or []"))


def check_mapping_or_choice(name: str, value, choices: Sequence) -> None:
    """One of ``choices``, or a dict whose values are all in ``choices``."""
    values = list(value.values()) if isinstance(value, Mapping) else [value]
    if not values or any(not isinstance(v, str) or v not in choices for v in values):
        raise param_error(name, f"one of {tuple(choices)} or a dict {{roi: mode}}", repr(value),
                          "pick how queries are assigned to channels")
