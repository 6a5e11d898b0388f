"""Rebuild the paper figures from the results store.

Every ``paper_figures/figNN_<slug>.py`` exposes::

    def make(results: pandas.DataFrame, store_root: pathlib.Path) -> matplotlib.figure.Figure

``results`` is :func:`cogmodels.runner.store.load_results` of the store; a script
may also read per-item arrays with :func:`cogmodels.runner.store.load_items`.
Scripts never fit anything.  The runner writes ``<out>/<slug>.png`` and ``.pdf``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path

from cogmodels.errors import CogModelsError, ConfigError, format_problem

log = logging.getLogger(__name__)

FIGURES_DIR_ENV = "COGMODELS_FIGURES_DIR"
FIGURE_PATTERN = re.compile(r"^fig(\d\d)_([a-z0-9_]+)\.py$")


def figures_dir() -> Path:
    """Folder of the figure scripts: ``$COGMODELS_FIGURES_DIR``, else paper_figures/ of the source tree."""
    from cogmodels.runner.app import REPO_ROOT

    return Path(os.environ.get(FIGURES_DIR_ENV) or REPO_ROOT / "paper_figures")


def discover(folder: Path | None = None) -> dict[str, Path]:
    """Figure scripts by slug, in figure-number order."""
    folder = Path(folder or figures_dir())
    found = sorted((m.group(1), m.group(2), p) for p in folder.glob("fig*.py") if (m := FIGURE_PATTERN.match(p.name)))
    return {slug: path for _, slug, path in found}


def _select(scripts: dict[str, Path], only: str | None) -> dict[str, Path]:
    if only is None:
        return scripts
    chosen = {slug: p for slug, p in scripts.items() if only in (slug, p.stem, p.name, p.stem.split("_")[0])}
    if not chosen:
        raise ConfigError(format_problem("--only", f"one of {sorted(scripts)}", repr(only),
                                         "pass a figure slug such as quickstart"))
    return chosen


def load_figure_module(path: Path):
    """Import a figure script by path (its name need not be a Python identifier) and check it defines ``make``.

    Figure scripts that draw another script's figure (e.g. fig41 reusing fig10) load it through this.
    """
    spec = importlib.util.spec_from_file_location(f"cogmodels_paper_figures.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "make", None)):
        raise ConfigError(format_problem(str(path), "a function make(results, store_root) -> Figure",
                                         "no make()", "define make in the figure script"))
    return module


def build_figures(root, only: str | None = None, out_dir=None, folder=None,
                  formats=("png", "pdf")) -> tuple[list[Path], dict[str, str]]:
    """Build the figures from the store at ``root``.

    Parameters
    ----------
    root : path
        Output root holding results.sqlite.
    only : str, optional
        Build one figure (slug, ``figNN`` or file name).
    out_dir : path, optional
        Default ``<figures folder>/out``.
    folder : path, optional
        Folder of the figure scripts (default :func:`figures_dir`).
    formats : tuple of str

    Returns
    -------
    written : list of Path
    failed : dict of slug -> reason (an error message)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cogmodels.runner.store import load_results

    folder = Path(folder or figures_dir())
    scripts = _select(discover(folder), only)
    out_dir = Path(out_dir or folder / "out")
    results = load_results(root)
    written, failed = [], {}
    for slug, path in scripts.items():
        try:
            figure = load_figure_module(path).make(results, Path(root))
        except CogModelsError as err:
            failed[slug] = str(err)
            log.error("figure %s failed: %s", slug, err)
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            target = out_dir / f"{slug}.{fmt}"
            figure.savefig(target, dpi=150, bbox_inches="tight")
            written.append(target)
        plt.close(figure)
        log.info("figure %s: %s", slug, ", ".join(str(out_dir / f"{slug}.{f}") for f in formats))
    return written, failed
