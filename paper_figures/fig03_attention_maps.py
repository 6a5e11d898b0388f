"""Figure 3 (routing transformer): attention maps per ROI over example test images, next to the true objects.

Reads the per-item arrays of the latest ``fmri_encoders`` run of the routing encoder (of the first
subject in sorted order, as figure 4):
``attention@<layer>`` (examples x queries x grid), ``query_names``, ``example_images``
and, from the simulator, ``example_boxes`` / ``example_box_category`` with the
category of each category ROI.  Column 1: the image with its objects.  Then one
column per category ROI: its attention (mean over its hemispheres' queries), with
the boxes of its category; the title gives the share of attention mass inside those
boxes and the share of the image they cover (chance).  Without ground truth (real
data) the columns are the ROIs and no boxes are drawn.
Build it with ``cogmodels figures --only attention_maps``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.viz.brain import attention_in_boxes, attention_overlay, draw_boxes

EXPERIMENT = "fmri_encoders"
CATEGORY_COLORS = ("#e41a1c", "#4daf4a", "#377eb8", "#ff7f00", "#984ea3", "#a65628")


def query_roi(name: str) -> str:
    """ROI of a query name: "lh.FFA" -> "FFA", "rh.V1#2" -> "V1"."""
    return name.split(".")[-1].split("#")[0]


def latest_attention_run(results, store_root):
    """Run id, layer and items of the latest run with stored attention maps, of the first subject (sorted)."""
    runs = results[(results["experiment"] == EXPERIMENT) & (results["head"] != "")]
    runs = runs.sort_values(["subject", "finished"], ascending=[False, True])  # first subject, latest run last
    for run_id in reversed(list(dict.fromkeys(runs["run_id"]))):
        items = load_items(store_root, run_id)
        layers = [name.split("@", 1)[1] for name in items if name.startswith("attention@")]
        if layers:
            return run_id, layers[0], items
    raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"a completed {EXPERIMENT} run of an "
                                         "encoder with attention maps (encoder=routing)", "none",
                                         f"run `cogmodels run experiment={EXPERIMENT} encoder=routing` first"))


def roi_attention(items: dict, layer: str, roi: str) -> np.ndarray | None:
    """Attention of an ROI per example, (n_examples, H, W): the mean over its queries (hemispheres)."""
    names = [query_roi(q) for q in items["query_names"]]
    columns = [k for k, name in enumerate(names) if name == roi]
    return items[f"attention@{layer}"][:, columns].mean(axis=1) if columns else None


def make(results, store_root):
    """Rows: example images; columns: the image with its objects, then one attention map per ROI."""
    import matplotlib.pyplot as plt

    run_id, layer, items = latest_attention_run(results, store_root)
    images = items["example_images"]
    has_truth = "category_rois" in items
    if has_truth:
        columns = [(roi, category) for roi, category in zip(items["category_rois"], items["category_names"])]
    else:
        columns = [(roi, None) for roi in dict.fromkeys(query_roi(q) for q in items["query_names"])][:6]
    colors = dict(zip(items.get("category_names", []), CATEGORY_COLORS))
    n_examples = len(images)
    figure, axes = plt.subplots(n_examples, 1 + len(columns), figsize=(2.1 * (1 + len(columns)), 2.2 * n_examples),
                                squeeze=False, constrained_layout=True)
    ratios = {roi: [] for roi, _ in columns}
    for i in range(n_examples):
        ax = axes[i, 0]
        ax.imshow(images[i])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(items["example_ids"][i]), fontsize="small")
        if has_truth:
            mine = items["example_boxes"][:, 0] == i
            categories = items["example_box_category"][mine]
            draw_boxes(ax, items["example_boxes"][mine, 1:], color=[colors[c] for c in categories], labels=categories)
        for j, (roi, category) in enumerate(columns, start=1):
            attention = roi_attention(items, layer, roi)
            if attention is None:
                axes[i, j].set_axis_off()
                continue
            title = roi
            boxes = None
            if has_truth:
                mine = (items["example_boxes"][:, 0] == i) & (items["example_box_category"] == category)
                boxes = items["example_boxes"][mine, 1:]
                if boxes.size:
                    share, chance = attention_in_boxes(attention[i], boxes, images.shape[1:3])
                    ratios[roi].append(share / chance)
                    title = f"{roi}: {100 * share:.0f}% in box ({100 * chance:.0f}%)"
                else:
                    title = f"{roi}: no {category}"
            attention_overlay(images[i], attention[i], boxes, ax=axes[i, j], title=title,
                              box_color=colors.get(category, "cyan"))
            axes[i, j].title.set_fontsize("small")
    summary = ", ".join(f"{roi} {np.mean(r):.1f}x" for roi, r in ratios.items() if r)
    subject = results.loc[results["run_id"] == run_id, "subject"].iloc[0]
    figure.suptitle(f"Routing-transformer attention per ROI ({subject}, run {run_id[:8]}, layer {layer})"
                    + (f"\nattention mass in box / chance, mean over these images: {summary}" if summary else ""),
                    fontsize="medium")
    return figure
