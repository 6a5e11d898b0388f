"""Figure 5 (new subject): accuracy against the number of training images, transfer vs from scratch.

Reads the rows of experiment ``fmri_new_subject`` (heads ``transfer`` /
``transfer+queries`` and ``scratch``) and the number of training images of each run
(the length of its per-item ``train_ids``).  Panel A: mean test r over all channels
(mean over runs with the same n, e.g. seeds; error bars: sd), with the noise ceiling on
the r scale.  Panel B: transfer minus scratch, per ROI (each channel's first ROI label).
Build it with ``cogmodels figures --only new_subject``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.viz.brain import learning_curve

EXPERIMENT = "fmri_new_subject"


def with_n_train(runs, store_root):
    """The rows with a column n_train (training images of their run, from its train_ids)."""
    sizes = {run_id: len(load_items(store_root, run_id)["train_ids"]) for run_id in dict.fromkeys(runs["run_id"])}
    return runs.assign(n_train=runs["run_id"].map(sizes))


def make(results, store_root):
    """A: mean r vs n_train per head; B: per-ROI difference transfer - scratch vs n_train."""
    import matplotlib.pyplot as plt

    runs = results[(results["experiment"] == EXPERIMENT)]
    if runs.empty or not (runs["head"] == "scratch").any():
        raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"completed {EXPERIMENT} runs with "
                                             "transfer and scratch heads", "none",
                                             f"run `cogmodels run -m experiment={EXPERIMENT} "
                                             "transfer.n_train=50,100,300` first"))
    runs = with_n_train(runs, store_root)
    subjects = sorted(set(runs["subject"]))
    scores = runs[runs["metric"] == "pearson_r"]
    n_values = np.array(sorted(set(scores["n_train"])))
    overall = scores[scores["roi_or_condition"] == "all"].groupby(["head", "n_train"])["value"]
    means, sds = overall.mean().unstack("n_train"), overall.std().unstack("n_train")
    heads = [h for h in ("transfer", "transfer+queries", "scratch") if h in means.index]
    ceiling = runs[(runs["metric"] == "noise_ceiling_r") & (runs["roi_or_condition"] == "all")]["value"]

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    learning_curve(n_values, {h: means.loc[h].reindex(n_values).to_numpy() for h in heads},
                   errors={h: sds.loc[h].reindex(n_values).fillna(0).to_numpy() for h in heads},
                   ceiling=float(ceiling.mean()) if len(ceiling) else None, ax=left,
                   ylabel="mean test r (all channels)",
                   title=f"A  new subject {', '.join(subjects)}: transfer vs from scratch")
    transfer = "transfer" if "transfer" in heads else heads[0]
    labels = load_items(store_root, runs["run_id"].iloc[-1])["rois"]
    rois = list(dict.fromkeys(label.split("|")[0] for label in labels if label))
    per_roi = scores[scores["roi_or_condition"].isin(rois)].groupby(["head", "roi_or_condition", "n_train"])["value"]
    per_roi = per_roi.mean()
    difference = {roi: (per_roi.loc[transfer, roi] - per_roi.loc["scratch", roi]).reindex(n_values).to_numpy()
                  for roi in rois}
    learning_curve(n_values, difference, ax=right, ylabel=f"{transfer} r - scratch r",
                   title="B  gain from transfer, per ROI")
    right.axhline(0, color="0.5", linewidth=0.8)
    right.legend(frameon=False, fontsize="small", ncol=2)
    return figure
