"""Compose and instantiate every config file under experiments/conf.

The files are listed from disk, so a new YAML is tested as soon as it exists.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import cogmodels
from cogmodels.backbones.base import Backbone
from cogmodels.data import Dataset
from cogmodels.datasets import shared_data_root
from cogmodels.runner.app import config_dir

CONF = config_dir()
GROUP_FILES = sorted(p for p in CONF.rglob("*.yaml") if p.parent != CONF)
REGISTRIES = {"backbone": cogmodels.list_backbones, "encoder": lambda: cogmodels.list_models("encoder"),
              "scanpath": lambda: cogmodels.list_models("scanpath"), "search": lambda: cogmodels.list_models("search"),
              "dataset": cogmodels.list_datasets}
EXPECTED_TYPES = {"backbone": Backbone, "dataset": Dataset}
PRIMARY_GROUPS = {key for entry in yaml.safe_load((CONF / "config.yaml").read_text())["defaults"]
                  if isinstance(entry, dict) for key in entry}
# Our hydra/launcher/joblib.yaml deliberately shares the plugin schema's name (same fields, n_jobs=2).
pytestmark = pytest.mark.filterwarnings("ignore:(?s).*validated against ConfigStore schema:UserWarning")


def _group_and_name(path: Path) -> tuple[str, str]:
    relative = path.relative_to(CONF)
    return relative.parent.as_posix(), relative.stem


@pytest.fixture(scope="module")
def output_root(tmp_path_factory):
    return tmp_path_factory.mktemp("configs")


def _skip_without_real_data(name: str) -> None:
    """Real-data loaders are instantiated only where their data is (a user's clone has none)."""
    module = importlib.import_module(f"cogmodels.datasets.{name}")
    # the shared copy's folder: the module's SHARED_FOLDER where it differs from the name (kriegeskorte92 -> rsa92)
    folder = shared_data_root() / getattr(module, "SHARED_FOLDER", name)
    if not module.CARD.simulated and not folder.exists():
        pytest.skip(f"dataset {name!r} needs real data at {folder} (set COGMODELS_SHARED_DATA)")


def _compose(overrides, hydra=False):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=hydra)


def _registered(group: str, name: str) -> bool:
    from cogmodels.backbones import TIMM_PREFIX

    return (group == "backbone" and str(name).startswith(TIMM_PREFIX)) or name in REGISTRIES[group]()


