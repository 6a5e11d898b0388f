"""Registry behaviour: registration where defined, discovery of a family's folder, collisions, lazy imports.

Entry points (plugins) are tested in tests/conformance/test_plugins.py.
"""

import subprocess
import sys
import textwrap

import pytest

import cogmodels
from cogmodels.errors import ConfigError, RegistryError
from cogmodels.registry import Registry


def test_register_create_list_and_suggestions():
    reg = Registry("widget")

    @reg.register("round", example={"size": 2})
    def make_round(size=1):
        """A round widget.

        More text that is not the description.
        """
        return ("round", size)

    reg.register("lazy", "fractions:Fraction", description="A fraction, imported on first use")
    assert reg.list() == ["lazy", "round"]
    assert reg.create("round", size=3) == ("round", 3)
    assert reg.create("round", **reg.example("round")) == ("round", 2)
    assert reg.describe("round") == "A round widget."
    assert reg.describe("lazy") == "A fraction, imported on first use"
    assert reg.create("lazy", numerator=1, denominator=2) == 0.5
    assert "round" in reg and "square" not in reg
    with pytest.raises(RegistryError, match="Did you mean 'round'"):
        reg.get("rond")


def test_name_collisions_are_errors_but_a_reregistration_is_not():
    reg = Registry("widget")

    @reg.register("round")
    class Round:
        pass

    with pytest.raises(RegistryError, match="'round'.*both registered.*rename"):
        @reg.register("round")
        class Other:
            pass

    # the same definition again (a module imported twice, a lazy string made concrete) is fine
    reg.register("round", Round)
    reg.register("frac", "fractions:Fraction", example={"numerator": 3})
    import fractions

    reg.register("frac", fractions.Fraction)
    assert reg.get("frac") is fractions.Fraction and reg.example("frac") == {"numerator": 3}
    assert reg.get("round") is Round


