"""Figure 12 (scanpath densities): human fixation density vs baseline densities on OSIE test images.

Reads the store only: the example densities kept in items.npz by the latest
``scanpath_baselines`` runs (``another_human``: Gaussian density of all subjects'
fixations, sigma 1 deg, with the fixations dotted; baselines: their model density).
Build it with ``cogmodels figures --only scanpath_densities``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.scanpaths.evaluate import HUMAN_CEILING, latest_runs
from cogmodels.viz.gaze import plot_density

EXPERIMENT = "scanpath_baselines"
MODELS = ("center_bias", "density_sampling")


def human_fixations(items: dict, image: int, scale: float) -> np.ndarray:
    """All stored human fixations of one example image, (n, 2), in density-map pixels."""
    lengths = items["example_scanpath_length"][image]
    xy = items["example_scanpath_xy"][image]
    return np.concatenate([xy[j, :n] for j, n in enumerate(lengths)]) / scale


def make(results, store_root):
    """Rows: humans, then each baseline with a run; columns: the example test images."""
    import matplotlib.pyplot as plt

    where = f"{store_root}/results.sqlite"
    runs = latest_runs(results, EXPERIMENT, where)
    shown = [m for m in (HUMAN_CEILING, *MODELS) if m in runs]
    if HUMAN_CEILING not in shown or len(shown) < 2:
        raise DataFormatError(format_problem(where, f"{EXPERIMENT} runs of {HUMAN_CEILING} and a baseline",
                                             f"runs of {sorted(runs)}", "run the scanpath_baselines sweep"))
    items = {m: load_items(store_root, runs[m]) for m in shown}
    ids = items[HUMAN_CEILING]["example_stimulus_id"]
    for model in shown:
        if not np.array_equal(items[model]["example_stimulus_id"], ids):
            raise DataFormatError(format_problem(f"run {runs[model]} items.npz example_stimulus_id",
                                                 f"the example images of the {HUMAN_CEILING} run {list(ids)}",
                                                 f"{list(items[model]['example_stimulus_id'])}",
                                                 "re-run both with the same dataset split and evaluation.n_examples"))
    human = items[HUMAN_CEILING]
    scale = human["example_image_size"][0][0] / human["example_density"].shape[2]
    figure, axes = plt.subplots(len(shown), len(ids), figsize=(2.6 * len(ids), 2.1 * len(shown)),
                                constrained_layout=True, squeeze=False)
    for row, model in enumerate(shown):
        for col, sid in enumerate(ids):
            fixations = human_fixations(human, col, scale) if model == HUMAN_CEILING else None
            label = "humans (all subjects)" if model == HUMAN_CEILING else model
            plot_density(items[model]["example_density"][col], fixations=fixations, ax=axes[row, col],
                         title=f"{label}, {sid}")
    figure.suptitle("Fixation density on OSIE test images (humans: sigma 1 deg, dots: fixations)", fontsize=10)
    return figure
