"""Figure 22 (routing controls): could the controls prove the routing encoder wrong?

Reads the runs of experiment ``fmri_controls`` (task ``encode_ci`` on nsd_sim's category
channels; issue 8): per simulator mode (``routing``: category channels route their object's
features; ``control``: they pool through fixed receptive fields), study seed
(``dataset.seed``) and subject, each encoder's mean test r over channels and its bootstrap
means over resamples of the test images.  A run's resamples are fixed by its run seed and
its number of test images, so the runs of one (study, subject) with the same run seed were
scored on the same resamples: their per-resample differences are paired.  The figure checks
that (same run seed, same ``n_boot``, same test image ids) before pairing two runs.

Models are named from the run's encoder config: ``ridge``, ``factorized`` (whatever its penalties: the latest
run of a cell counts, e.g. ``encoder=factorized_nsd``), ``pooled_mlp``;
routing encoders by their attention and queries on these channels: ``routing`` (one query
per ROI and hemisphere), ``routing_blind`` (keys carry position only),
``routing_per_channel`` and ``routing_per_channel_blind`` (one query per channel).
"best_nonrouting" is, per study seed, the non-routing model (ridge, factorized, pooled MLP)
with the highest mean test r over that seed's subjects.

Each comparison A - B is the mean over all channels of all (seed, subject) cells of
r(A) - r(B) with its 95% paired-bootstrap CI
(:func:`cogmodels.metrics.stats.pooled_paired_difference`, cells weighted by their channel
count).  Also writes ``tables/routing_controls.csv`` and ``.md``.
Build it with ``cogmodels figures --only routing_controls``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.metrics.stats import pooled_paired_difference
from cogmodels.runner.store import load_items, load_runs

EXPERIMENT = "fmri_controls"
MODES = ("routing", "control")
NON_ROUTING = ("ridge", "factorized", "pooled_mlp")
BEST = "best_nonrouting"
SWEEP = ("`cogmodels run -m experiment=fmri_controls encoder=ridge,factorized_nsd dataset.mode=routing,control "
         "dataset.seed=0,1,2 dataset.subject=subj01,subj02,subj03,subj04` and the routing encoders (see "
         "experiments/conf/experiment/fmri_controls.yaml)")
# (A, B, what the difference measures)
COMPARISONS = (
    ("routing", BEST, "routing vs the best non-routing model"),
    ("routing", "routing_blind", "content-dependent attention (routing proper)"),
    ("routing_blind", BEST, "attention readout without routing"),
    ("pooled_mlp", "ridge", "nonlinear pooled readout vs linear"),
    ("routing_per_channel", "routing", "one query per channel vs per ROI x hemisphere"),
    ("routing_per_channel", BEST, "per-channel queries vs the best non-routing model"),
    ("routing_per_channel", "routing_per_channel_blind", "per-channel queries: content vs blind attention"),
    ("routing_per_channel_blind", BEST, "per-channel blind attention vs the best non-routing model"),
    ("routing", "ridge", "routing vs ridge (the issue 3 comparison)"),
    ("routing_blind", "ridge", "content-blind attention vs ridge (the audit's surviving share)"),
)


def model_name(config: dict) -> str:
    """The model of a run, from its encoder config (routing variants by key_content and category queries)."""
    encoder = config.get("encoder", {})
    name = encoder.get("name", "")
    if name != "routing":
        return name
    query = encoder.get("query_per", "roi_hemisphere")
    query = query.get("*", "roi_hemisphere") if isinstance(query, dict) else query  # category ROIs use "*"
    per_channel = query == "channel_group" and int(encoder.get("group_size", 16)) == 1
    blind = encoder.get("key_content", True) is False
    return "routing" + ("_per_channel" if per_channel else "") + ("_blind" if blind else "")


def cells(store_root) -> pd.DataFrame:
    """One row per latest run of each (mode, study seed, subject, model): its scores and resample facts."""
    runs = load_runs(store_root)
    runs = runs[runs["experiment"] == EXPERIMENT]
    if runs.empty:
        raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"completed {EXPERIMENT} runs", "none",
                                             f"run {SWEEP} first"))
    rows = []
    for run in runs.sort_values("finished").itertuples():
        config = run.config
        dataset = config.get("dataset", {})
        rows.append(dict(run_id=run.run_id, mode=dataset.get("mode", "routing"), study=int(dataset.get("seed", 0)),
                         subject=dataset.get("subject", ""), model=model_name(config), run_seed=int(run.seed or 0),
                         n_boot=int((config.get("encode_ci") or {}).get("n_boot", 1000)), git_sha=run.git_sha or ""))
    # the newest run of each cell, whole rows (groupby().last() would mix columns of different runs)
    table = (pd.DataFrame(rows).drop_duplicates(["mode", "study", "subject", "model"], keep="last")
             .sort_values(["mode", "study", "subject", "model"]).reset_index(drop=True))
    scores, boots, weights, tests = [], [], [], []
    for run_id in table["run_id"]:
        items = load_items(store_root, run_id)
        layer = next((key.split("@", 1)[1] for key in items if key.startswith("boot_pearson_r@")), None)
        if layer is None:
            raise DataFormatError(format_problem(
                f"run {run_id} (items.npz)", "boot_pearson_r@<layer> (task encode_ci)", f"only {sorted(items)[:6]}...",
                "rerun the cell with the fmri_controls experiment (task encode_ci), force=true"))
        r = items[f"pearson_r@{layer}"]
        scores.append(float(np.nanmean(r)))
        weights.append(int(np.isfinite(r).sum()))
        boots.append(np.asarray(items[f"boot_pearson_r@{layer}"], dtype=np.float64))
        tests.append(tuple(items["test_ids"]))
    return table.assign(mean_r=scores, boot=boots, n_channels=weights, test_ids=tests)


def _check_paired(a: pd.Series, b: pd.Series) -> None:
    if (a.run_seed, a.n_boot, a.test_ids) != (b.run_seed, b.n_boot, b.test_ids):
        raise DataFormatError(format_problem(
            f"{EXPERIMENT} runs {a.run_id} ({a.model}) and {b.run_id} ({b.model})",
            "the same run seed, n_boot and test images (then their bootstrap resamples are the same)",
            f"seeds {a.run_seed}/{b.run_seed}, n_boot {a.n_boot}/{b.n_boot}, "
            f"{'same' if a.test_ids == b.test_ids else 'different'} test images",
            "rerun one of them with the other's seed and encode_ci options"))


def with_best_nonrouting(table: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Add model "best_nonrouting" per (mode, study): the non-routing model with the highest mean r there."""
    best, extra = {}, []
    for (mode, study), group in table[table["model"].isin(NON_ROUTING)].groupby(["mode", "study"]):
        means = group.groupby("model")["mean_r"].mean()
        best[(mode, study)] = means.idxmax()
        extra.append(group[group["model"] == best[(mode, study)]].assign(model=BEST))
    return pd.concat([table, *extra], ignore_index=True), best


