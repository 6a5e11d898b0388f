"""Figure 11 (scanpath table): every metric of the scanpath baselines beside the human ceiling on OSIE.

Reads the store only: the result rows of the latest ``scanpath_baselines`` run of
each model (mean over (test image, subject) items).  Besides the rendered table it
writes ``scanpath_table.csv`` and ``scanpath_table.md`` into ``<output root>/tables/``,
beside the store it was built from.
Build it with ``cogmodels figures --only scanpath_table``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.scanpaths.evaluate import (HIGHER_IS_BETTER, HUMAN_CEILING, SALIENCY_METRICS, SCANPATH_METRICS,
                                          latest_runs)
from cogmodels.viz.gaze import metric_table

log = logging.getLogger(__name__)
EXPERIMENT = "scanpath_baselines"
MODEL_ORDER = ("uniform", "center_bias", "density_sampling")
UNDEFINED_NOTE = "n/a: undefined, e.g. NSS and CC of a constant (uniform) map; bold: best per metric."


def metric_frame(results, runs: dict) -> pd.DataFrame:
    """Metrics x models table of values (models: baselines in MODEL_ORDER, others, then the human ceiling)."""
    rows = results[results["run_id"].isin(runs.values())]
    table = rows.pivot_table(index="metric", columns="head", values="value", aggfunc="first")
    models = [m for m in MODEL_ORDER if m in table.columns]
    models += sorted(set(table.columns) - set(models) - {HUMAN_CEILING})
    models += [HUMAN_CEILING] if HUMAN_CEILING in table.columns else []
    metrics = [m for m in SCANPATH_METRICS + SALIENCY_METRICS if m in table.index]
    return table.loc[metrics, models]


def write_tables(frame: pd.DataFrame, n_items: pd.Series, folder: Path) -> list[Path]:
    """CSV and markdown copies of the table (arrows give each metric's better direction)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = folder / "scanpath_table.csv", folder / "scanpath_table.md"
    frame.to_csv(csv_path, float_format="%.6g")
    header = "| metric | " + " | ".join(frame.columns) + " |"
    lines = [header, "|" + "---|" * (len(frame.columns) + 1)]
    for metric, values in frame.iterrows():
        arrow = "↑" if HIGHER_IS_BETTER.get(metric, True) else "↓"
        cells = " | ".join("n/a" if not np.isfinite(v) else f"{v:.3f}" for v in values)
        lines.append(f"| {metric} {arrow} | {cells} |")
    items = ", ".join(f"{model}: {int(n)}" for model, n in n_items.items())
    lines.append(f"\nItems (test image x subject) per model: {items}. {UNDEFINED_NOTE}")
    md_path.write_text("\n".join(lines) + "\n")
    return [csv_path, md_path]


def make(results, store_root):
    """A table figure: metrics (rows) x models (columns), the best model per metric in bold."""
    runs = latest_runs(results, EXPERIMENT, f"{store_root}/results.sqlite")
    frame = metric_frame(results, runs)
    rows = results[results["run_id"].isin(runs.values())]
    n_items = rows.groupby("head")["n_items"].max().reindex(frame.columns)
    for path in write_tables(frame, n_items, Path(store_root) / "tables"):
        log.info("table %s", path)
    labels = [f"{m} {'↑' if HIGHER_IS_BETTER.get(m, True) else '↓'}" for m in frame.index]
    directions = dict(zip(labels, (HIGHER_IS_BETTER.get(m, True) for m in frame.index)))
    figure = metric_table(frame.to_numpy(float), labels, list(frame.columns), higher_is_better=directions,
                          best_in="row",
                          title="OSIE scanpath baselines vs human ceiling (mean over test image x subject)",
                          figsize=(1.6 + 1.3 * frame.shape[1], 0.5 + 0.27 * frame.shape[0]))
    figure.text(0.01, 0.0, UNDEFINED_NOTE, fontsize=7, ha="left", va="top")
    return figure
