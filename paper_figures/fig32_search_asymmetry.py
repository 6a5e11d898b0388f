"""Figure 32 (search asymmetry): asymmetry index per experiment and model, beside humans and published means.

Reads the store only: rows ``asymmetry_index`` per experiment, and ``asymmetry_index_mean``,
``polarity_matches``, ``published_asymmetry_index_mean`` (Gupta et al. 2021) and
``human_asymmetry_index`` of the latest ``search_asymmetry`` run of each model.
Build it with ``cogmodels figures --only search_asymmetry``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.runner.tasks.search import latest_search_runs

EXPERIMENT = "search_asymmetry"  # the runs it reads (latest_search_runs); also how `cogmodels report` finds it


def make(results, store_root):
    import matplotlib.pyplot as plt

    runs = latest_search_runs(results, f"{store_root}/results.sqlite")
    first = results[results["run_id"] == next(iter(runs.values()))]
    human = first[first["metric"] == "human_asymmetry_index"].set_index("roi_or_condition")["value"]
    experiments = sorted(human.index)
    series = {"humans": human.reindex(experiments).to_numpy()}
    captions = [f"humans: mean {human.mean():.3f}"]
    for label, run_id in runs.items():
        rows = results[results["run_id"] == run_id]
        index = rows[rows["metric"] == "asymmetry_index"].set_index("roi_or_condition")["value"]
        series[label] = index.reindex(experiments).to_numpy()
        overall = rows[rows["roi_or_condition"] == "all"].set_index("metric")["value"]
        published = overall.get("published_asymmetry_index_mean", np.nan)
        captions.append(f"{label}: mean {overall.get('asymmetry_index_mean', np.nan):.3f} "
                        f"(published {published:.3f}), polarity {int(overall.get('polarity_matches', 0))}/6"
                        if np.isfinite(published) else
                        f"{label}: mean {overall.get('asymmetry_index_mean', np.nan):.3f}, "
                        f"polarity {int(overall.get('polarity_matches', 0))}/6")
    figure, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(series)
    x = np.arange(len(experiments))
    for k, (label, values) in enumerate(series.items()):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=label,
               color="black" if label == "humans" else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, [e.replace("_", "\n") for e in experiments], fontsize=8)
    ax.set_ylabel("asymmetry index (s_hard - s_easy) / (s_hard + s_easy)")
    ax.set_ylim(-1.05, 1.05)
    ax.legend(fontsize=8, ncol=3)
    ax.set_title("Search asymmetry per experiment (hard = the humans' slower condition)", fontsize=11)
    figure.text(0.01, -0.02, "\n".join(captions), fontsize=7, va="top", ha="left")
    figure.tight_layout()
    return figure
