"""Figure 12 (scanpath densities): human fixation density vs baseline densities on OSIE test images.

Reads the store only: the example densities kept in items.npz by the latest
``scanpath_baselines`` runs (``another_human``: Gaussian density of all subjects'
fixations, sigma 1 deg, with the fixations dotted; baselines: their model density).
Build it with ``cogmodels figures --only scanpath_densities``.
"""

from __future__ import annotations

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items
from cogmodels.scanpaths.evaluate import HUMAN_CEILING, latest_runs
from cogmodels.viz.gaze import example_densities

EXPERIMENT = "scanpath_baselines"
MODELS = ("center_bias", "density_sampling")


def make(results, store_root):
    """Rows: humans, then each baseline with a run; columns: the example test images."""
    where = f"{store_root}/results.sqlite"
    runs = latest_runs(results, EXPERIMENT, where)
    shown = [m for m in (HUMAN_CEILING, *MODELS) if m in runs]
    if HUMAN_CEILING not in shown or len(shown) < 2:
        raise DataFormatError(format_problem(where, f"{EXPERIMENT} runs of {HUMAN_CEILING} and a baseline",
                                             f"runs of {sorted(runs)}", "run the scanpath_baselines sweep"))
    items = {m: load_items(store_root, runs[m]) for m in shown}

    def title(model, sid):
        return f"{'humans (all subjects)' if model == HUMAN_CEILING else model}, {sid}"

    figure = example_densities(items, HUMAN_CEILING, title, row_height=2.1, runs=runs)
    figure.suptitle("Fixation density on OSIE test images (humans: sigma 1 deg, dots: fixations)", fontsize=10)
    return figure
