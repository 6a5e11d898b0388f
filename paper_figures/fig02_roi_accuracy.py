"""Figure 2 (fMRI encoders): test accuracy per ROI for each encoder, with the noise ceiling drawn.

Reads the rows of experiment ``fmri_encoders``: per backbone, encoder (head) and ROI,
the mean test Pearson r over channels, averaged over runs (subjects, seeds; error
bars: sd over runs when there are several).  Black segments: the noise ceiling on
the r scale (mean sqrt(NC), NC estimated from the repeats); dashed: the
simulator's true ceiling.  Panel B: noise-normalised accuracy (Algonauts 2023, %).
For backbones with several layers, each encoder is shown at its best layer (mean r
over all channels).  The ROIs are each channel's first ROI label (per-item "rois").
Build it with ``cogmodels figures --only roi_accuracy``.
"""

from __future__ import annotations

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.viz.brain import roi_accuracy_bars

EXPERIMENT = "fmri_encoders"


def primary_rois(root, run_id: str) -> list[str]:
    """The first ROI label of each channel of a run, in order of appearance ("V1|early" -> "V1")."""
    labels = load_items(root, run_id)["rois"]
    return list(dict.fromkeys(label.split("|")[0] for label in labels if label))


def best_layers(runs) -> dict:
    """(backbone, head) -> the layer with the highest mean test r over all channels."""
    scores = runs[(runs["metric"] == "pearson_r") & (runs["roi_or_condition"] == "all")]
    means = scores.groupby(["backbone", "head", "layer"])["value"].mean().reset_index()
    best = means.loc[means.groupby(["backbone", "head"])["value"].idxmax()]
    return {(b, h): layer for b, h, layer in zip(best["backbone"], best["head"], best["layer"])}


def _per_roi(table, rois):
    stats = table.groupby("roi_or_condition")["value"].agg(["mean", "std", "count"]).reindex(rois)
    return stats["mean"].to_numpy(), stats["std"].fillna(0.0).to_numpy(), int(stats["count"].max())


def make(results, store_root):
    """One row of panels per backbone: A mean test r per ROI (with ceilings), B normalised accuracy."""
    import matplotlib.pyplot as plt

    runs = results[results["experiment"] == EXPERIMENT]
    if runs.empty or not (runs["metric"] == "pearson_r").any():
        raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"completed {EXPERIMENT} runs",
                                             "none", f"run `cogmodels run -m experiment={EXPERIMENT} "
                                             f"encoder=ridge,factorized,routing` first"))
    rois = primary_rois(store_root, runs["run_id"].iloc[-1])
    layers = best_layers(runs)
    backbones = list(dict.fromkeys(runs["backbone"]))
    figure, axes = plt.subplots(len(backbones), 2, figsize=(13, 3.8 * len(backbones)), squeeze=False,
                                constrained_layout=True, gridspec_kw={"width_ratios": [3, 2]})
    for (left, right), backbone in zip(axes, backbones):
        table = runs[runs["backbone"] == backbone]
        heads = [h for h in dict.fromkeys(table["head"]) if h and (backbone, h) in layers]
        accuracy, errors, normalized, n_runs = {}, {}, {}, 1
        for head in heads:
            rows = table[(table["head"] == head) & (table["layer"] == layers[backbone, head])]
            label = head if len(set(table["layer"]) - {""}) <= 1 else f"{head} ({layers[backbone, head]})"
            accuracy[label], errors[label], n = _per_roi(rows[rows["metric"] == "pearson_r"], rois)
            n_runs = max(n_runs, n)
            if (rows["metric"] == "normalized_accuracy").any():
                normalized[label] = _per_roi(rows[rows["metric"] == "normalized_accuracy"], rois)[0]
        ceilings = {metric: _per_roi(table[table["metric"] == metric], rois)[0]
                    for metric in ("noise_ceiling_r", "true_ceiling_r") if (table["metric"] == metric).any()}
        subjects = sorted(set(table["subject"]))
        roi_accuracy_bars(rois, accuracy, ceiling=ceilings.get("noise_ceiling_r"),
                          errors=errors if n_runs > 1 else None, true_ceiling=ceilings.get("true_ceiling_r"),
                          ax=left, ylabel="mean test r over channels",
                          title=f"A  {backbone}: test r per ROI ({len(subjects)} subject(s): {', '.join(subjects)})")
        if normalized:
            roi_accuracy_bars(rois, normalized, ax=right, ylabel="noise-normalised accuracy (%)",
                              title="B  r² / NC x 100 (Algonauts 2023)")
            right.set_ylim(0, 125)
            right.set_yticks(range(0, 101, 20))
        else:
            right.set_axis_off()
            right.text(0.5, 0.5, "no repeats: no noise ceiling", ha="center", va="center")
    return figure
