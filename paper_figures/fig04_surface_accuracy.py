"""Figure 4 (fMRI encoders): test accuracy on the fsaverage5 cortical surface.

Reads the per-item arrays of ``fmri_encoders`` runs of one subject and backbone (the
first subject and backbone in the store): each channel's test r (``pearson_r@<layer>``,
the encoder's best layer) at its fsaverage5 vertex (``vertex``, ``hemisphere``),
painted onto the vertices within 4 mm of it; the last row is the noise ceiling on
the r scale (sqrt NC, estimated from the repeats).  Lateral, ventral and posterior views of
both hemispheres on nilearn's inflated fsaverage5 (bundled with nilearn: no network).
Build it with ``cogmodels figures --only surface_accuracy``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.viz.brain import FSAVERAGE5_VERTICES, surface_map, surface_values

EXPERIMENT = "fmri_encoders"
VIEWS = ("lateral", "ventral", "posterior")
RADIUS_MM = 4.0


def surface_runs(results, store_root) -> tuple[str, str, list[tuple[str, str, dict]]]:
    """Subject, backbone and [(head, layer, items)] of the latest run of each encoder."""
    runs = results[(results["experiment"] == EXPERIMENT) & (results["metric"] == "pearson_r")]
    if runs.empty:
        raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"completed {EXPERIMENT} runs", "none",
                                             f"run `cogmodels run experiment={EXPERIMENT}` first"))
    subject, backbone = sorted(set(runs["subject"]))[0], sorted(set(runs["backbone"]))[0]
    runs = runs[(runs["subject"] == subject) & (runs["backbone"] == backbone)].sort_values("finished")
    overall = runs[runs["roi_or_condition"] == "all"]
    chosen = []
    for head in dict.fromkeys(runs["head"]):
        mine = overall[overall["head"] == head]
        best = mine.loc[mine["value"].idxmax()]
        latest = mine[mine["layer"] == best["layer"]]["run_id"].iloc[-1]
        items = load_items(store_root, latest)
        if "vertex" not in items:
            raise DataFormatError(format_problem(f"items of run {latest}", "per-channel 'vertex' and "
                                                 "'hemisphere' (channels on a surface)", "no vertex array",
                                                 "use a dataset whose channel table has a vertex column"))
        chosen.append((head, best["layer"], items))
    return subject, backbone, chosen


def make(results, store_root):
    """Rows: encoders, then the noise ceiling; columns: hemisphere x view."""
    import matplotlib.pyplot as plt

    subject, backbone, chosen = surface_runs(results, store_root)
    panels = [(f"{head}\n({layer})", items[f"pearson_r@{layer}"], items) for head, layer, items in chosen]
    if "noise_ceiling_r" in chosen[0][2]:
        panels.append(("noise ceiling\n(sqrt NC)", chosen[0][2]["noise_ceiling_r"], chosen[0][2]))
    n_columns = 2 * len(VIEWS)
    figure = plt.figure(figsize=(2.6 * n_columns, 2.4 * len(panels)), constrained_layout=True)
    axes = figure.subplots(len(panels), n_columns, subplot_kw={"projection": "3d"}, squeeze=False)
    for row, (label, values, items) in zip(axes, panels):
        on_mesh = items["vertex"] < FSAVERAGE5_VERTICES  # channels beyond fsaverage5 (e.g. fsaverage7) left out
        painted = surface_values(np.asarray(values)[on_mesh], items["vertex"][on_mesh],
                                 items["hemisphere"][on_mesh], radius_mm=RADIUS_MM)
        surface_map(painted, views=VIEWS, axes=row, vmin=0.0, vmax=1.0, cmap="inferno", title=label)
    mappable = plt.cm.ScalarMappable(cmap="inferno", norm=plt.Normalize(0.0, 1.0))
    figure.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.5, label="test r")
    figure.suptitle(f"Test r on fsaverage5: {subject}, backbone {backbone} ({len(chosen[0][2]['vertex'])} channels)",
                    fontsize="medium")
    return figure
