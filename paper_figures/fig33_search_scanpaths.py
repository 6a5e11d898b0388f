"""Figure 33 (search scanpaths): example scanpaths of each model on the stored example displays.

Reads the store only: ``example<k>_image`` / ``_mask`` / ``_fixations`` of the
latest ``search_asymmetry`` run of each model (rows: models; columns: the
example trials, one per condition).  Fixation 0 (the display centre) is the
white dot; the target is outlined in red.
Build it with ``cogmodels figures --only search_scanpaths``.
"""

from __future__ import annotations

from cogmodels.runner.store import load_items
from cogmodels.runner.tasks.search import latest_search_runs

EXPERIMENT = "search_asymmetry"  # the runs it reads (latest_search_runs); also how `cogmodels report` finds it


def make(results, store_root):
    import matplotlib.pyplot as plt

    runs = latest_search_runs(results, f"{store_root}/results.sqlite")
    loaded = {label: load_items(store_root, run_id) for label, run_id in runs.items()}
    n_cols = max(len(items["example_ids"]) for items in loaded.values())
    figure, axes = plt.subplots(len(loaded), n_cols, figsize=(1.7 * n_cols, 1.9 * len(loaded)), squeeze=False)
    for row, (label, items) in enumerate(loaded.items()):
        for k in range(n_cols):
            ax = axes[row, k]
            ax.axis("off")
            if k >= len(items["example_ids"]):
                continue
            ax.imshow(items[f"example{k}_image"], cmap="gray", vmin=0, vmax=255)
            ax.contour(items[f"example{k}_mask"], levels=[0.5], colors="red", linewidths=0.6)
            path = items[f"example{k}_fixations"]
            ax.plot(path[:, 0], path[:, 1], "-o", color="gold", ms=2.5, lw=0.9)
            ax.plot(path[0, 0], path[0, 1], "o", color="white", mec="black", ms=3)
            if row == 0:
                ax.set_title(str(items["example_ids"][k]).rsplit("/", 1)[0].replace("/", "\n"), fontsize=5.5)
            if k == 0:
                ax.text(-0.05, 0.5, label, transform=ax.transAxes, rotation=90, ha="right", va="center", fontsize=7)
    figure.suptitle("Example scanpaths (gold; white: start at the display centre)", fontsize=10)
    figure.tight_layout()
    return figure
