"""Figure 61 (DiffEye densities): dwell-time densities of DiffEye's samples next to the human density.

Reads the store only: the example densities kept in items.npz by the latest ``scanpath_osie`` runs of
``another_human`` (Gaussian density of all subjects' fixations, sigma 1 deg; dots: the fixations),
``center_bias`` (when run) and ``diffeye`` (density of all gaze samples of its generated trajectories).
The panel titles give each image's mean NSS and CC over its subjects (per-item arrays of the same runs).
Build it with ``cogmodels figures --only diffeye_densities``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.scanpaths.evaluate import HUMAN_CEILING, latest_runs
from cogmodels.viz.gaze import plot_density

EXPERIMENT = "scanpath_osie"
MODELS = ("center_bias", "diffeye")


def _per_image(items: dict, metric: str, sid: str) -> float:
    here = items["stimulus_id"] == sid
    values = items[metric][here] if metric in items else np.array([])
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def make(results, store_root):
    """Rows: humans, centre bias (when run), DiffEye; columns: the example test images."""
    import matplotlib.pyplot as plt

    where = f"{store_root}/results.sqlite"
    runs = latest_runs(results, EXPERIMENT, where, required=(HUMAN_CEILING, "diffeye"))
    shown = [HUMAN_CEILING] + [m for m in MODELS if m in runs]
    items = {m: load_items(store_root, runs[m]) for m in shown}
    human = items[HUMAN_CEILING]
    ids = human["example_stimulus_id"]
    for model in shown:
        if not np.array_equal(items[model]["example_stimulus_id"], ids):
            raise DataFormatError(format_problem(f"run {runs[model]} items.npz example_stimulus_id",
                                                 f"the example images of the {HUMAN_CEILING} run {list(ids)}",
                                                 f"{list(items[model]['example_stimulus_id'])}",
                                                 "re-run both with the same dataset split and evaluation.n_examples"))
    scale = human["example_image_size"][0][0] / human["example_density"].shape[2]
    figure, axes = plt.subplots(len(shown), len(ids), figsize=(2.6 * len(ids), 2.2 * len(shown)),
                                constrained_layout=True, squeeze=False)
    for row, model in enumerate(shown):
        for col, sid in enumerate(ids):
            fixations = None
            if model == HUMAN_CEILING:
                lengths, xy = human["example_scanpath_length"][col], human["example_scanpath_xy"][col]
                fixations = np.concatenate([xy[j, :k] for j, k in enumerate(lengths)]) / scale
            label = "humans" if model == HUMAN_CEILING else model
            title = (f"{label}, {sid}\nNSS {_per_image(items[model], 'nss', sid):.2f}, "
                     f"CC {_per_image(items[model], 'cc', sid):.2f}")
            plot_density(items[model]["example_density"][col], fixations=fixations, ax=axes[row, col], title=title)
    figure.suptitle("OSIE test images: DiffEye dwell-time density (sigma 1 deg) vs the human fixation density",
                    fontsize=10)
    return figure
