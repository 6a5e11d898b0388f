"""Sphinx configuration of the cogmodels documentation (``make docs``: offline, warnings are errors)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(HERE))  # _gallery_conf helpers only; the package itself is installed (pip install -e .)

import cogmodels  # noqa: E402

project = "cogmodels"
author = "cogmodels contributors"
copyright = "2026, cogmodels contributors"
version = release = cogmodels.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "**.md5", "**.codeobj.json"]
templates_path = ["_templates"]
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set = set()
# Docstrings of the library cite classes with the default role (`Name`): render them as code, not links.
default_role = "literal"
nitpicky = False

html_theme = "pydata_sphinx_theme"
html_title = f"cogmodels {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list = []

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "default_thumb_file": None,
    "only_warn_on_example_error": False,
    "abort_on_example_error": True,
}
