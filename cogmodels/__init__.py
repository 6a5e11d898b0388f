"""cogmodels: vision backbones x model heads, scored against brain and eye-tracking data.

The stable entry points are the functions below; ``import cogmodels`` imports
no model code.  Each family registers its names where they are defined; a
family's folder is imported the first time one of its names is listed or
created, and third-party packages add names through the entry-point groups
``cogmodels.backbones``, ``cogmodels.encoders``, ``cogmodels.scanpaths``,
``cogmodels.search`` and ``cogmodels.datasets`` (see :mod:`cogmodels.registry`).
Names with descriptions, and dataset cards: :mod:`cogmodels.catalog`.
"""

from __future__ import annotations

__version__ = "0.1.0"

MODEL_KINDS = ("encoder", "scanpath", "search")


def list_backbones() -> list[str]:
    """Names of the registered backbones (plugins included)."""
    from cogmodels.backbones import BACKBONES

    return BACKBONES.list()


def create_backbone(name: str, layers=None, weights=None, seed: int = 0, **options):
    """Create a backbone by name.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_backbones`) or ``"timm:<any timm model name>"``.
    layers : list of str, optional
        Layers to extract; default: the backbone's default layers.
    weights : None, "random", "hub" or a path
        ``None``/"random": seeded random initialisation (stated in results);
        a path: a local timm checkpoint or safetensors file; "hub": pretrained
        weights from the hub (fails fast offline with WeightsUnavailableError).
    seed : int
        Seed of the random initialisation.
    """
    from cogmodels.backbones import create

    return create(name, layers=layers, weights=weights, seed=seed, **options)


def list_datasets() -> list[str]:
    """Names of the registered datasets (loaders and simulators; plugins included)."""
    from cogmodels.datasets import DATASETS

    return DATASETS.list()


def load_dataset(name: str, root=None, **options):
    """Load a registered dataset; returns a :class:`cogmodels.data.Dataset`."""
    from cogmodels.datasets import load

    return load(name, root=root, **options)


def _model_registry(kind: str):
    from cogmodels.errors import ConfigError

    if kind not in MODEL_KINDS:
        raise ConfigError(f"model kind: expected one of {MODEL_KINDS}, found {kind!r}. "
                          f"Fix: pass kind='encoder', 'scanpath' or 'search'.")
    if kind == "encoder":
        from cogmodels.encoders import ENCODERS as registry
    elif kind == "scanpath":
        from cogmodels.scanpaths import SCANPATH_MODELS as registry
    else:
        from cogmodels.search import SEARCH_MODELS as registry
    return registry


def list_models(kind: str) -> list[str]:
    """Names of the registered models of one kind ("encoder", "scanpath" or "search"; plugins included)."""
    return _model_registry(kind).list()


def create_model(kind: str, name: str, **params):
    """Create a registered model of one kind by name."""
    return _model_registry(kind).create(name, **params)


__all__ = ["MODEL_KINDS", "create_backbone", "create_model", "list_backbones", "list_datasets",
           "list_models", "load_dataset", "__version__"]
