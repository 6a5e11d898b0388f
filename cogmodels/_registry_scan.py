"""Find the names a module registers by reading its source (``ast``), without importing it.

:class:`cogmodels.registry.Registry` uses this for discovery: the modules of a family's
folder are scanned, and a module is imported only when one of its names is created (or
described, where the source does not say the description).  Two forms are read:

- a decorator on a top-level class or function: ``@REG.register("name", example=...)``;
- a top-level call: ``REG.register("name", target, example=..., description=...)``.

``REG`` is any name the registry is bound to (``ENCODERS``, ``TASKS``, ...), also as
imported with ``as`` or reached as an attribute (``encoders.ENCODERS.register``).  A module
that uses the registry in any other way (a ``register`` call in a loop or a function, a
computed name, the registry passed to a function or bound to another name), that cannot
be parsed, or whose top-level imports cannot all be found, is reported as *opaque*: the
registry imports it at discovery, as it imported every module before.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Found:
    """One registration read from source: ``name`` in ``module``, bound to ``attr`` there (None: unknown),
    with the description the registry would give it (None: only known after import)."""

    name: str
    module: str
    attr: str | None
    description: str | None


def first_line(text) -> str:
    """The first non-empty line of a docstring or description, stripped ("" for None)."""
    for line in str(text or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _is_registry(node, names: set, aliases: set) -> bool:
    """``REG`` (an alias) or ``something.REG`` (a registry name reached as an attribute)."""
    return (isinstance(node, ast.Name) and node.id in aliases) or \
        (isinstance(node, ast.Attribute) and node.attr in names)


def _register_call(node, names: set, aliases: set) -> ast.Call | None:
    """``node`` if it is ``REG.register(<str constant>, ...)``, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "register" \
            and _is_registry(node.func.value, names, aliases) and node.args \
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node
    return None


def _description(call: ast.Call, target_doc, module_doc) -> str | None:
    """What ``Registry.register``/``entry`` would make the description, or None when the source does not say."""
    for keyword in call.keywords:
        if keyword.arg == "description":
            value = keyword.value
            if isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, str)):
                text = first_line(value.value)
            elif isinstance(value, ast.Name) and value.id == "__doc__":
                text = first_line(module_doc)
            else:
                return None
            if text:
                return text
    return first_line(target_doc) or None


def _imports_resolve(tree: ast.Module, cache: dict) -> bool:
    """Every unconditional top-level absolute import names a package that can be found (not imported)."""
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            tops = [alias.name.partition(".")[0] for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            tops = [statement.module.partition(".")[0]]
        else:
            continue
        for top in tops:
            if top not in cache:
                try:
                    cache[top] = importlib.util.find_spec(top) is not None
                except (ImportError, ValueError):
                    cache[top] = False
            if not cache[top]:
                return False
    return True


def scan_module(path: Path, module: str, names: set, import_cache: dict | None = None):
    """The registrations of one source file.

    Parameters
    ----------
    path : Path
        The module's ``.py`` file.
    module : str
        Its dotted name.
    names : set of str
        The names the registry is bound to in the module that made it (e.g. ``{"ENCODERS"}``).
    import_cache : dict, optional
        Top-level package name -> found, shared across calls.

    Returns
    -------
    found : list of Found
    opaque : bool
        True when the module may register names the scan cannot see (see the module docstring).
    """
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return [], True
    if not _imports_resolve(tree, {} if import_cache is None else import_cache):
        return [], True
    aliases = set(names)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            aliases.update(alias.asname or alias.name for alias in node.names if alias.name in names)
    module_doc = ast.get_docstring(tree, clean=False)
    defs = {node.name: node for node in tree.body
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}

    found, seen_calls = [], set()
    for statement in tree.body:
        if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in statement.decorator_list:
                call = _register_call(decorator, names, aliases)
                if call is None or len(call.args) != 1:
                    continue
                seen_calls.add(id(call))
                doc = ast.get_docstring(statement, clean=False) if len(statement.decorator_list) == 1 else None
                description = _description(call, doc, module_doc) if len(statement.decorator_list) == 1 else None
                found.append(Found(call.args[0].value, module, statement.name, description))
        elif isinstance(statement, ast.Expr):
            call = _register_call(statement.value, names, aliases)
            if call is None or len(call.args) != 2:
                continue
            seen_calls.add(id(call))
            target = call.args[1]
            attr, doc = None, None
            if isinstance(target, ast.Name):
                attr = target.id
                node = defs.get(attr)
                doc = ast.get_docstring(node, clean=False) if node is not None and not node.decorator_list else None
                description = _description(call, doc, module_doc) if node is not None and not node.decorator_list \
                    else _description_only(call, module_doc)
            else:
                description = _description_only(call, module_doc)
            found.append(Found(call.args[0].value, module, attr, description))

    # any other use of the registry: the scan cannot vouch for what the module registers
    receivers = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "register" and _is_registry(node.value, names, aliases):
            if id(calls.get(id(node))) not in seen_calls:
                return found, True
        elif isinstance(node, ast.Name) and node.id in aliases and id(node) not in receivers:
            return found, True
    return found, False


def _description_only(call: ast.Call, module_doc) -> str | None:
    """The description of a call whose target's docstring is unknown: only an explicit ``description=``."""
    for keyword in call.keywords:
        if keyword.arg == "description":
            return _description(call, None, module_doc)
    return None
