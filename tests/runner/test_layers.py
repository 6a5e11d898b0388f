"""Layers point one way: nothing below the runner imports the runner, nothing below the top imports the
top-level ``cogmodels`` package's functions (an AST scan of every import, including imports inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# package -> source folder (datasets/ and kernels/ are mapped into the namespace by pyproject's package-dir)
BELOW_THE_RUNNER = {
    "cogmodels.data": REPO / "cogmodels" / "data", "cogmodels.backbones": REPO / "cogmodels" / "backbones",
    "cogmodels.encoders": REPO / "cogmodels" / "encoders", "cogmodels.scanpaths": REPO / "cogmodels" / "scanpaths",
    "cogmodels.search": REPO / "cogmodels" / "search", "cogmodels.metrics": REPO / "cogmodels" / "metrics",
    "cogmodels.datasets": REPO / "datasets", "cogmodels.kernels": REPO / "kernels",
}
LOW_LEVEL_MODULES = [REPO / "cogmodels" / name for name in ("io.py", "errors.py", "registry.py")]
SUBPACKAGES = {"datasets", "kernels"} | {p.stem for p in (REPO / "cogmodels").iterdir()
                                         if (p.suffix == ".py" or (p / "__init__.py").is_file())
                                         and p.name != "__init__.py"}


def _modules_below() -> list[Path]:
    files = [path for folder in BELOW_THE_RUNNER.values() for path in sorted(folder.rglob("*.py"))]
    return files + LOW_LEVEL_MODULES


def _imports(text: str, label: str):
    """(line, imported module, imported names) of every import statement of the source ``text``."""
    for node in ast.walk(ast.parse(text, filename=label)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, tuple(alias.name for alias in node.names)


def problems(text: str, label: str = "<source>") -> list[str]:
    """What in the source ``text`` (of file ``label``) breaks the layering (empty when nothing)."""
    found = []
    for line, module, names in _imports(text, label):
        where = f"{label}:{line}"
        if module == "cogmodels.runner" or module.startswith("cogmodels.runner.") or (
                module == "cogmodels" and "runner" in names):
            found.append(f"{where} imports the runner ({module} {list(names)})")
        elif module == "cogmodels" and not names:
            found.append(f"{where} imports the top-level package (`import cogmodels`): import the submodule "
                         "(e.g. from cogmodels.backbones import create)")
        elif module == "cogmodels":
            top_level = [name for name in names if name not in SUBPACKAGES]
            if top_level:
                found.append(f"{where} imports {top_level} from the top-level cogmodels package")
    return found


def test_the_scan_catches_each_kind_of_upward_import():
    found = problems("import cogmodels\nfrom cogmodels.runner.cache import FeatureCache\n"
                     "def f():\n    from cogmodels import create_backbone, io\n    from cogmodels import runner\n")
    assert len(found) == 4
    assert sum("top-level package (`import" in p for p in found) == 1
    assert sum("imports the runner" in p for p in found) == 2
    assert sum("['create_backbone']" in p for p in found) == 1
    assert problems("import cogmodels.io\nfrom cogmodels import io as atomic\n"
                    "from cogmodels.backbones import create\n") == []


@pytest.mark.parametrize("path", _modules_below(), ids=lambda p: str(p.relative_to(REPO)))
def test_nothing_below_the_runner_imports_upwards(path):
    assert problems(path.read_text(), str(path.relative_to(REPO))) == []
