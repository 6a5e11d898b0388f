"""Figure 30 (search paradigms): one example display per condition of the six asymmetry experiments.

Reads the store only: the example displays (largest set size of each condition)
that the ``search_asymmetry`` task stores in items.npz, from the latest run of
the first model found; the target is outlined in red.
Build it with ``cogmodels figures --only search_paradigms``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.runner.store import load_items
from cogmodels.runner.tasks.search import latest_search_runs

EXPERIMENT = "search_asymmetry"  # the runs it reads (latest_search_runs); also how `cogmodels report` finds it


def make(results, store_root):
    import matplotlib.pyplot as plt

    runs = latest_search_runs(results, f"{store_root}/results.sqlite")
    items = load_items(store_root, next(iter(runs.values())))
    ids = [str(i) for i in items["example_ids"]]
    n_cols = 4
    n_rows = int(np.ceil(len(ids) / n_cols))
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 2.8 * n_rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, trial_id in enumerate(ids):
        ax = axes.ravel()[k]
        image, mask = items[f"example{k}_image"], items[f"example{k}_mask"]
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.contour(mask, levels=[0.5], colors="red", linewidths=0.8)
        paradigm, condition, size, _ = trial_id.split("/")
        ax.set_title(f"{paradigm}\n{condition.replace('_', ' ')} ({size[1:].lstrip('0')} items)", fontsize=8)
    figure.suptitle("Visual search asymmetry paradigms (generated at 30 px/deg; target outlined)", fontsize=10)
    figure.tight_layout()
    return figure
