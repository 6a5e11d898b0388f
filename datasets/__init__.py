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

DATASETS = Registry("dataset")
# name -> "module:load function", imported lazily.
DATASETS.register("quickstart_sim", "cogmodels.datasets.quickstart_sim:load")


def shared_data_root() -> Path:
    """Folder of the shared real data: $COGMODELS_SHARED_DATA, default ../shared/data next to the repo."""
    env = os.environ.get("COGMODELS_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def load(name: str, root=None, **options):
    """Load a registered dataset by name (see ``cogmodels.load_dataset``)."""
    return DATASETS.get(name)(root=root, **options)
DATASETS.register("nsd_sim", "cogmodels.datasets.nsd_sim:load")
DATASETS.register("algonauts2023", "cogmodels.datasets.algonauts2023:load")
DATASETS.register("brain_folder", "cogmodels.datasets.brain_folder:load")
DATASETS.register("osie", "cogmodels.datasets.osie:load")
DATASETS.register("coco_search18", "cogmodels.datasets.coco_search18:load")
DATASETS.register("capmit1003", "cogmodels.datasets.capmit1003:load")
DATASETS.register("gaze_table", "cogmodels.datasets.gaze_table:load")
