"""``cogmodels demo`` (``make demo``): every family on the built-in simulators, one store, one report.

The demo set is a list of runs of the ``demo_*`` experiments
(``experiments/conf/experiment/demo_*.yaml``, demo-sized settings), each run
through the runner's :func:`~cogmodels.runner.app.execute` exactly as
``cogmodels run`` would, into one output root (default ``outputs/demo``):

- brain encoding: Gabor features + RidgeCV on ``nsd_sim`` (``demo_brain``);
- SEEG integration: the time-resolved ridge analysis on ``seeg_sim`` (``demo_seeg``);
- scanpaths: OAT trained on the object-search simulator, beside the uniform and
  density-sampling baselines and the searcher-vs-searcher ceiling (``demo_scanpath``);
- visual search asymmetry: eccNET (Gabor pyramid, no weights) and the chance
  searcher on two of the six paradigms (``demo_search``).

Nothing is downloaded.  It ends with a short table per family and the path of
the HTML report (:func:`cogmodels.runner.report.build_report`).

A second run reuses everything and says so: a completed run is skipped (the
runner's resume rule, the same as a re-run sweep); the simulated datasets and
the backbone features are on disk.  ``--force`` recomputes every run, and the
summary then counts the feature-cache hits that the recomputed runs logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo: an experiment and its overrides."""

    experiment: str
    overrides: tuple = ()


@dataclass(frozen=True)
class DemoFamily:
    """A family of the demo: its runs and how its table is drawn from the store.

    Attributes
    ----------
    title : str
    runs : tuple of DemoRun
    index : str
        The result column of the table's rows (e.g. ``head`` or ``roi_or_condition``).
    metrics : tuple of str
        The metrics shown, one column each (rows: the latest run per index value).
    where : dict
        Extra filters on result columns, e.g. ``{"roi_or_condition": "all"}`` (a list keeps any of its values).
    """

    title: str
    runs: tuple
    index: str
    metrics: tuple
    where: dict = field(default_factory=dict)


FAMILIES = (
    DemoFamily("brain encoding: gabor + ridge on nsd_sim (subj01)", (DemoRun("demo_brain"),), "roi_or_condition",
               ("pearson_r", "noise_ceiling_r", "true_ceiling_r"),
               {"roi_or_condition": ["all", "V1", "V2", "V3", "FFA", "EBA", "PPA", "VWFA"]}),
    DemoFamily("SEEG integration: time-resolved ridge on seeg_sim", (DemoRun("demo_seeg"),), "subject",
               ("n_electrodes", "n_planted_integration", "n_integration_sites", "integration_recall",
                "integration_fdp", "vision_accuracy", "language_accuracy")),
    DemoFamily("scanpaths: OAT and baselines on the object-search simulator",
               tuple(DemoRun("demo_scanpath", (f"scanpath={name}", *extra)) for name, extra in
                     (("oat", ("scanpath.budget=small", "scanpath.progress=false")), ("uniform", ()),
                      ("density_sampling", ()), ("another_human", ()))),
               "head", ("object_sequence_score", "object_edit_distance", "target_found", "mean_relative_deviation"),
               {"roi_or_condition": "all"}),
    DemoFamily("visual search asymmetry: eccNET vs chance (lighting, curvature)",
               tuple(DemoRun("demo_search", (f"search={name}",)) for name in ("eccnet", "chance")),
               "head", ("asymmetry_index_mean", "human_asymmetry_index_mean", "polarity_matches", "found_rate",
                        "seconds_per_trial"), {"roi_or_condition": "all"}),
)


def _compose(experiment: str, overrides, root: Path):
    from hydra import compose, initialize_config_dir

    from cogmodels.runner.app import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[f"experiment={experiment}", f"output_root={root}", *overrides])


def _run_id(cfg) -> str:
    from omegaconf import OmegaConf

    from cogmodels.runner.store import run_id_of

    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    return run_id_of(container)


