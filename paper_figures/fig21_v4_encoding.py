"""Figure 21 (V4 encoding): test r and noise-normalised r of each backbone x encoder on real V4 responses.

Reads the rows of experiment ``v4_encoding`` (task ``encode_ci``; Cowley et al. 2023,
session 210325, seeded image split): per backbone, encoder and layer (the latest run of
each backbone x encoder), the mean over neurons of the test Pearson r and of the
noise-normalised r (r / sqrt of the Spearman-Brown split-half reliability), with 95 %
bootstrap CIs over test images.  The dashed line in panel A is the mean ceiling r.
Also writes ``tables/v4_encoding.csv`` and ``.md`` (the must-show table); the ``.md`` names the git
commit(s) the runs were made at (from each run's ``meta.json``) and says so when they differ.
Build it with ``cogmodels figures --only v4_encoding``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.errors import DataFormatError, format_problem

EXPERIMENT = "v4_encoding"
METRICS = ("pearson_r", "normalized_r")
ROUTING_NOTE = ("routing: the encoder config routing_v4 (one query per neuron); layers are reported as fitted, no "
                "layer is picked on the test set.")


def v4_table(results) -> tuple[pd.DataFrame, dict]:
    """One row per (backbone, encoder, layer): the metrics and their CIs; plus the reliability facts."""
    runs = results[results["experiment"] == EXPERIMENT]
    if runs.empty:
        raise DataFormatError(format_problem("results.sqlite", f"completed {EXPERIMENT} runs", "none",
                                             f"run `cogmodels run -m experiment={EXPERIMENT} backbone=gabor,resnet50,"
                                             "vgg16,vit_small_patch14_dinov2 encoder=ridge,factorized,routing_v4`"))
    scored = runs[runs["metric"] == "pearson_r"]
    last = scored.sort_values("finished").groupby(["backbone", "head"])["run_id"].last()
    runs = runs[runs["run_id"].isin(last.values) & (runs["roi_or_condition"] == "all")]
    facts = {"run_ids": list(last.values)}
    facts.update(runs[runs["layer"].fillna("") == ""].groupby("metric")["value"].mean().to_dict())
    layered = runs[runs["layer"].fillna("") != ""]
    table = layered.pivot_table(index=["backbone", "head", "layer"], columns="metric", values="value",
                                aggfunc="first", sort=False)
    columns = [c for m in METRICS for c in (m, f"{m}_ci_low", f"{m}_ci_high") if c in table.columns]
    return table[columns].reset_index(), facts


def run_commits(store_root, run_ids) -> dict:
    """Git sha (short) -> number of runs, from the ``meta.json`` of each run folder of the store."""
    import json

    from cogmodels.runner.store import ResultsStore

    store = ResultsStore(Path(store_root))
    commits: dict[str, int] = {}
    for run_id in run_ids:
        meta = store.run_dir(EXPERIMENT, run_id) / "meta.json"
        sha = str(json.loads(meta.read_text()).get("git_sha") or "unknown")[:7] if meta.exists() else "unknown"
        commits[sha] = commits.get(sha, 0) + 1
    return commits


def write_tables(table: pd.DataFrame, facts: dict, folder: Path, commits: dict | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "v4_encoding.csv", index=False, float_format="%.6g")
    lines = ["| backbone | encoder | layer | test r [95% CI] | noise-normalised r [95% CI] |", "|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        cells = [f"{getattr(row, m):.3f} [{getattr(row, m + '_ci_low'):.3f}, {getattr(row, m + '_ci_high'):.3f}]"
                 for m in METRICS]
        lines.append(f"| {row.backbone} | {row.head} | {row.layer} | {cells[0]} | {cells[1]} |")
    lines.append(f"\nMean over neurons; split-half r {facts.get('split_half_r', np.nan):.3f}, Spearman-Brown "
                 f"reliability {facts.get('reliability', np.nan):.3f}, ceiling r {facts.get('ceiling_r', np.nan):.3f}. "
                 f"{ROUTING_NOTE}")
    if commits:
        listed = ", ".join(f"{sha} ({n} runs)" for sha, n in commits.items())
        lines.append(f"Runs from git commit {listed}" if len(commits) == 1 else
                     f"Runs from SEVERAL git commits: {listed}; rerun the sweep at one commit to compare cells.")
    (folder / "v4_encoding.md").write_text("\n".join(lines) + "\n")


def _wrap(name: str, width: int = 14) -> str:
    """A long backbone name broken at its middle underscore (tick labels of neighbouring bars must not overlap)."""
    if len(name) <= width or "_" not in name:
        return name
    cut = min((i for i, ch in enumerate(name) if ch == "_"), key=lambda i: abs(i - len(name) / 2))
    return f"{name[:cut]}\n{name[cut:]}"


def make(results, store_root):
    """A: mean test r per (backbone, layer), one bar per encoder; B: the noise-normalised r."""
    import matplotlib.pyplot as plt

    table, facts = v4_table(results)
    write_tables(table, facts, Path(store_root) / "tables", run_commits(store_root, facts["run_ids"]))
    groups = list(dict.fromkeys(zip(table["backbone"], table["layer"])))
    heads = list(dict.fromkeys(table["head"]))
    figure, axes = plt.subplots(2, 1, figsize=(2.0 + 1.1 * len(groups), 6.5), constrained_layout=True)
    width = 0.8 / max(1, len(heads))
    for ax, metric in zip(axes, METRICS):
        for k, head in enumerate(heads):
            rows = table[table["head"] == head].set_index(["backbone", "layer"]).reindex(groups)
            mean = rows[metric].to_numpy(float)
            err = [mean - rows[f"{metric}_ci_low"].to_numpy(float), rows[f"{metric}_ci_high"].to_numpy(float) - mean]
            ax.bar(np.arange(len(groups)) + (k - (len(heads) - 1) / 2) * width, mean, width, yerr=err, capsize=2,
                   label=head)
        ax.set_xticks(np.arange(len(groups)), [f"{_wrap(b)}\n{layer}" for b, layer in groups], fontsize=7)
        ax.axhline(0, color="k", linewidth=0.6)
    if "ceiling_r" in facts:
        axes[0].axhline(facts["ceiling_r"], color="k", linestyle="--", linewidth=1,
                        label=f"ceiling r {facts['ceiling_r']:.2f}")
    axes[0].set_ylabel("test r (mean over neurons)")
    axes[1].set_ylabel("noise-normalised r")
    axes[0].set_ylim(0, 1.0)
    axes[0].legend(fontsize=7, ncol=4, frameon=False, loc="upper right")
    figure.text(0.01, 0.0, ROUTING_NOTE, fontsize=7, ha="left", va="top")
    axes[0].set_title("V4 (Cowley et al. 2023, session 210325): held-out images, 95% bootstrap CIs over test images; "
                      "timm backbones random-init unless weights given", fontsize=8)
    return figure
