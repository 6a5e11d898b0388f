"""Name -> factory registries: registered where defined, discovered on first use, open to plugins.

A name is registered next to its definition, with the family's decorator::

    from cogmodels.backbones import BACKBONES

    @BACKBONES.register("my_net", example={"width": 8})
    class MyNet(Backbone):
        \"\"\"A tiny network (first docstring line = the description in ``cogmodels list``).\"\"\"

Three ways into a registry:

- **Discovery.**  A registry made with ``package=`` reads the source of every module
  of that package's folder (names starting with ``_`` are skipped) on the first
  ``list`` / ``get`` / ``create`` / ``in``, so a decorator in a new file is found
  with no other edit.  The read is static (:mod:`cogmodels._registry_scan`: a
  top-level ``@REG.register("name", ...)`` decorator or ``REG.register("name", f, ...)``
  call); a module is imported only when one of its names is created, so checking one
  encoder's parameters does not import the others (nor torch, for those that need it).
  A module that registers in a way the scan cannot read (a loop, a computed name) is
  imported at discovery, and a name not found is looked up again after importing the
  whole folder.  ``import cogmodels`` itself imports no model code.
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
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from cogmodels._registry_scan import first_line, scan_module
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
    target : callable, str, importlib.metadata.EntryPoint or Pending
        The factory; a ``"module:attr"`` string, an entry point, or (found by the
        source scan) a :class:`Pending` module until first use.
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
    module: str | None = None  # the module whose code registered it (None: unknown)
    _loaded: bool = field(default=False, repr=False)


@dataclass(frozen=True)
class Pending:
    """A name the source scan found in ``module`` (bound to ``attr`` there), not imported yet."""

    module: str
    attr: str | None = None


def _qualified(target) -> str:
    """``module:qualname`` of a factory (or the lazy string itself), to tell a re-registration from a clash."""
    if isinstance(target, str):
        return target
    if isinstance(target, importlib.metadata.EntryPoint):
        return target.value
    if isinstance(target, Pending):
        return f"{target.module}:{target.attr or '?'}"
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"


def _home_module(entry: Entry) -> str | None:
    """The module that registers ``entry``: the scanned module, or the one whose code called ``register``."""
    return entry.target.module if isinstance(entry.target, Pending) else entry.module


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
        self._complete = package is None  # every module of the folder imported
        self._home = sys._getframe(1).f_globals.get("__name__")  # the module that made this registry
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
                self._add(Entry(name, obj, example, first_line(description) or None,
                                module=sys._getframe(1).f_globals.get("__name__")))
                return obj
            return decorator
        self._add(Entry(name, target, example, first_line(description) or None,
                        module=sys._getframe(1).f_globals.get("__name__")))
        return target

    def _add(self, entry: Entry) -> None:
        existing = self._entries.get(entry.name)
        if existing is not None and entry.origin == existing.origin == "builtin" and \
                (isinstance(entry.target, Pending) or isinstance(existing.target, Pending)) and \
                _home_module(entry) == _home_module(existing):
            # a scanned module ran its registration: the real entry replaces the scan's (never the reverse)
            if isinstance(existing.target, Pending) and not isinstance(entry.target, Pending):
                self._entries[entry.name] = entry
            return
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
        """Scan the source of every module of ``self.package`` (skipping ``_private`` ones) for registrations;
        import the modules the scan cannot read (see :mod:`cogmodels._registry_scan`)."""
        self._discovering = True
        try:
            package = importlib.import_module(self.package)
            names = self._bound_names(package)
            import_cache: dict = {}
            for module, origin in self._folder_modules(package):
                if module in sys.modules or not names or origin is None:
                    self._import(module)  # already run (a no-op), or no source to read
                    continue
                found, opaque = scan_module(origin, module, names, import_cache)
                for item in found:
                    self._add(Entry(item.name, Pending(module, item.attr), description=item.description,
                                    module=module))
                if opaque:
                    self._import(module)
            self._discovered = True
        finally:
            self._discovering = False

    def _bound_names(self, package) -> set:
        """The names this registry is bound to in the module that made it and in its package."""
        homes = [package, sys.modules.get(self._home)]
        return {key for home in homes if home is not None for key, value in vars(home).items() if value is self}

    def _folder_modules(self, package) -> list:
        """``(dotted name, source file or None)`` of each non-private module of the package's folder."""
        out = []
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = f"{self.package}.{info.name}"
            try:
                spec = info.module_finder.find_spec(module)
            except (ImportError, AttributeError, TypeError, ValueError):
                spec = None
            origin = getattr(spec, "origin", None)
            out.append((module, origin if origin and str(origin).endswith(".py") else None))
        return out

    def _import(self, module: str) -> None:
        """Import one module of the folder (its registrations run); a failure names the module."""
        try:
            importlib.import_module(module)
        except Exception as err:
            raise RegistryError(format_problem(
                f"{self.kind} module {module}", "a module that imports cleanly (it is imported to find the "
                f"registered {self.kind}s)", f"{type(err).__name__}: {err}",
                "fix the module, or rename it with a leading '_' to keep it out of discovery")) from err

    def _import_rest(self) -> None:
        """Import every module of the folder the scan left alone (a name may be registered in a way it cannot see)."""
        if self._complete or self._discovering:
            return
        package = importlib.import_module(self.package)
        for module, _ in self._folder_modules(package):
            self._import(module)
        self._complete = True

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
        if name not in self._entries:
            self._import_rest()
        return name in self._entries

    def entry(self, name: str) -> Entry:
        """The :class:`Entry` of ``name`` with its factory imported and its description filled in."""
        if name not in self:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{hint} Registered {self.kind}s: {', '.join(self.list())}."
            )
        entry = self._entries[name]
        if isinstance(entry.target, Pending):
            self._import(entry.target.module)
            entry = self._entries[name]
            if isinstance(entry.target, Pending):
                raise RegistryError(format_problem(
                    f"{self.kind} {name!r}", f"registered by {entry.target.module} when imported (its source "
                    f"has @...register({name!r}, ...))", "no registration ran",
                    "register the name at the top level of the module, not behind a condition"))
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
        """One-line description of ``name`` (read from the source where the scan found it, else imported)."""
        if name in self:
            entry = self._entries[name]
            if isinstance(entry.target, Pending) and entry.description:
                return entry.description
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
