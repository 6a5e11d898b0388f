"""Datasets (installed as ``cogmodels.datasets``): one module per dataset.

Each module is a loader for the real release layout plus a card (source,
licence, citation, expected files, how to get them).  Simulators with known
ground truth live here too.  Loaders have the signature
``load(root=None, **options) -> cogmodels.data.Dataset``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cogmodels.registry import Registry

#: Each dataset module registers its ``load`` function where it is defined, with
#: ``example=write_example`` (see :mod:`cogmodels.registry`); the modules of this folder are
#: imported on first use; plugins: the ``cogmodels.datasets`` entry-point group.
DATASETS = Registry("dataset", package=__name__, entry_point_group="cogmodels.datasets")


def shared_data_root() -> Path:
    """Folder of the shared real data: $COGMODELS_SHARED_DATA, default ../shared/data next to the repo."""
    env = os.environ.get("COGMODELS_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def load(name: str, root=None, **options):
    """Load a registered dataset by name (see ``cogmodels.load_dataset``)."""
    return DATASETS.get(name)(root=root, **options)
