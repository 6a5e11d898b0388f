"""Name -> factory registries: registered where defined, discovered on first use, open to plugins.

A name is registered next to its definition, with the family's decorator::

    from cogmodels.backbones import BACKBONES

    @BACKBONES.register("my_net", example={"width": 8})
    class MyNet(Backbone):
        \"\"\"A tiny network (first docstring line = the description in ``cogmodels list``).\"\"\"

Three ways into a registry:

- **Discovery.**  A registry made with ``package=`` imports every module of that
  package's folder (names starting with ``_`` are skipped) on the first
  ``list`` / ``get`` / ``create`` / ``in``, so a decorator in a new file is found
  with no other edit.  ``import cogmodels`` itself imports no model code.
- **Entry points.**  A registry made with ``entry_point_group=`` lists the
  entry points of that group (``importlib.metadata``) next to the built-ins.  An
  entry point's value is a factory (a class or a function) called with the same
  parameters as a built-in; it is imported only when it is created or described.
- **Lazy strings.**  ``register(name, "module.path:attribute")`` imports the
  module only when the name is created (used by the runner's task table).

``example`` holds a small, fast configuration for the conformance tests: a dict of
constructor parameters for models and backbones; for datasets a function
``write_example(root: pathlib.Path) -> dict`` that writes a tiny copy of the release
layout under ``root`` (or nothing, for simulators) and returns the options of ``load``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from cogmodels.errors import RegistryError, format_problem

#: Entry-point groups of the public API, one per family.
ENTRY_POINT_GROUPS = ("cogmodels.backbones", "cogmodels.encoders", "cogmodels.scanpaths", "cogmodels.search",
                      "cogmodels.datasets")

_REGISTRIES: list["Registry"] = []


@dataclass
class Entry:
    """One registered name.

    Attributes
    ----------
    name : str
    target : callable, str or importlib.metadata.EntryPoint
        The factory; a ``"module:attr"`` string or an entry point until first use.
    example : dict, callable or None
        The small configuration of the conformance tests (see the module docstring).
    description : str or None
        One line; None until known (read from the factory's docstring on demand).
    origin : str
        ``"builtin"`` or ``"plugin <distribution>"``.
    """

    name: str
    target: Any
    example: Any = None
    description: str | None = None
    origin: str = "builtin"
    _loaded: bool = field(default=False, repr=False)


def first_line(text) -> str:
    """The first non-empty line of a docstring or description, stripped ("" for None)."""
    for line in str(text or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _qualified(target) -> str:
    """``module:qualname`` of a factory (or the lazy string itself), to tell a re-registration from a clash."""
    if isinstance(target, str):
        return target
    if isinstance(target, importlib.metadata.EntryPoint):
        return target.value
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"


class Registry:
    """A registry of one kind of object (``"backbone"``, ``"encoder"``, ...).

    Parameters
    ----------
    kind : str
        Human-readable kind, used in error messages.
    package : str, optional
        Package whose modules are imported on first use (discovery of built-ins).
    entry_point_group : str, optional
        Entry-point group whose entries are listed as plugins (e.g. ``"cogmodels.backbones"``).
    """

    def __init__(self, kind: str, package: str | None = None, entry_point_group: str | None = None):
        self.kind = kind
        self.package = package
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry] = {}
        self._discovered = package is None
        self._discovering = False
        self._plugins_loaded = entry_point_group is None
        _REGISTRIES.append(self)

    # -- registering -------------------------------------------------------------
    def register(self, name: str, target: Callable[..., Any] | str | None = None, *, example=None,
                 description: str | None = None):
        """Register ``target`` under ``name``; without ``target``, return a decorator.

        Parameters
        ----------
        name : str
        target : callable or "module:attr" string, optional
        example : dict or callable, optional
            Small configuration for the conformance tests (see the module docstring).
        description : str, optional
            Default: the first line of the target's docstring.
        """
        if target is None:
            def decorator(obj):
                self._add(Entry(name, obj, example, first_line(description) or None))
                return obj
            return decorator
        self._add(Entry(name, target, example, first_line(description) or None))
        return target

    def _add(self, entry: Entry) -> None:
        existing = self._entries.get(entry.name)
        if existing is not None and existing.target is not entry.target:
            if existing.origin != "builtin" or entry.origin != "builtin" or \
                    _qualified(existing.target) != _qualified(entry.target):
                raise RegistryError(format_problem(
                    f"{self.kind} {entry.name!r}", "a name registered once",
                    f"{_qualified(entry.target)} ({entry.origin}) and {_qualified(existing.target)} "
                    f"({existing.origin}) both registered under it", "rename one of them"))
            # the same definition again (a lazy string made concrete, or a reloaded module): keep what is known
            entry.example = entry.example if entry.example is not None else existing.example
            entry.description = entry.description or existing.description
            if isinstance(entry.target, str) and not isinstance(existing.target, str):
                entry.target, entry._loaded = existing.target, existing._loaded
        self._entries[entry.name] = entry

    # -- discovery and plugins -------------------------------------------------------
    def _ensure(self) -> None:
        if not self._discovered and not self._discovering:
            self._discover()
        if not self._plugins_loaded:
            self._load_plugins()

    def _discover(self) -> None:
        """Import every module of ``self.package`` (skipping ``_private`` ones) so their decorators run."""
        self._discovering = True
        try:
            package = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(package.__path__):
                if info.name.startswith("_"):
                    continue
                module = f"{self.package}.{info.name}"
                try:
                    importlib.import_module(module)
                except Exception as err:
                    raise RegistryError(format_problem(
                        f"{self.kind} module {module}", "a module that imports cleanly (it is imported to find the "
                        f"registered {self.kind}s)", f"{type(err).__name__}: {err}",
                        f"fix the module, or rename it with a leading '_' to keep it out of discovery")) from err
            self._discovered = True
        finally:
            self._discovering = False

    def _load_plugins(self) -> None:
        """Add the entry points of ``self.entry_point_group`` (not imported yet)."""
        self._plugins_loaded = True
        for ep in importlib.metadata.entry_points(group=self.entry_point_group):
            dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
            existing = self._entries.get(ep.name)
            if existing is not None and existing.origin == f"plugin {dist}" and existing.target == ep:
                continue  # the same distribution seen twice on sys.path
            self._add(Entry(ep.name, ep, origin=f"plugin {dist}"))

    def reset_plugins(self) -> None:
        """Forget the entry points read so far; the next use reads them again."""
        self._entries = {name: e for name, e in self._entries.items() if e.origin == "builtin"}
        self._plugins_loaded = self.entry_point_group is None

    # -- reading -----------------------------------------------------------------------
    def list(self) -> list[str]:
        """Sorted registered names, plugins included."""
        self._ensure()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._ensure()
        return name in self._entries

    def entry(self, name: str) -> Entry:
        """The :class:`Entry` of ``name`` with its factory imported and its description filled in."""
        self._ensure()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{hint} Registered {self.kind}s: {', '.join(self.list())}."
            )
        entry = self._entries[name]
        if not entry._loaded:
            entry.target = self._load(entry)
            entry._loaded = True
            entry.description = entry.description or first_line(getattr(entry.target, "__doc__", None)) or \
                f"(no description: {_qualified(entry.target)} has no docstring)"
        return entry

    def _load(self, entry: Entry):
        target = entry.target
        try:
            if isinstance(target, importlib.metadata.EntryPoint):
                return target.load()
            if isinstance(target, str):
                module_name, _, attr = target.partition(":")
                return getattr(importlib.import_module(module_name), attr)
        except Exception as err:
            raise RegistryError(format_problem(
                f"{self.kind} {entry.name!r} ({entry.origin})", f"an importable factory {_qualified(target)}",
                f"{type(err).__name__}: {err}", "install or fix the package that provides it")) from err
        return target

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered under ``name`` (importing it if needed)."""
        return self.entry(name).target

    def example(self, name: str):
        """The conformance example of ``name`` (None when it has none)."""
        return self.entry(name).example

    def describe(self, name: str) -> str:
        """One-line description of ``name``."""
        return self.entry(name).description

    def create(self, name: str, **params) -> Any:
        """Instantiate the entry registered under ``name`` with ``params``."""
        return self.get(name)(**params)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._entries)})"


def reset_plugins() -> None:
    """Forget the entry points every registry has read, and importlib's path caches (for tests and notebooks
    that install a plugin while running)."""
    importlib.invalidate_caches()
    for registry in _REGISTRIES:
        registry.reset_plugins()
