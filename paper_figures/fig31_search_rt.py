"""Figure 31 (search RT): RT vs set size per experiment, each model against humans.

Reads the store only: rows ``mean_rt_ms`` (model fixations mapped to RT by
Gupta et al.'s affine map) and ``human_rt_ms`` (the shipped human reference)
per ``<experiment>/<condition>/n<set size>`` of the latest ``search_asymmetry``
run of each model.  Solid: humans; dashed: models; colour: condition (the
humans' hard condition in red).
Build it with ``cogmodels figures --only search_rt``.
"""

from __future__ import annotations

from cogmodels.runner.tasks.search import latest_search_runs

EXPERIMENT = "search_asymmetry"  # the runs it reads (latest_search_runs); also how `cogmodels report` finds it

MARKERS = "osd^v<>"


def _series(rows, metric):
    sub = rows[rows["metric"] == metric]
    out = {}
    for where, value in zip(sub["roi_or_condition"], sub["value"]):
        experiment, condition, size = where.split("/")
        out.setdefault(experiment, {}).setdefault(condition, []).append((int(size[1:]), value))
    return {e: {c: sorted(v) for c, v in conds.items()} for e, conds in out.items()}


def make(results, store_root):
    import matplotlib.pyplot as plt

    runs = latest_search_runs(results, f"{store_root}/results.sqlite")
    first = results[results["run_id"] == next(iter(runs.values()))]
    humans = _series(first, "human_rt_ms")
    slopes = first[first["metric"] == "human_rt_slope_ms_per_item"].set_index("roi_or_condition")["value"]
    experiments = sorted(humans)
    figure, axes = plt.subplots(2, 3, figsize=(13, 7.5), squeeze=False)
    for ax, experiment in zip(axes.ravel(), experiments):
        conditions = sorted(humans[experiment], key=lambda c: -slopes[f"{experiment}/{c}"])  # hard first
        for colour, condition in zip(("tab:red", "tab:blue"), conditions):
            sizes, rts = zip(*humans[experiment][condition])
            ax.plot(sizes, rts, "-", color=colour, lw=2.2, label=f"humans: {condition}")
            for marker, (label, run_id) in zip(MARKERS, runs.items()):
                model = _series(results[results["run_id"] == run_id], "mean_rt_ms").get(experiment, {})
                if condition in model:
                    sizes, rts = zip(*model[condition])
                    ax.plot(sizes, rts, "--", marker=marker, color=colour, lw=1, ms=4, alpha=0.8,
                            label=f"{label}: {condition}")
        ax.set_title(experiment, fontsize=10)
        ax.set_xlabel("set size")
        ax.set_ylabel("RT (ms)")
        ax.legend(fontsize=5.5, loc="upper left")
    for ax in axes.ravel()[len(experiments):]:
        ax.axis("off")
    figure.suptitle("RT vs set size: models (fixations x 252.4 ms + 376.3 ms) against humans", fontsize=11)
    figure.tight_layout()
    return figure
