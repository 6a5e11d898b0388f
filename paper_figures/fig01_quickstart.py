"""Figure 1 (quickstart): measured test r of every simulated voxel against its true ceiling r.

Reads the store only: the per-voxel arrays (items.npz) of the latest quickstart run
for panel A, and the per-ROI rows of every quickstart run for panel B.
Build it with ``cogmodels figures --only quickstart``.
"""

from __future__ import annotations

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.viz import grouped_bars, identity_scatter

EXPERIMENT = "quickstart"


def make(results, store_root):
    """Panel A: per-voxel test r vs true ceiling r; panel B: per-ROI means over runs (bars: sd over runs)."""
    import matplotlib.pyplot as plt

    runs = results[results["experiment"] == EXPERIMENT]
    if runs.empty or not (runs["metric"] == "true_ceiling_r").any():
        raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"completed {EXPERIMENT} runs",
                                             "none", f"run `cogmodels run experiment={EXPERIMENT}` first"))
    latest = runs.sort_values("finished")["run_id"].iloc[-1]
    items = load_items(store_root, latest)
    layer = next(name.split("@", 1)[1] for name in items if name.startswith("pearson_r@"))
    rois = [labels.split("|")[0] or "no ROI" for labels in items["rois"]]

    figure, (left, right) = plt.subplots(1, 2, figsize=(9.5, 4.2), constrained_layout=True)
    identity_scatter(items["true_ceiling_r"], items[f"pearson_r@{layer}"], groups=rois, ax=left,
                     xlabel="true ceiling r (simulator)", ylabel=f"measured test r ({layer})",
                     title=f"A  per voxel (run {latest[:8]})")

    # One bar per primary ROI (a channel's first label); grouping labels such as "ventral" are left out.
    per_roi = runs[runs["roi_or_condition"].isin(set(rois) - {"no ROI"})]
    per_roi = per_roi[(per_roi["metric"] == "true_ceiling_r") | (per_roi["layer"] == layer)]
    stats = per_roi.groupby(["roi_or_condition", "metric"])["value"].agg(["mean", "std"]).unstack("metric")
    names = list(stats.index)
    n_runs = runs["run_id"].nunique()
    grouped_bars(names, {"measured r": stats["mean"]["pearson_r"].to_numpy(),
                         "true ceiling r": stats["mean"]["true_ceiling_r"].to_numpy()},
                 errors={"measured r": stats["std"]["pearson_r"].to_numpy()} if n_runs > 1 else None,
                 ax=right, ylabel="mean r over voxels", title=f"B  per ROI ({n_runs} run{'s' * (n_runs > 1)})")
    return figure
