"""Figure 5 (new subject): learning curves of transfer, from-scratch and ridge encoders.

Reads the runs of experiment ``fmri_new_subject`` (task ``fit_subject``; heads
``transfer`` / ``transfer+queries``, ``scratch`` and ``ridge``), the number of training
images of each run (the length of its per-item ``train_ids``) and each head's bootstrap
means over resamples of the test images (``boot_pearson_r@<head>``: the same resamples for
every head of a run, so differences between heads are paired).  Runs with the same number
of training images (other new subjects, other subset seeds) are pooled, weighted by their
channel counts.

* A: mean test r over all channels against the number of training images, per head, with
  95% bootstrap CIs over test images; the noise ceiling on the r scale.
* B: paired differences transfer - scratch and transfer - ridge, with 95% paired-bootstrap
  CIs (:func:`cogmodels.metrics.stats.pooled_paired_difference`).
* C: transfer - scratch per ROI (each channel's first ROI label).

Build it with ``cogmodels figures --only new_subject``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.metrics.stats import percentile_ci, pooled_paired_difference
from cogmodels.runner.store import load_items
from cogmodels.viz.brain import learning_curve

EXPERIMENT = "fmri_new_subject"
HEADS = ("transfer", "transfer+queries", "scratch", "ridge")


def with_n_train(runs, store_root):
    """The rows with a column n_train (training images of their run, from its train_ids)."""
    sizes = {run_id: len(load_items(store_root, run_id)["train_ids"]) for run_id in dict.fromkeys(runs["run_id"])}
    return runs.assign(n_train=runs["run_id"].map(sizes))


def head_scores(store_root, run_ids, head: str):
    """Per run: mean r over channels, its resample means (n_boot,) and channel count; None if a run lacks them."""
    points, boots, weights = [], [], []
    for run_id in run_ids:
        items = load_items(store_root, run_id)
        if f"boot_pearson_r@{head}" not in items or f"pearson_r@{head}" not in items:
            return None
        r = items[f"pearson_r@{head}"]
        points.append(float(np.nanmean(r)))
        weights.append(int(np.isfinite(r).sum()))
        boots.append(np.asarray(items[f"boot_pearson_r@{head}"], dtype=np.float64))
    return np.asarray(points), np.stack(boots, axis=1), np.asarray(weights, dtype=np.float64)


def learning_curves(runs, store_root, heads) -> dict:
    """head -> (n_values, mean r, CI low, CI high) and ("A - B") -> paired differences, pooled per n_train."""
    n_values = np.array(sorted(set(runs["n_train"])))
    curves, differences = {}, {}
    for head in heads:
        mean, low, high = [], [], []
        for n in n_values:
            scores = head_scores(store_root, list(dict.fromkeys(runs[runs["n_train"] == n]["run_id"])), head)
            if scores is None:  # runs from before the bootstrap was stored: no resamples, so the point is not drawn
                mean.append(np.nan)
                low.append(np.nan)
                high.append(np.nan)
                continue
            point, boot, weight = scores
            weight = weight / weight.sum()
            lo, hi = percentile_ci((boot @ weight)[:, None])
            mean.append(float(point @ weight))
            low.append(float(lo[0]))
            high.append(float(hi[0]))
        curves[head] = (n_values, np.array(mean), np.array(low), np.array(high))
    transfer = next((h for h in ("transfer", "transfer+queries") if h in heads), None)
    for other in ("scratch", "ridge"):
        if transfer is None or other not in heads:
            continue
        values = []
        for n in n_values:
            run_ids = list(dict.fromkeys(runs[runs["n_train"] == n]["run_id"]))
            a, b = head_scores(store_root, run_ids, transfer), head_scores(store_root, run_ids, other)
            values.append((np.nan,) * 3 if a is None or b is None else
                          pooled_paired_difference(a[0], b[0], a[1], b[1], weights=a[2]))
        differences[f"{transfer} - {other}"] = (n_values, *np.array(values).T)
    return curves, differences


def make(results, store_root):
    """A: mean r vs n_train per head (CIs); B: paired differences; C: per-ROI transfer - scratch."""
    import matplotlib.pyplot as plt

    runs = results[(results["experiment"] == EXPERIMENT)]
    if runs.empty or not (runs["head"] == "scratch").any():
        raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"completed {EXPERIMENT} runs with "
                                             "transfer and scratch heads", "none",
                                             f"run `cogmodels run -m experiment={EXPERIMENT} "
                                             "transfer.n_train=25,50,100,200,null` first"))
    runs = with_n_train(runs, store_root)
    subjects = sorted(set(runs["subject"]))
    heads = [h for h in HEADS if (runs["head"] == h).any()]
    curves, differences = learning_curves(runs, store_root, heads)
    n_values = next(iter(curves.values()))[0]
    ceiling = runs[(runs["metric"] == "noise_ceiling_r") & (runs["roi_or_condition"] == "all")]["value"]

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    learning_curve(n_values, {h: c[1] for h, c in curves.items()},
                   errors={h: np.vstack([c[1] - c[2], c[3] - c[1]]) for h, c in curves.items()},
                   ceiling=float(ceiling.mean()) if len(ceiling) else None, ax=left,
                   ylabel="mean test r (all channels)",
                   title=f"A  new subject {', '.join(subjects)}: 95% CIs over test images")
    if differences:
        learning_curve(n_values, {k: d[1] for k, d in differences.items()},
                       errors={k: np.vstack([d[1] - d[2], d[3] - d[1]]) for k, d in differences.items()},
                       ax=middle, ylabel="difference in mean test r", title="B  paired differences (95% CIs)")
        middle.axhline(0, color="0.5", linewidth=0.8)
    transfer = next((h for h in ("transfer", "transfer+queries") if h in heads), heads[0])
    scores = runs[runs["metric"] == "pearson_r"]
    labels = load_items(store_root, runs["run_id"].iloc[-1])["rois"]
    rois = list(dict.fromkeys(label.split("|")[0] for label in labels if label))
    per_roi = scores[scores["roi_or_condition"].isin(rois)].groupby(["head", "roi_or_condition", "n_train"])["value"]
    per_roi = per_roi.mean()
    difference = {roi: (per_roi.loc[transfer, roi] - per_roi.loc["scratch", roi]).reindex(n_values).to_numpy()
                  for roi in rois}
    learning_curve(n_values, difference, ax=right, ylabel=f"{transfer} r - scratch r",
                   title="C  gain from transfer, per ROI")
    right.axhline(0, color="0.5", linewidth=0.8)
    right.legend(frameon=False, fontsize="small", ncol=2)
    return figure
