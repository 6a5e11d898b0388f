"""The documentation builds offline, warnings as errors, with the gallery's first example executed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
MISSING = [name for name in ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme")
           if importlib.util.find_spec(name) is None]


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING), reason=f"the docs extra is not installed ({', '.join(MISSING)}): "
                                          "pip install -c constraints.txt -e '.[docs]'")
def test_docs_build_with_the_first_gallery_example(tmp_path):
    examples = sorted((DOCS / "examples").glob("plot_*.py"))
    assert examples, "the gallery has no examples"
    first = examples[0].stem
    # a clean copy: no earlier gallery output (sphinx-gallery would reuse it by MD5) and the checkout untouched
    source = tmp_path / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated", "auto_examples",
                                                                "sg_execution_times.rst"))
    out = tmp_path / "html"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "PYTHONSAFEPATH": "1"}
    result = subprocess.run(
        [sys.executable, "-P", "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(tmp_path / "doctrees"),
         "-D", f"sphinx_gallery_conf.filename_pattern={first}", str(source), str(out)],
        capture_output=True, text=True, env=env, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (out / "auto_examples" / f"{first}.html").read_text()
    assert "sphx-glr-script-out" in page and "sphx-glr-single-img" in page  # it ran: its output and figure
    assert (source / "auto_examples" / "images" / f"sphx_glr_{first}_001.png").is_file()
    api = (out / "api.html").read_text()
    for name in ("cogmodels.create_model", "cogmodels.load_dataset", "RidgeCV", "ecc_avg_pool", "multimatch",
                 "asymmetry_index", "load_results", "build_report"):
        assert name in api, f"{name} is missing from the API reference"
