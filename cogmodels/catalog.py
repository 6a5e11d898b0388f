"""What is there, without reading code: registered names with one-line descriptions, and dataset cards.

Used by ``cogmodels list [family]`` and ``cogmodels card DATASET``::

    from cogmodels import catalog
    catalog.entries("backbones")   # [("convnext_tiny", "ConvNeXt-T (Liu et al. 2022) through timm; ..."), ...]
    print(catalog.card("osie"))    # source, licence, citation, terms, expected files, how to get them

Plugins (entry points) are listed beside the built-ins.  Listing a family reads its modules' source
(see :mod:`cogmodels.registry`): it imports only the modules whose registrations the scan cannot read
(and a plugin's, to read its description), nothing else.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from pathlib import Path

from cogmodels.errors import ConfigError, RegistryError, format_problem

#: Families of ``entries``: the five registries, plus the experiment configs.
FAMILIES = ("backbones", "encoders", "scanpaths", "search", "datasets", "experiments")
_REGISTRIES = {"backbones": ("cogmodels.backbones", "BACKBONES"), "encoders": ("cogmodels.encoders", "ENCODERS"),
               "scanpaths": ("cogmodels.scanpaths", "SCANPATH_MODELS"), "search": ("cogmodels.search", "SEARCH_MODELS"),
               "datasets": ("cogmodels.datasets", "DATASETS")}


def registry(family: str):
    """The registry of one of the five model/data families (``"backbones"`` ... ``"datasets"``)."""
    family = _check_family(family)
    if family not in _REGISTRIES:
        raise ConfigError(format_problem("family", f"one of {sorted(_REGISTRIES)}", repr(family),
                                         "experiments are config files, not a registry"))
    module, attribute = _REGISTRIES[family]
    return getattr(importlib.import_module(module), attribute)


def entries(family: str) -> list[tuple[str, str]]:
    """Sorted ``(name, one-line description)`` pairs of a family.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`: ``"backbones"``, ``"encoders"``, ``"scanpaths"``, ``"search"``,
        ``"datasets"`` (registered names, plugins included) or ``"experiments"`` (the YAML files of
        ``experiments/conf/experiment``; the description is the first comment line).

    Returns
    -------
    list of (str, str)
        A plugin that cannot be imported is still listed, its description saying why.
    """
    family = _check_family(family)
    if family == "experiments":
        return _experiments()
    reg = registry(family)
    out = []
    for name in reg.list():
        try:
            description = reg.describe(name)
        except RegistryError as err:
            description = f"(unavailable: {err})"
        out.append((name, description))
    return out


def card(dataset_name: str) -> str:
    """The card of a registered dataset as text: source, licence, citation, terms, expected files, how to get them.

    The card is the ``CARD`` (a :class:`cogmodels.data.DatasetCard`) of the module that defines the dataset's
    loader, or a ``card`` attribute of the loader itself (plugins may use either).
    """
    from cogmodels.data.dataset import DatasetCard

    loader = registry("datasets").get(dataset_name)
    found = getattr(loader, "card", None) or getattr(sys.modules.get(getattr(loader, "__module__", "")), "CARD", None)
    if not isinstance(found, DatasetCard):
        raise ConfigError(format_problem(f"dataset {dataset_name!r}", "a DatasetCard (CARD in the loader's module)",
                                         "none", "define CARD = DatasetCard(...) next to the loader"))
    return str(found)


def _check_family(family: str) -> str:
    if family in FAMILIES:
        return family
    close = difflib.get_close_matches(str(family), FAMILIES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(format_problem("family", f"one of {', '.join(FAMILIES)}", repr(family),
                                     f"{hint}e.g. `cogmodels list backbones`"))


def _config_dir() -> Path:
    """``$COGMODELS_CONFIG_DIR``, else ``experiments/conf`` of the source tree (as the runner resolves it)."""
    return Path(os.environ.get("COGMODELS_CONFIG_DIR") or Path(__file__).resolve().parent.parent / "experiments"
                / "conf")


def _experiments() -> list[tuple[str, str]]:
    folder = _config_dir() / "experiment"
    if not folder.is_dir():
        raise ConfigError(format_problem(str(folder), "the experiment configs (experiments/conf/experiment)",
                                         "no such folder", "run from a source checkout or set COGMODELS_CONFIG_DIR"))
    return [(path.stem, _first_comment(path)) for path in sorted(folder.glob("*.yaml"))]


def _first_comment(path: Path) -> str:
    """The first comment line of a YAML file that is not a Hydra directive (``# @package ...``)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith("#") and not text.lstrip("# ").startswith("@") and text.lstrip("# "):
            return text.lstrip("# ").strip()
    return "(no description: the file starts with no comment)"
