"""Figure 20 (RSA on the 92 images): every backbone layer against the human-IT and monkey-IT RDMs.

Reads the rows of experiment ``rsa92`` (task ``rsa``): per backbone (its latest run),
layer and ROI, the mean Spearman correlation between the layer's RDM and the ROI's RDMs
(hIT: the 4 subjects, sessions averaged; mIT_fig1 / hIT_fig1: the RDMs of Kriegeskorte
et al. 2008, figure 1), with 95 % stimulus-bootstrap CIs as error bars.  The grey band
is the noise ceiling of hIT (Nili et al. 2014: lower bound = each subject vs the others'
pooled RDM, upper = vs all subjects' pooled RDM).  Also writes ``tables/rsa92.csv``.
Build it with ``cogmodels figures --only rsa_layers``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cogmodels.errors import DataFormatError, format_problem

log = logging.getLogger(__name__)
EXPERIMENT = "rsa92"


def latest(results):
    runs = results[results["experiment"] == EXPERIMENT]
    if runs.empty:
        raise DataFormatError(format_problem("results.sqlite", f"completed {EXPERIMENT} runs", "none",
                                             f"run `cogmodels run experiment={EXPERIMENT} backbone.layers=[simple,"
                                             f"complex]` and `cogmodels run experiment={EXPERIMENT} backbone=vgg16`"))
    last = runs.sort_values("finished").groupby("backbone")["run_id"].last()
    return runs[runs["run_id"].isin(last.values)]


def make(results, store_root):
    """One panel per ROI: bars per (backbone, layer) with CIs; the hIT noise-ceiling band."""
    import matplotlib.pyplot as plt

    runs = latest(results)
    score = next(m for m in runs["metric"].unique() if m.startswith("rsa_") and not m.endswith(("_low", "_high")))
    rois = list(dict.fromkeys(runs.loc[runs["metric"] == score, "roi_or_condition"]))
    columns = list(dict.fromkeys(zip(runs["backbone"], runs["layer"])))
    columns = [(b, layer) for b, layer in columns if layer]
    table = runs.pivot_table(index=["roi_or_condition", "backbone", "layer"], columns="metric", values="value",
                             aggfunc="first")
    folder = Path(store_root) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "rsa92.csv", float_format="%.6g")
    figure, axes = plt.subplots(1, len(rois), figsize=(3.2 + 2.2 * len(columns) * len(rois) / 3, 3.6),
                                squeeze=False, constrained_layout=True, sharey=True)
    colors = {b: plt.cm.tab10(i) for i, b in enumerate(dict.fromkeys(b for b, _ in columns))}
    for ax, roi in zip(axes[0], rois):
        x = np.arange(len(columns))
        values = [table.loc[(roi, b, layer)] for b, layer in columns]
        mean = np.array([v[score] for v in values])
        low = np.array([v[f"{score}_ci_low"] for v in values])
        high = np.array([v[f"{score}_ci_high"] for v in values])
        ax.bar(x, mean, color=[colors[b] for b, _ in columns], yerr=[mean - low, high - mean], capsize=3)
        ceiling = runs[(runs["roi_or_condition"] == roi) & runs["metric"].isin(["noise_ceiling_lower",
                                                                                 "noise_ceiling_upper"])]
        if not ceiling.empty:
            bounds = ceiling.groupby("metric")["value"].mean()
            ax.axhspan(bounds["noise_ceiling_lower"], bounds["noise_ceiling_upper"], color="0.8", alpha=0.7,
                       zorder=0, label="noise ceiling")
            ax.legend(loc="upper left", fontsize=7, frameon=False)
        ax.axhline(0, color="k", linewidth=0.6)
        ax.set_xticks(x, [f"{b}\n{layer}" for b, layer in columns], fontsize=7, rotation=30)
        n = int(runs.loc[(runs["roi_or_condition"] == roi) & (runs["metric"] == score), "n_items"].max())
        ax.set_title(f"{roi} ({n} RDM{'s' if n > 1 else ''})", fontsize=9)
    axes[0, 0].set_ylabel(f"RDM correlation ({score[4:]})\nmean over RDMs, 95% bootstrap CI")
    weights = "random-init timm backbones (seeded) unless a weights file was given; gabor: fixed filters"
    figure.suptitle(f"RSA on the 92-image set (Kriegeskorte et al. 2008); {weights}", fontsize=8)
    return figure
