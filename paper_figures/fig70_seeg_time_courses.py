"""Figure 70 (SEEG time courses): test r over time per electrode class, with 95% bootstrap CIs.

Reads the store only: the items of the latest ``seeg_integration`` run (task ``seeg``).  One panel per
class (the simulator's true class where known, else the label the analysis gave); lines: the mean over the
class's electrodes of the test r of each model, bands: the mean of their CI bounds.
Build it with ``cogmodels figures --only seeg_time_courses``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem

EXPERIMENT = "seeg_integration"
MODELS = ("vision", "language", "concat", "multimodal", "multimodal_random")
CLASSES = ("vision", "language", "integration", "noise", "responsive", "none")


def latest_run(results) -> str:
    """Id of the latest run of the experiment (DataFormatError naming the command when there is none)."""
    runs = results[results["experiment"] == EXPERIMENT]
    if runs.empty:
        raise DataFormatError(format_problem("results.sqlite", f"a completed {EXPERIMENT} run", "none",
                                             f"run `cogmodels run experiment={EXPERIMENT}`"))
    return runs.sort_values("finished")["run_id"].iloc[-1]


def latest_items(results, store_root):
    """``(run_id, items)`` of the latest run of the experiment."""
    from cogmodels.runner.store import load_items

    run_id = latest_run(results)
    return run_id, load_items(store_root, run_id)


def subjects_of(items) -> list[str]:
    return sorted({key.split("@")[-1] for key in items if key.startswith("label@")})


def make(results, store_root):
    import matplotlib.pyplot as plt

    _, items = latest_items(results, store_root)
    times, subjects = items["times"], subjects_of(items)
    classes_of = {s: items.get(f"true_class@{s}", items[f"label@{s}"]) for s in subjects}
    present = [c for c in CLASSES if any((classes_of[s] == c).any() for s in subjects)]
    fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 2.8), sharey=True, squeeze=False)
    for ax, klass in zip(axes[0], present):
        for model in MODELS:
            if f"r@{model}@{subjects[0]}" not in items:
                continue
            parts = [(items[f"{k}@{model}@{s}"][classes_of[s] == klass]) for s in subjects
                     for k in ("r", "ci_low", "ci_high")]
            r = np.concatenate(parts[0::3]).mean(0)
            low, high = np.concatenate(parts[1::3]).mean(0), np.concatenate(parts[2::3]).mean(0)
            ax.plot(times, r, label=model)
            ax.fill_between(times, low, high, alpha=0.2)
        n = sum(int((classes_of[s] == klass).sum()) for s in subjects)
        ax.axvline(0, color="k", lw=0.5)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"{klass} (n={n})")
        ax.set_xlabel("time from image onset (s)")
    axes[0, 0].set_ylabel("test r")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig
