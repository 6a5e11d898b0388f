"""Figure 42 (OSIE scanpath table): every metric of OAT and the other models beside the baselines and the
human ceiling, on OSIE split by image id (train 1001-1400, test 1401-1500).

Reads the store only: the rows of the latest ``scanpath_osie`` run of each model.
Besides the rendered table it writes ``scanpath_osie_table.csv`` and ``.md`` into
``<output root>/tables/``.  Build it with ``cogmodels figures --only scanpath_osie_table``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from cogmodels.runner.figures import load_figure_module
from cogmodels.scanpaths.evaluate import HIGHER_IS_BETTER, latest_runs
from cogmodels.viz.gaze import metric_table

log = logging.getLogger(__name__)
EXPERIMENT = "scanpath_osie"


def _fig11():
    """Figure 11's module (its helpers are reused here), loaded as the figure runner loads scripts."""
    return load_figure_module(Path(__file__).with_name("fig11_scanpath_table.py"))


def make(results, store_root):
    """Metrics (rows) x models (columns: baselines, models, human ceiling), the best per metric in bold."""
    fig11 = _fig11()
    runs = latest_runs(results, EXPERIMENT, f"{store_root}/results.sqlite")
    frame = fig11.metric_frame(results, runs)
    rows = results[results["run_id"].isin(runs.values())]
    n_items = rows.groupby("head")["n_items"].max().reindex(frame.columns)
    folder = Path(store_root) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:  # fig11's writer, without touching fig11's files
        for path in fig11.write_tables(frame, n_items, Path(scratch)):
            target = folder / path.name.replace("scanpath_table", "scanpath_osie_table")
            path.replace(target)
            log.info("table %s", target)
    labels = [f"{m} {'↑' if HIGHER_IS_BETTER.get(m, True) else '↓'}" for m in frame.index]
    directions = dict(zip(labels, (HIGHER_IS_BETTER.get(m, True) for m in frame.index)))
    figure = metric_table(frame.to_numpy(float), labels, list(frame.columns), higher_is_better=directions,
                          best_in="row", title="OSIE (test 1401-1500): scanpath models vs baselines and human ceiling",
                          figsize=(1.6 + 1.3 * frame.shape[1], 0.5 + 0.27 * frame.shape[0]))
    figure.text(0.01, 0.0, fig11.UNDEFINED_NOTE, fontsize=7, ha="left", va="top")
    return figure
