"""Compose and instantiate every config file under experiments/conf.

The files are listed from disk, so a new YAML is tested as soon as it exists.
"""

from __future__ import annotations

import importlib
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
    card = importlib.import_module(f"cogmodels.datasets.{name}").CARD
    folder = shared_data_root() / name
    if not card.simulated and not folder.exists():
        pytest.skip(f"dataset {name!r} needs real data at {folder} (set COGMODELS_SHARED_DATA)")


def _compose(overrides, hydra=False):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=hydra)


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
        # `name` is the registered name: the file's own name, or for a variant (routing_nsd.yaml) its stem's head.
        assert name == node.name or name.startswith(f"{node.name}_"), f"{path}: `name` must match the file name"
        assert node.name in REGISTRIES[group](), f"{group} {node.name!r} is not registered"
        if group == "dataset":
            _skip_without_real_data(node.name)
        obj = instantiate(node)
        if group in EXPECTED_TYPES:
            assert isinstance(obj, EXPECTED_TYPES[group])
        if group == "encoder":
            assert hasattr(obj, "fit") and hasattr(obj, "predict")