def test_the_config_tree_has_every_group():
    groups = {p.relative_to(CONF).as_posix() for p in CONF.rglob("*") if p.is_dir()}
    assert {"backbone", "encoder", "dataset", "experiment", "scanpath", "search", "hydra/launcher"} <= groups
    assert {"joblib", "slurm"} <= {p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml")}


def test_the_defaults_compose():
    cfg = _compose([])
    assert cfg.task == "encode" and cfg.experiment_name == "default"


@pytest.mark.parametrize("path", GROUP_FILES, ids=lambda p: p.relative_to(CONF).as_posix())
def test_every_config_composes_and_instantiates(path, output_root):
    group, name = _group_and_name(path)
    # A group absent from the primary defaults list (scanpath/, search/) is appended with "+".
    append = "" if group.startswith("hydra/") or group in PRIMARY_GROUPS else "+"
    cfg = _compose([f"{append}{group}={name}", f"output_root={output_root}"], hydra=group.startswith("hydra/"))
    if group == "hydra/launcher":
        launcher = instantiate(cfg.hydra.launcher)
        assert type(launcher).__name__ in {"JoblibLauncher", "SlurmLauncher"}
        if name == "joblib":
            assert cfg.hydra.launcher.n_jobs == 2
    elif group == "experiment":
        assert cfg.experiment_name == name, "an experiment file must set experiment_name to its file name"
        _skip_without_real_data(cfg.dataset.name)
        for node in ("dataset", "backbone", "encoder", "scanpath", "search"):
            if cfg.get(node) is not None:
                assert instantiate(cfg[node]) is not None
    else:
        node = cfg[group]
        # `name` is the registered name: the file's own name, or for a variant (routing_nsd.yaml) its stem's head;
        # a timm shortcut `timm:<model>` lives in timm_<model>.yaml.
        stem = str(node.name).replace(":", "_")
        assert name == stem or name.startswith(f"{stem}_"), f"{path}: `name` must match the file name"
        assert _registered(group, node.name), f"{group} {node.name!r} is not registered"
        if group == "dataset":
            _skip_without_real_data(node.name)
        obj = instantiate(node)
        if group in EXPECTED_TYPES:
            assert isinstance(obj, EXPECTED_TYPES[group])
        if group == "encoder":
            assert hasattr(obj, "fit") and hasattr(obj, "predict")


# -- every constructor parameter is listed (so any of them is overridden without "+") -------------------------
PARAMETER_GROUPS = ("backbone", "encoder", "dataset", "scanpath", "search")


def target_callable(node):
    """The class or function a group config builds: through the registry for the cogmodels factories."""
    target = node.get("_target_")
    if target == "cogmodels.create_model":
        return cogmodels._model_registry(str(node.kind)).get(str(node.name))
    if target == "cogmodels.create_backbone":
        from cogmodels.backbones import BACKBONES, TIMM_PREFIX

        if str(node.name).startswith(TIMM_PREFIX):
            from cogmodels.backbones.timm_backbone import TimmBackbone

            return TimmBackbone
        return BACKBONES.get(str(node.name))
    if target == "cogmodels.load_dataset":
        from cogmodels.datasets import DATASETS

        return DATASETS.get(str(node.name))
    module, _, attribute = str(target).rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def constructor_parameters(factory) -> list[str]:
    """Named parameters of a class's constructor or a function (not self, *args, **kwargs)."""
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [name for name, p in inspect.signature(factory).parameters.items() if p.kind not in skip
            and name != "self"]


def missing_parameters(node) -> list[str]:
    factory = target_callable(node)
    names = constructor_parameters(factory)
    if str(node.get("_target_")) == "cogmodels.create_backbone" and str(node.name).startswith("timm:"):
        names = [n for n in names if n != "model_name"]  # the name after "timm:"
    return [name for name in names if name not in node]


PARAMETER_FILES = [p for p in GROUP_FILES if _group_and_name(p)[0] in PARAMETER_GROUPS]


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda p: p.relative_to(CONF).as_posix())
def test_every_group_config_lists_every_constructor_parameter(path, output_root):
    group, name = _group_and_name(path)
    append = "" if group in PRIMARY_GROUPS else "+"
    node = _compose([f"{append}{group}={name}", f"output_root={output_root}"])[group]
    missing = missing_parameters(node)
    assert not missing, (f"{path.relative_to(CONF)} misses constructor parameter(s) {missing} of "
                         f"{target_callable(node).__qualname__}: list each with its default")


def _launcher_schema(target: str):
    """The dataclass of a Hydra launcher plugin whose _target_ is ``target`` (its fields are the parameters)."""
    import dataclasses

    for module in ("hydra_plugins.hydra_joblib_launcher.config", "hydra_plugins.hydra_submitit_launcher.config"):
        for obj in vars(importlib.import_module(module)).values():
            if dataclasses.is_dataclass(obj) and getattr(obj, "_target_", None) == target:
                return [f.name for f in dataclasses.fields(obj) if not f.name.startswith("_")]
    raise AssertionError(f"no launcher schema with _target_ {target}")


@pytest.mark.parametrize("path", sorted((CONF / "hydra" / "launcher").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_launcher_config_lists_every_plugin_field(path, output_root):
    cfg = _compose([f"hydra/launcher={path.stem}", f"output_root={output_root}"], hydra=True)
    node = cfg.hydra.launcher
    missing = [name for name in _launcher_schema(str(node._target_)) if name not in node]
    assert not missing, f"{path.relative_to(CONF)} misses launcher field(s) {missing}"


def test_the_parameter_check_would_catch_a_missing_parameter():
    from omegaconf import OmegaConf

    node = OmegaConf.create({"_target_": "cogmodels.create_model", "kind": "encoder", "name": "ridge",
                             "alphas": [1.0], "cv": 5})
    missing = missing_parameters(node)
    assert "fit_intercept" in missing and "alphas" not in missing and "cv" not in missing


def test_a_timm_shortcut_config_composes_and_instantiates(output_root):
    timm_files = sorted((CONF / "backbone").glob("timm_*.yaml"))
    if not timm_files:
        pytest.skip("no backbone/timm_*.yaml in the config tree")
    node = _compose([f"backbone={timm_files[0].stem}", f"output_root={output_root}"]).backbone
    assert str(node.name).startswith("timm:")
    backbone = instantiate(node)
    assert isinstance(backbone, Backbone) and backbone.layers
