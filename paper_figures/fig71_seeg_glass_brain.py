"""Figure 71 (SEEG glass brain): electrodes in MNI space on a nilearn glass brain, coloured by their best model.

Reads the store only: the items of the latest ``seeg_integration`` run (coordinates in mm, the model with
the highest mean test r over the comparison window; integration sites are drawn larger, ringed in black).
Build it with ``cogmodels figures --only seeg_glass_brain``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cogmodels.runner.figures import load_figure_module

COLOURS = {"vision": "tab:blue", "language": "tab:orange", "concat": "tab:green", "multimodal": "tab:red",
           "vl_image": "tab:purple", "multimodal_random": "tab:gray", "vl_image_random": "tab:brown"}


def _fig70():
    """Figure 70's module (its latest-run helpers), loaded as the figure runner loads scripts."""
    return load_figure_module(Path(__file__).with_name("fig70_seeg_time_courses.py"))


def make(results, store_root):
    import matplotlib.pyplot as plt
    from nilearn import plotting

    _, items = _fig70().latest_items(results, store_root)
    subjects = sorted({key.split("@")[-1] for key in items if key.startswith("label@")})
    xyz = np.concatenate([np.stack([items[f"{c}@{s}"] for c in "xyz"], 1) for s in subjects])
    best = np.concatenate([items[f"best_model@{s}"] for s in subjects])
    integration = np.concatenate([items[f"label@{s}"] == "integration" for s in subjects])
    known = np.isfinite(xyz).all(1)
    fig = plt.figure(figsize=(9, 3.4))
    display = plotting.plot_glass_brain(None, display_mode="lzr", figure=fig, title="best model per electrode")
    for model in sorted(set(best[known])):
        pick = known & (best == model)
        display.add_markers(xyz[pick], marker_color=COLOURS.get(model, "k"), marker_size=12)
        fig.axes[0].plot([], [], "o", color=COLOURS.get(model, "k"), label=f"{model} ({int(pick.sum())})")
    if (known & integration).any():
        display.add_markers(xyz[known & integration], marker_color="none", marker_size=40, edgecolors="k",
                            linewidths=1.0)
    fig.axes[0].legend(fontsize=6, loc="lower left", bbox_to_anchor=(0, -0.25), ncol=4, frameon=False)
    return fig