def family_table(results: pd.DataFrame, family: DemoFamily, run_ids) -> pd.DataFrame:
    """The short table of one family: rows ``family.index``, columns ``family.metrics`` (mean over run rows).

    Parameters
    ----------
    results : DataFrame
        :func:`cogmodels.runner.store.load_results` of the demo store.
    family : DemoFamily
    run_ids : collection of str
        The demo's runs of this family.
    """
    rows = results[results["run_id"].isin(list(run_ids)) & results["metric"].isin(family.metrics)]
    for column, value in family.where.items():
        rows = rows[rows[column].isin(value if isinstance(value, (list, tuple)) else [value])]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index=family.index, columns="metric", values="value", aggfunc="mean", sort=False)
    return table[[m for m in family.metrics if m in table.columns]].rename_axis(columns=None)


def run_demo(root=None, force: bool = False, families=FAMILIES, report: bool = True) -> int:
    """Run the demo set into ``root``, print a table per family and the report's path; returns an exit status.

    Parameters
    ----------
    root : path, optional
        Output root (default ``<$COGMODELS_OUTPUT_ROOT or outputs>/demo``).
    force : bool
        Recompute completed runs (``force=true``); the simulated data and features still come from disk.
    families : sequence of DemoFamily
    report : bool
        Write ``<root>/report.html``.
    """
    from cogmodels.runner.cli import default_root
    from cogmodels.runner.store import load_results, load_runs

    root = Path(root if root is not None else default_root() / "demo").expanduser().resolve()
    start = time.perf_counter()
    ids, lines = {}, []
    n_runs = sum(len(family.runs) for family in families)
    runner_log = logging.getLogger("cogmodels.runner")
    level = runner_log.level
    runner_log.setLevel(logging.WARNING)  # the demo prints its own summary; the per-run tables are in the report
    try:
        for family in families:
            for run in family.runs:
                label = " ".join([run.experiment, *run.overrides[:1]])
                print(f"[{len(lines) + 1}/{n_runs}] {label} ...", flush=True)
                lines.append(_one_run(run, root, force, ids.setdefault(family.title, []), label))
    finally:
        runner_log.setLevel(level)
    results = load_results(root)
    print(f"\ncogmodels demo: {len(lines)} runs in {root} ({time.perf_counter() - start:.0f} s)")
    for line in lines:
        print(f"  {line}")
    for family in families:
        table = family_table(results, family, ids.get(family.title, []))
        print(f"\n== {family.title}")
        print(table.to_string(float_format=lambda v: f"{v:.3f}") if not table.empty else "(no rows)")
    failed = load_runs(root, status="failed")
    if report:
        from cogmodels.runner.report import build_report

        summary = build_report(root, experiments=sorted({r.experiment for f in families for r in f.runs}))
        n_figures = sum(len(v) for v in summary.figures.values())
        print(f"\nreport ({n_figures} figures; open it in a browser): {summary.path}")
    return 1 if not failed.empty and failed["run_id"].isin([i for v in ids.values() for i in v]).any() else 0


def _one_run(run: DemoRun, root: Path, force: bool, ids: list, label: str) -> str:
    """Run (or skip) one demo run through the runner; returns its summary line."""
    from cogmodels.runner.app import execute
    from cogmodels.runner.store import ResultsStore

    cfg = _compose(run.experiment, [*run.overrides, *(["force=true"] if force else [])], root)
    run_id = _run_id(cfg)
    reused = ResultsStore(root).is_complete(run_id) and not force
    t0 = time.perf_counter()
    execute(cfg)
    ids.append(run_id)
    if reused:
        return f"{label}: reused (run {run_id[:8]} is complete in the store; --force recomputes it)"
    return f"{label}: computed in {time.perf_counter() - t0:.1f} s{_cache_note(root, run_id)}"


def _cache_note(root: Path, run_id: str) -> str:
    """``(feature cache: h hits, m misses)`` from the run's meta.json, when the run used the feature cache."""
    import json

    from cogmodels.runner.store import load_runs

    runs = load_runs(root)
    match = runs[runs["run_id"] == run_id]
    if match.empty:
        return ""
    path = root / str(match.iloc[0]["run_dir"]) / "meta.json"
    cache = json.loads(path.read_text()).get("feature_cache") or {}
    hits, misses = int(cache.get("hits", 0)), int(cache.get("misses", 0))
    if not hits and not misses:
        return ""
    return f" (feature cache: {hits} hit(s), {misses} miss(es))"
