"""Figure 61 (DiffEye densities): dwell-time densities of DiffEye's samples next to the human density.

Reads the store only: the example densities kept in items.npz by the latest ``scanpath_osie`` runs of
``another_human`` (Gaussian density of all subjects' fixations, sigma 1 deg; dots: the fixations),
``center_bias`` (when run) and ``diffeye`` (density of all gaze samples of its generated trajectories).
The panel titles give each image's mean NSS and CC over its subjects (per-item arrays of the same runs).
Build it with ``cogmodels figures --only diffeye_densities``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.runner.store import load_items
from cogmodels.scanpaths.evaluate import HUMAN_CEILING, latest_runs
from cogmodels.viz.gaze import example_densities

EXPERIMENT = "scanpath_osie"
MODELS = ("center_bias", "diffeye")


def _per_image(items: dict, metric: str, sid: str) -> float:
    here = items["stimulus_id"] == sid
    values = items[metric][here] if metric in items else np.array([])
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def make(results, store_root):
    """Rows: humans, centre bias (when run), DiffEye; columns: the example test images."""
    where = f"{store_root}/results.sqlite"
    runs = latest_runs(results, EXPERIMENT, where, required=(HUMAN_CEILING, "diffeye"))
    shown = [HUMAN_CEILING] + [m for m in MODELS if m in runs]
    items = {m: load_items(store_root, runs[m]) for m in shown}

    def title(model, sid):
        label = "humans" if model == HUMAN_CEILING else model
        return (f"{label}, {sid}\nNSS {_per_image(items[model], 'nss', sid):.2f}, "
                f"CC {_per_image(items[model], 'cc', sid):.2f}")

    figure = example_densities(items, HUMAN_CEILING, title, row_height=2.2, runs=runs)
    figure.suptitle("OSIE test images: DiffEye dwell-time density (sigma 1 deg) vs the human fixation density",
                    fontsize=10)
    return figure
