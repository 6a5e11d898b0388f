"""Figure 41 (OAT on OSIE): OAT's sampled scanpaths next to human scanpaths on OSIE test images.

Reads the store only: the example scanpaths and densities kept in items.npz by the
latest ``scanpath_osie`` runs of ``another_human`` (human scanpaths) and ``oat``
(its samples and density).  Rows: humans, OAT samples, OAT density.
Build it with ``cogmodels figures --only oat_osie_scanpaths``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cogmodels.runner.figures import load_figure_module
from cogmodels.viz.gaze import plot_density, plot_scanpaths

EXPERIMENT = "scanpath_osie"
MODEL = "oat"
N_SHOWN = 4


def _fig10():
    """Figure 10's module (its helpers are reused here), loaded as the figure runner loads scripts."""
    return load_figure_module(Path(__file__).with_name("fig10_scanpath_examples.py"))


def make(results, store_root):
    """Humans (top), OAT samples (middle) and OAT's density (bottom) on the example test images."""
    import matplotlib.pyplot as plt

    fig10 = _fig10()
    _, humans, model, images = fig10.model_examples(results, store_root, EXPERIMENT, MODEL)
    n = len(humans["example_stimulus_id"])
    figure, axes = plt.subplots(3, n, figsize=(3.2 * n, 7.0), constrained_layout=True, squeeze=False)
    for i in range(n):
        image = images[i]
        sid = humans["example_stimulus_id"][i]
        plot_scanpaths(image, fig10.unpack_scanpaths(humans, i, N_SHOWN), ax=axes[0, i], title=f"humans, {sid}")
        plot_scanpaths(image, fig10.unpack_scanpaths(model, i, N_SHOWN), ax=axes[1, i], title=f"OAT samples, {sid}")
        density = model["example_density"][i]
        plot_density(density / max(float(np.sum(density)), 1e-12), ax=axes[2, i], title=f"OAT density, {sid}")
    figure.suptitle(f"OSIE test images (train 1001-1400): {N_SHOWN} scanpaths each; OAT with grid-cell objects",
                    fontsize=10)
    return figure
