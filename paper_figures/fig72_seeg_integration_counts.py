"""Figure 72 (SEEG integration counts): integration sites per subject, next to the paper's 141 of 1,090.

Reads the store only: the rows ``n_integration_sites`` and ``n_electrodes`` of the latest
``seeg_integration`` run, per subject, as a percentage of the subject's electrodes; the last bar is
Subramaniam et al. (ICML 2024): 141 of 1,090 sites (12.9%).  Simulated data are labelled as such.
Build it with ``cogmodels figures --only seeg_integration_counts``.
"""

from __future__ import annotations

from pathlib import Path

from cogmodels.runner.figures import load_figure_module

PAPER = (141, 1090)


def _fig70():
    """Figure 70's module (its latest-run helpers), loaded as the figure runner loads scripts."""
    return load_figure_module(Path(__file__).with_name("fig70_seeg_time_courses.py"))


def make(results, store_root):
    import matplotlib.pyplot as plt

    rows = results[results["run_id"] == _fig70().latest_run(results)]
    table = rows.pivot_table(index="subject", columns="metric", values="value", aggfunc="first")
    labels = list(table.index) + ["Subramaniam\net al. 2024"]
    found = list(table["n_integration_sites"].astype(int)) + [PAPER[0]]
    total = list(table["n_electrodes"].astype(int)) + [PAPER[1]]
    percent = [100.0 * f / t for f, t in zip(found, total)]
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 1.5, 3))
    bars = ax.bar(range(len(labels)), percent, color=["tab:red"] * (len(labels) - 1) + ["0.5"])
    for bar, f, t in zip(bars, found, total):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{f}/{t}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("integration sites (% of electrodes)")
    dataset = rows["dataset"].iloc[0] if "dataset" in rows.columns else ""
    ax.set_title(f"{dataset}: integration sites per subject", fontsize=9)
    fig.tight_layout()
    return fig
