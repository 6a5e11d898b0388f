"""Name -> factory registries with lazy imports.

Built-in entries are declared as ``"module.path:attribute"`` strings, so
``import cogmodels`` imports no model code; the module is imported the first
time the name is created.  User code can register callables eagerly::

    from cogmodels.backbones import BACKBONES

    @BACKBONES.register("my_net")
    class MyNet: ...
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable

from cogmodels.errors import RegistryError


class Registry:
    """A registry of one kind of object (``"backbone"``, ``"encoder"``, ...).

    Parameters
    ----------
    kind : str
        Human-readable kind, used in error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., Any] | str] = {}

    def register(self, name: str, target: Callable[..., Any] | str | None = None):
        """Register ``target`` under ``name``; usable as a decorator.

        ``target`` is a callable, or a ``"module:attr"`` string imported lazily.
        """
        if target is None:
            def decorator(obj):
                self._add(name, obj)
                return obj
            return decorator
        self._add(name, target)
        return target

    def _add(self, name: str, target) -> None:
        existing = self._entries.get(name)
        if existing is not None and existing is not target and not isinstance(existing, str):
            raise RegistryError(f"{self.kind} {name!r} is already registered to {existing!r}")
        self._entries[name] = target

    def list(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered under ``name`` (importing it if needed)."""
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{hint} Registered {self.kind}s: {', '.join(self.list())}."
            )
        target = self._entries[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = target
        return target

    def create(self, name: str, **params) -> Any:
        """Instantiate the entry registered under ``name`` with ``params``."""
        return self.get(name)(**params)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.list()})"