def _family(tmp_path, name, modules):
    """A package ``name`` in tmp_path whose registry discovers its own folder; returns the registry module."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text(
        f"from cogmodels.registry import Registry\nTHINGS = Registry('thing', package=__name__)\n")
    for module, text in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    return name


@pytest.fixture
def family(tmp_path):
    names = []

    def make(name, modules):
        names.append(_family(tmp_path, name, modules))
        import importlib

        return importlib.import_module(name)
    yield make
    sys.path.remove(str(tmp_path))
    for key in [k for k in sys.modules if any(k == n or k.startswith(n + ".") for n in names)]:
        del sys.modules[key]


def test_discovery_finds_a_decorator_in_a_new_file_and_skips_private_modules(family):
    package = family("fam_discovery", {
        "alpha": '''
            from fam_discovery import THINGS

            @THINGS.register("alpha", example={"n": 2})
            class Alpha:
                """Alpha: a thing found by discovery."""
                def __init__(self, n=1):
                    self.n = n
            ''',
        "_private": "raise RuntimeError('a private module must not be imported')\n",
    })
    assert "fam_discovery.alpha" not in sys.modules  # nothing imported before the first use
    assert package.THINGS.list() == ["alpha"]
    assert package.THINGS.describe("alpha") == "Alpha: a thing found by discovery."
    assert package.THINGS.create("alpha", **package.THINGS.example("alpha")).n == 2
    assert "fam_discovery._private" not in sys.modules


def test_a_broken_family_module_is_a_clear_error_naming_it(family):
    package = family("fam_broken", {"good": "x = 1\n", "broken": "import no_such_module_anywhere\n"})
    with pytest.raises(RegistryError, match=r"fam_broken\.broken.*ModuleNotFoundError.*no_such_module_anywhere"):
        package.THINGS.list()
    with pytest.raises(RegistryError, match=r"fam_broken\.broken"):  # not swallowed on the next call either
        "good" in package.THINGS


def test_import_cogmodels_imports_no_model_code():
    code = ("import sys, cogmodels; from cogmodels.backbones import BACKBONES; from cogmodels.encoders import ENCODERS;"
            "from cogmodels.scanpaths import SCANPATH_MODELS; from cogmodels.search import SEARCH_MODELS;"
            "from cogmodels.datasets import DATASETS; cogmodels.__version__;"
            "print([m for m in sys.modules if m.startswith(('timm', 'torch', 'cogmodels.backbones.', "
            "'cogmodels.datasets.', 'cogmodels.encoders.', 'cogmodels.scanpaths.', 'cogmodels.search.'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_listing_one_family_imports_only_that_family():
    families = ("sorted({m.split('.')[1] for m in sys.modules if m.startswith('cogmodels.') and m.count('.') > 1})")
    code = (f"import sys, cogmodels; names = cogmodels.list_models('scanpath'); print({families}, len(names));"
            f"cogmodels.create_model('scanpath', 'uniform'); print({families}, 'timm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    listed, created = out.strip().splitlines()
    families, n_names = listed.rsplit(" ", 1)
    assert families == "[]" and int(n_names) >= 4, out  # listing reads the sources: no model module imported
    families, timm_loaded = created.rsplit(" ", 1)
    assert "scanpaths" in families and "encoders" not in families and "backbones" not in families, out
    assert timm_loaded == "False"


def test_discovery_reads_the_source_and_imports_a_module_only_when_its_name_is_used(family):
    package = family("fam_scan", {
        "alpha": '''
            """Module docstring: the description of the table registration."""
            from fam_scan import THINGS as T

            @T.register("alpha")
            class Alpha:
                """Alpha: read from the source."""

            def beta(**params):
                return params

            T.register("beta", beta, description=__doc__)
            ''',
        "gamma": '''
            from fam_scan import THINGS

            for _name in ("gamma", "delta"):  # a loop: the scan cannot read it, so discovery imports the module
                THINGS.register(_name, dict, description=f"made in a loop: {_name}")
            ''',
        "helper": '''
            import fam_scan

            def register_late():
                fam_scan.THINGS.register("late", dict, description="registered by a call")
            ''',
        "user": '''
            from fam_scan import THINGS, helper

            helper.register_late()  # registers through another module: invisible to the scan
            THINGS.get  # the registry used, not registered with: no reason to import this module
            ''',
    })
    assert package.THINGS.list() == ["alpha", "beta", "delta", "gamma"]
    assert "fam_scan.gamma" in sys.modules and "fam_scan.alpha" not in sys.modules
    assert package.THINGS.describe("alpha") == "Alpha: read from the source."
    assert package.THINGS.describe("beta") == "Module docstring: the description of the table registration."
    assert "fam_scan.alpha" not in sys.modules  # descriptions come from the source too
    assert isinstance(package.THINGS.create("alpha"), package.alpha.Alpha)  # imported now
    assert package.THINGS.create("beta", n=1) == {"n": 1}
    assert "fam_scan.user" not in sys.modules
    assert package.THINGS.describe("late") == "registered by a call"  # a miss imports the rest of the folder
    assert "late" in package.THINGS.list()


def test_builtins_are_registered_where_defined():
    backbones = set(cogmodels.list_backbones())
    assert {"gabor", "vgg16", "resnet50", "convnext_tiny", "vit_small_patch14_dinov2"} <= backbones
    assert {"ridge", "factorized", "routing"} <= set(cogmodels.list_models("encoder"))
    assert {"uniform", "center_bias", "density_sampling", "another_human"} <= set(cogmodels.list_models("scanpath"))
    assert {"quickstart_sim", "nsd_sim", "algonauts2023", "brain_folder", "osie", "coco_search18", "capmit1003",
            "gaze_table"} <= set(cogmodels.list_datasets())
    from cogmodels.backbones import BACKBONES
    from cogmodels.scanpaths import SCANPATH_MODELS

    assert BACKBONES.get("gabor").__module__ == "cogmodels.backbones.gabor"
    assert SCANPATH_MODELS.get("uniform").__module__ == "cogmodels.scanpaths.baselines"


def test_a_timm_table_line_is_a_whole_registration():
    from cogmodels.backbones import BACKBONES
    from cogmodels.backbones import timm_backbone

    for name, spec in timm_backbone.TIMM_BACKBONES.items():
        assert name in BACKBONES
        assert timm_backbone.DEFAULT_LAYERS[name] == list(spec.layers)
        assert BACKBONES.describe(name).startswith(spec.description)
        assert BACKBONES.example(name) == {"input_size": spec.example_size}


def test_public_lists():
    with pytest.raises(ConfigError, match="encoder"):
        cogmodels.list_models("decoder")