def compare(table: pd.DataFrame, a: str, b: str, mode: str) -> dict:
    """A - B pooled over the (study, subject) cells of ``mode`` where both ran."""
    sub = table[table["mode"] == mode].set_index(["study", "subject", "model"]).sort_index()
    keys = sorted({k[:2] for k in sub.index if k[2] == a} & {k[:2] for k in sub.index if k[2] == b})
    if not keys:
        return dict(mode=mode, a=a, b=b, difference=np.nan, ci_low=np.nan, ci_high=np.nan, n_cells=0)
    rows_a = [sub.loc[key + (a,)] for key in keys]
    rows_b = [sub.loc[key + (b,)] for key in keys]
    for row_a, row_b in zip(rows_a, rows_b):
        _check_paired(row_a, row_b)
    diff, low, high = pooled_paired_difference(
        [r.mean_r for r in rows_a], [r.mean_r for r in rows_b], np.stack([r.boot for r in rows_a], axis=1),
        np.stack([r.boot for r in rows_b], axis=1), weights=[r.n_channels for r in rows_a])
    return dict(mode=mode, a=a, b=b, difference=diff, ci_low=low, ci_high=high, n_cells=len(keys))


def controls_table(store_root) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(comparisons, mean test r per mode x model with cell counts, best non-routing model per (mode, study))."""
    table, best = with_best_nonrouting(cells(store_root))
    comparisons = pd.DataFrame([compare(table, a, b, mode) for a, b, _ in COMPARISONS for mode in MODES])
    plain = table[table["model"] != BEST]
    means = plain.groupby(["mode", "model"]).agg(mean_r=("mean_r", "mean"), n_cells=("mean_r", "size")).reset_index()
    means.attrs["git_sha"] = sorted({sha[:10] for sha in plain["git_sha"] if sha})
    return comparisons, means, best


def write_tables(comparisons: pd.DataFrame, means: pd.DataFrame, best: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    comparisons.to_csv(folder / "routing_controls.csv", index=False, float_format="%.6g")
    lines = ["| A - B | routing study | control study | what it measures |", "|---|---|---|---|"]
    for a, b, what in COMPARISONS:
        cells_ = []
        for mode in MODES:
            row = comparisons[(comparisons["a"] == a) & (comparisons["b"] == b) & (comparisons["mode"] == mode)].iloc[0]
            cells_.append("not run" if row.n_cells == 0 else
                          f"{row.difference:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}] n={row.n_cells}")
        lines.append(f"| {a} - {b} | {cells_[0]} | {cells_[1]} | {what} |")
    lines += ["", "| model | " + " | ".join(f"{m} study: mean test r (cells)" for m in MODES) + " |", "|---|---|---|"]
    for model in dict.fromkeys(means["model"]):
        row = [means[(means["model"] == model) & (means["mode"] == m)] for m in MODES]
        lines.append(f"| {model} | " + " | ".join(f"{r['mean_r'].iloc[0]:.3f} ({r['n_cells'].iloc[0]})" if len(r)
                                                  else "-" for r in row) + " |")
    lines.append("\nBest non-routing model per (mode, study seed): "
                 + ", ".join(f"{mode} seed {study}: {name}" for (mode, study), name in sorted(best.items()))
                 + ".  Mean over the category channels of all (study seed, subject) cells; 95% paired-bootstrap "
                   "CIs over test images.  Runs from commit(s) " + (", ".join(means.attrs.get("git_sha", [])) or "-")
                 + ".")
    (folder / "routing_controls.md").write_text("\n".join(lines) + "\n")


def make(results, store_root):
    """Per simulator mode: each comparison A - B with its paired-bootstrap 95% CI."""
    import matplotlib.pyplot as plt

    comparisons, means, best = controls_table(store_root)
    write_tables(comparisons, means, best, Path(store_root) / "tables")
    labels = [f"{a} - {b}" for a, b, _ in COMPARISONS]
    figure, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(labels) + 1.6), sharey=True, constrained_layout=True)
    for ax, mode in zip(axes, MODES):
        rows = comparisons[comparisons["mode"] == mode].set_index(["a", "b"]).reindex(
            [(a, b) for a, b, _ in COMPARISONS])
        y = np.arange(len(labels))[::-1]
        diff = rows["difference"].to_numpy(float)
        err = np.vstack([diff - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - diff])
        excludes = (rows["ci_low"].to_numpy(float) > 0) | (rows["ci_high"].to_numpy(float) < 0)
        ax.errorbar(diff, y, xerr=err, fmt="none", ecolor="0.4", capsize=3)
        ax.scatter(diff, y, c=np.where(excludes, "tab:red", "tab:gray"), zorder=3)
        for yk, n_cells in zip(y, rows["n_cells"].fillna(0).astype(int)):
            ax.annotate(f"n={n_cells}", (1.0, yk), xycoords=("axes fraction", "data"), xytext=(3, 0),
                        textcoords="offset points", ha="left", va="center", fontsize=7, color="0.4")
        ax.axvline(0, color="k", linewidth=0.8)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlabel("difference in mean test r (category channels)")
        ax.set_title(f"{mode} study (n = study seed x subject cells)", fontsize=9)
    figure.suptitle("nsd_sim controls: paired-bootstrap 95% CIs over test images (red: CI excludes 0)", fontsize=10)
    return figure
