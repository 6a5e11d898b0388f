"""Figure 40 (OAT object sequences): OAT's generated object sequences next to the simulated searcher's.

Reads the store only: the example displays and object sequences kept in items.npz
by the latest ``scanpath_object_search`` run of ``oat`` (task ``object_search``).
Each column is one test display (target outlined); top row: the searcher's
scanpaths (object centres joined in order), bottom row: OAT's samples.  The
title of each row gives the mean behavioural statistics of all test displays.
Build it with ``cogmodels figures --only oat_object_sequences``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.metrics.object_scanpaths import BEHAVIOUR_STATISTICS
from cogmodels.runner.store import load_items
from cogmodels.scanpaths.evaluate import latest_runs

EXPERIMENT = "scanpath_object_search"
MODEL = "oat"
N_SHOWN = 3  # scanpaths per panel


def _draw(ax, image, boxes, target, sequences, title):
    ax.imshow(image)
    x0, y0, x1, y1 = boxes[target]
    ax.add_patch(__import__("matplotlib").patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=2.5,
                                                            ec="black"))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    colours = ["tab:red", "tab:blue", "tab:green", "tab:orange"]
    for j, seq in enumerate(sequences[:N_SHOWN]):
        seq = seq[seq >= 0]
        seq = seq[seq < len(boxes)]
        if not len(seq):
            continue
        jitter = (j - 1) * 4.0
        xy = centres[seq] + jitter
        ax.plot(xy[:, 0], xy[:, 1], "-o", color=colours[j % 4], ms=3, lw=1.2, alpha=0.85)
        ax.annotate("1", xy[0], color=colours[j % 4], fontsize=7, weight="bold")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def make(results, store_root):
    """Two rows (searcher, OAT) x example displays."""
    import matplotlib.pyplot as plt

    runs = latest_runs(results, EXPERIMENT, f"{store_root}/results.sqlite", required=(MODEL,))
    items = load_items(store_root, runs[MODEL])
    n = len(items["example_stimulus_id"])
    rows = results[results["run_id"] == runs[MODEL]].set_index("metric")["value"]
    human = dict(zip(BEHAVIOUR_STATISTICS, items["human_behaviour"]))
    summary = {"searcher": ", ".join(f"{k.split('_')[0]} {human[k]:.2f}" for k in BEHAVIOUR_STATISTICS),
               "OAT": ", ".join(f"{k.split('_')[0]} {rows.get(k, np.nan):.2f}" for k in BEHAVIOUR_STATISTICS)}
    figure, axes = plt.subplots(2, n, figsize=(3.6 * n, 4.2), constrained_layout=True, squeeze=False)
    for i in range(n):
        for row, (label, key) in enumerate((("searcher", "example_human_sequences"), ("OAT", "example_model_sequences"))):
            _draw(axes[row, i], items["example_image"][i], items["example_boxes"][i], int(items["example_target"][i]),
                  items[key][i], f"{label}, display {items['example_stimulus_id'][i]}")
    figure.suptitle(f"Object sequences (target outlined). Searcher: {summary['searcher']}\nOAT: {summary['OAT']}; "
                    f"object sequence score {rows.get('object_sequence_score', np.nan):.3f}, mean relative deviation "
                    f"{rows.get('mean_relative_deviation', np.nan):.2f}", fontsize=8)
    return figure
