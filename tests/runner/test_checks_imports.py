"""The compose-time check of ``cogmodels run`` stays light: it imports only the head it validates.

``cogmodels run encoder.alphas=[0,1]`` must fail with its one-line error before any data or model
code is loaded.  These tests run the check path (``cogmodels.runner.cli.main`` -> Hydra compose ->
:func:`cogmodels.runner.checks.check_config`) in a fresh interpreter and read ``sys.modules``
afterwards (no wall-clock assertion): the tasks, the metrics and the other encoders stay unimported,
and with a head whose module needs none of them, so do torch, pandas and scipy.stats.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

HEAVY = ("torch", "pandas", "scipy.stats", "matplotlib", "timm")

CHECK = textwrap.dedent("""
    import contextlib, io, json, sys
    from cogmodels.runner.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["run", *sys.argv[1:]])
    print(json.dumps({"status": status, "stderr": err.getvalue(), "modules": sorted(sys.modules)}))
""")

LIGHT_PLUGIN = textwrap.dedent('''
    """light_plugin: an encoder whose module imports nothing heavy (for the import test of the check path)."""
    from cogmodels.errors import ConfigError, format_problem


    class LightEncoder:
        """An encoder that only checks its alphas."""

        def __init__(self, alphas=None, **params):
            self.alphas = alphas

        def validate_params(self):
            if any(a <= 0 for a in self.alphas):
                raise ConfigError(format_problem("encoder.alphas", "alphas > 0", repr(self.alphas), "drop 0"))
            return self
''')


def _check(args, tmp_path, pythonpath=None) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", CHECK, *args, f"output_root={tmp_path / 'out'}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _family_modules(modules, package):
    return sorted(m for m in modules if m.startswith(package + ".") and not m.rsplit(".", 1)[1].startswith("_"))


def test_the_alphas_check_imports_only_the_encoder_it_validates(tmp_path):
    out = _check(["encoder.alphas=[0,1]"], tmp_path)
    assert out["status"] == 2 and "encoder.alphas" in out["stderr"] and len(out["stderr"].splitlines()) == 1, out
    modules = out["modules"]
    assert _family_modules(modules, "cogmodels.encoders") == ["cogmodels.encoders.base", "cogmodels.encoders.ridge"]
    assert _family_modules(modules, "cogmodels.runner.tasks") == ["cogmodels.runner.tasks.base"]
    for family in ("cogmodels.metrics", "cogmodels.datasets", "cogmodels.backbones", "cogmodels.scanpaths",
                   "cogmodels.search"):
        assert not [m for m in modules if m.startswith(family + ".") and m != "cogmodels.backbones.base"], family
    assert "scipy.stats" not in modules and "cogmodels.runner.store" not in modules
    assert [m for m in HEAVY if m in modules] == []  # ridge checks its parameters without torch or pandas
    assert not (tmp_path / "out" / "feature_cache").exists()  # nothing computed


def test_the_check_path_itself_imports_no_torch_pandas_or_scipy_stats(tmp_path):
    """With an encoder whose module is light, the runner's compose+check path adds nothing heavy."""
    plugin = tmp_path / "plugin"
    info = plugin / "light_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: light_plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[cogmodels.encoders]\nlight = light_plugin:LightEncoder\n")
    (plugin / "light_plugin.py").write_text(LIGHT_PLUGIN)
    out = _check(["encoder.name=light", "encoder.alphas=[0,1]"], tmp_path, pythonpath=plugin)
    assert out["status"] == 2 and "encoder.alphas" in out["stderr"] and "drop 0" in out["stderr"], out
    assert "light_plugin" in out["modules"]  # the head was created and validated
    assert [m for m in HEAVY if m in out["modules"]] == []
    assert _family_modules(out["modules"], "cogmodels.encoders") == []
