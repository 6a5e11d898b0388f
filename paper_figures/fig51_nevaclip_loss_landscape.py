"""Figure 51 (NevaClip loss landscape): the search loss over fovea positions for one fixation, per example image.

Reads the store only.  NevaClip's ``density`` is its loss landscape for the
first searched fixation (memory: the central first fixation), on a grid of
fovea positions: ``density ∝ exp(z / T)`` with ``z`` the z-scored similarity
``-loss`` over the grid (:mod:`cogmodels.scanpaths.nevaclip`).  The latest
``scanpath_osie`` run of ``nevaclip`` stores it per example image
(``example_density`` in items.npz, summed over ``example_downsample`` pixel
blocks), so ``log density`` is the landscape up to an affine map (exact on the
grid, bilinear in between).  The second fixation of each stored sample (the
first one searched, under the same memory) is marked: the search should end
in the landscape's valleys.  Build it with
``cogmodels figures --only nevaclip_loss_landscape``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items, load_runs
from cogmodels.scanpaths.evaluate import latest_runs

EXPERIMENT = "scanpath_osie"
MODEL = "nevaclip"


def make(results, store_root):
    """One panel per example image: log density (= -loss up to an affine map) with the searched fixations."""
    import matplotlib.pyplot as plt

    runs = latest_runs(results, EXPERIMENT, f"{store_root}/results.sqlite", required=(MODEL,))
    items = load_items(store_root, runs[MODEL])
    densities, sizes = items["example_density"], items["example_image_size"]
    if densities.size == 0:
        raise DataFormatError(format_problem(f"run {runs[MODEL]} items.npz", "example densities",
                                             "none (evaluation.n_examples=0)", "re-run with evaluation.n_examples=4"))
    config = load_runs(store_root).set_index("run_id")["config"][runs[MODEL]]
    grid = (config.get("scanpath") or {}).get("density_grid", "?")
    n_images = len(densities)
    figure, axes = plt.subplots(1, n_images, figsize=(3.4 * n_images, 2.9), constrained_layout=True, squeeze=False)
    for i in range(n_images):
        width, height = sizes[i]
        landscape = np.log(np.clip(densities[i], 1e-300, None))
        landscape = landscape - landscape.max()
        ax = axes[0, i]
        shown = ax.imshow(landscape, extent=(0, width, height, 0), cmap="viridis")
        lengths, xy = items["example_scanpath_length"][i], items["example_scanpath_xy"][i]
        second = np.array([xy[j, 1] for j, n in enumerate(lengths) if n > 1]).reshape(-1, 2)
        ax.scatter(second[:, 0], second[:, 1], s=14, c="red", edgecolors="white", linewidths=0.5,
                   label="searched fixation")
        ax.scatter([width / 2], [height / 2], marker="+", s=60, c="white", label="first fixation (centre)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"image {items['example_stimulus_id'][i]}", fontsize=9)
        figure.colorbar(shown, ax=ax, shrink=0.8, label="log density (affine in -loss)")
    axes[0, 0].legend(fontsize=6, loc="lower left")
    figure.suptitle(f"NevaClip free viewing: loss landscape of the second fixation over a {grid} grid of fovea "
                    "positions (memory: the central first fixation)", fontsize=9)
    return figure
