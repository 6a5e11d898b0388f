"""One self-contained HTML report of a results store (``cogmodels report``), built with :class:`mne.Report`.

The report reads the store only (``results.sqlite`` and the run folders) and fits
nothing.  It has one overview section, then one section per experiment:

- **results**: every result row of the experiment's completed runs, in a table
  that can be searched (filtered) and sorted by any column (bootstrap-table,
  embedded by MNE);
- **figures**: the ``paper_figures/figNN_<slug>.py`` scripts that belong to the
  experiment, drawn from the store (a script belongs to experiment ``E`` when its
  source names ``E`` in quotes, e.g. ``EXPERIMENT = "E"``; a run config may set
  ``figures_of: <experiment>`` to borrow another experiment's figures, as the
  ``demo_*`` experiments do);
- **provenance**: per run, the resolved config, git sha, seed, package versions,
  weights statement, stage timings and feature-cache hits (``meta.json``);
- **failed or unfinished runs**: every run whose status is not ``complete`` (the
  runner records ``failed`` with the error's traceback, and a run killed before
  it finished stays ``running``), and completed runs whose folder is gone.

MNE embeds its JavaScript and CSS and the figures as base64 PNGs, so the HTML
file needs nothing else to open (no network).

Example
-------
>>> from cogmodels.runner.report import build_report        # doctest: +SKIP
>>> build_report("outputs", out="report.html")              # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cogmodels.errors import CogModelsError, ConfigError, DataFormatError, format_problem

log = logging.getLogger(__name__)

#: Columns of the per-experiment results table, in order.
TABLE_COLUMNS = ["run", "seed", "dataset", "backbone", "layer", "head", "subject", "roi_or_condition", "metric",
                 "value", "n_items"]
FIGURES_OF_KEY = "figures_of"


@dataclass
class ReportSummary:
    """What :func:`build_report` wrote.

    Attributes
    ----------
    path : Path
        The HTML file.
    experiments : list of str
        The experiments that have a section.
    n_runs : int
        Completed runs reported.
    failed : dict of str -> str
        Run id -> status and reason, for every run that did not complete.
    figures : dict of str -> list of str
        Experiment -> slugs of the figures drawn for it.
    figure_errors : dict of str -> str
        ``<experiment>/<slug>`` -> the error of a figure script that failed.
    """

    path: Path
    experiments: list
    n_runs: int
    failed: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    figure_errors: dict = field(default_factory=dict)


# -- reading the store ---------------------------------------------------------------
def _load_store(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All runs (any status) and the result rows; typed errors for a missing or empty store."""
    from cogmodels.runner.store import DB_NAME, load_results, load_runs

    if not root.is_dir():
        raise DataFormatError(format_problem(
            f"--root {root}", "an output root holding results.sqlite", "no such folder",
            "run an experiment first (cogmodels run experiment=quickstart, or make demo) or pass the output "
            "root that holds results.sqlite with --root"))
    runs = load_runs(root, status=None)  # raises DataFormatError naming the file when results.sqlite is absent
    if runs.empty:
        raise DataFormatError(format_problem(
            str(root / DB_NAME), "at least one run in the store", "an empty store (no runs)",
            "run an experiment first (cogmodels run experiment=quickstart, or make demo)"))
    return runs, load_results(root)


def _select_experiments(runs: pd.DataFrame, wanted, root: Path) -> list[str]:
    present = sorted(set(runs["experiment"]))
    if not wanted:
        return present
    unknown = [name for name in wanted if name not in present]
    if unknown:
        raise ConfigError(format_problem("--experiment", f"experiments of the store {root} ({', '.join(present)})",
                                         f"{unknown}", "pass one of those names (or leave --experiment out)"))
    return [name for name in present if name in wanted]


def _meta(root: Path, run) -> dict:
    """meta.json of a run folder, or {} when the folder is gone (listed among the incomplete runs)."""
    path = root / str(run.run_dir or "") / "meta.json"
    if not run.run_dir or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        log.warning("report: cannot read %s (%s); its provenance is left out", path, err)
        return {}


# -- HTML pieces -----------------------------------------------------------------------
_TABLE_ATTRIBUTES = ('data-toggle="table" data-search="true" data-search-highlight="true" data-pagination="true" '
                     'data-page-size="25" data-page-list="[25, 100, All]" data-show-columns="true"')


def sortable_table(frame: pd.DataFrame, table_id: str) -> str:
    """A table with a search box (filters the rows) and sortable columns (bootstrap-table, embedded by MNE).

    Parameters
    ----------
    frame : DataFrame
    table_id : str
        The HTML id of the table (unique in the report).

    Returns
    -------
    html : str
    """
    head = "".join(f'<th data-field="{html.escape(str(c))}" data-sortable="true">{html.escape(str(c))}</th>'
                   for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float):
                text = "" if pd.isna(value) else f"{value:.4g}"
            else:
                text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table id="{html.escape(table_id)}" class="table table-sm table-striped small cogmodels-results" '
            f'{_TABLE_ATTRIBUTES}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _key_values(pairs: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>" for k, v in pairs.items())
    return f'<table class="table table-sm small">{rows}</table>'


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _config_yaml(config: dict) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(config))


def provenance_html(run, meta: dict) -> str:
    """One run's provenance: status, git sha, seed, times, weights, stage timings, versions, config.

    Parameters
    ----------
    run : namedtuple
        A row of :func:`cogmodels.runner.store.load_runs` (status None).
    meta : dict
        The run's meta.json ({} when its folder is gone).
    """
    timings = meta.get("timings_s") or run.timings or {}
    facts = {"run id": run.run_id, "task": run.task, "status": run.status, "git sha": run.git_sha,
             "seed": run.seed, "started": run.started, "finished": run.finished or "",
             "weights": meta.get("weights", "not recorded"),
             "stage timings (s)": ", ".join(f"{k} {float(v):.2f}" for k, v in timings.items()) or "not recorded",
             "total time (s)": f"{sum(float(v) for v in timings.values()):.2f}" if timings else "not recorded",
             "feature cache": meta.get("feature_cache", "not recorded"), "run folder": run.run_dir or ""}
    known = {"run_id", "experiment", "task", "git_sha", "seed", "started", "finished", "timings_s", "versions",
             "feature_cache", "weights", "result_rows", "host"}
    extra = {k: v for k, v in meta.items() if k not in known}
    versions = meta.get("versions") or {}
    parts = [_key_values(facts)]
    if versions:
        parts.append("<h6>package versions</h6>" + _key_values(versions))
    if extra:
        parts.append("<h6>more provenance (meta.json)</h6>" + _key_values(extra))
    parts.append(f"<details><summary>resolved config</summary><pre>{html.escape(_config_yaml(run.config))}</pre>"
                 "</details>")
    return "".join(parts)


def failed_html(bad: pd.DataFrame, reasons: dict) -> str:
    """The table of runs that failed or did not finish, each with its reason (the full error in a fold-out)."""
    rows = []
    for run in bad.itertuples(index=False):
        reason = reasons[run.run_id]
        last = reason.strip().splitlines()[-1] if reason.strip() else ""
        rows.append(f"<tr><td>{html.escape(run.run_id[:8])}</td><td>{html.escape(str(run.status))}</td>"
                    f"<td>{html.escape(str(run.started or ''))}</td><td>{html.escape(last)}"
                    f"<details><summary>full reason</summary><pre>{html.escape(reason)}</pre></details></td></tr>")
    return ('<table class="table table-sm small cogmodels-failed"><thead><tr><th>run</th><th>status</th>'
            f'<th>started</th><th>reason</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _reason(run, root: Path) -> str | None:
    """Why a run is not reported as complete; None when it is."""
    if run.status == "failed":
        return str(run.error or "failed (no error recorded)")
    if run.status == "running":
        return ("did not finish: still running, or killed before it completed (a rerun of its experiment "
                "computes it again)")
    if run.status != "complete":
        return f"status {run.status!r}"
    if not run.run_dir or not (root / str(run.run_dir) / "items.npz").is_file():
        return (f"complete row, but its run folder or items.npz is gone ({root / str(run.run_dir or '')}); a "
                "rerun of its experiment computes it again")
    return None


# -- figures ---------------------------------------------------------------------------
def figure_scripts_for(experiment: str, folder=None) -> dict[str, Path]:
    """The figure scripts (slug -> path) whose source names ``experiment`` in quotes or backticks."""
    from cogmodels.runner.figures import discover

    pattern = re.compile(r"[\"'`]" + re.escape(experiment) + r"[\"'`]")
    return {slug: path for slug, path in discover(folder).items() if pattern.search(path.read_text())}


def _figures_of(runs: pd.DataFrame) -> str | None:
    names = {str(c.get(FIGURES_OF_KEY)) for c in runs["config"] if c.get(FIGURES_OF_KEY)}
    return sorted(names)[0] if names else None


def _draw_figures(report, experiment: str, results: pd.DataFrame, runs: pd.DataFrame, root: Path, folder,
                  summary: ReportSummary) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cogmodels.runner.figures import load_figure_module

    alias = _figures_of(runs) or experiment
    rows = results[results["experiment"] == experiment].assign(experiment=alias)
    drawn = []
    for slug, path in figure_scripts_for(alias, folder).items():
        try:
            figure = load_figure_module(path).make(rows, root)
        except CogModelsError as err:  # a figure needing runs this experiment does not hold: left out, said once
            log.info("report: figure %s left out of %s: %s", slug, experiment, err)
            summary.figure_errors[f"{experiment}/{slug}"] = str(err)
            continue
        except Exception as err:  # noqa: BLE001 - a broken script must not stop the report; it is listed
            log.warning("report: figure %s of %s failed: %r", slug, experiment, err)
            summary.figure_errors[f"{experiment}/{slug}"] = repr(err)
            continue
        report.add_figure(figure, title=f"{experiment}: {path.stem}", section=experiment, tags=("figure",),
                          image_format="png")
        plt.close(figure)
        drawn.append(slug)
    summary.figures[experiment] = drawn


# -- the report ------------------------------------------------------------------------
def build_report(root, experiments=None, out=None, figures_folder=None, figures: bool = True) -> ReportSummary:
    """Write one self-contained HTML report of the store at ``root``; fits nothing.

    Parameters
    ----------
    root : path
        Output root holding results.sqlite and runs/.
    experiments : list of str, optional
        Report only these experiments (default: all in the store).
    out : path, optional
        The HTML file (default ``<root>/report.html``).
    figures_folder : path, optional
        Folder of the figure scripts (default :func:`cogmodels.runner.figures.figures_dir`).
    figures : bool
        Draw the experiments' figures (False: tables and provenance only).

    Returns
    -------
    ReportSummary

    Raises
    ------
    DataFormatError
        When ``root`` does not exist, holds no results.sqlite, or the store has no runs.
    ConfigError
        When an experiment asked for is not in the store.
    """
    import mne

    root = Path(root).expanduser().resolve()
    runs, results = _load_store(root)
    chosen = _select_experiments(runs, list(experiments or []), root)
    out = Path(out).expanduser() if out is not None else root / "report.html"
    summary = ReportSummary(path=out.resolve(), experiments=chosen, n_runs=0)

    report = mne.Report(title=f"cogmodels results: {root.name}", verbose="error")
    _overview(report, root, runs[runs["experiment"].isin(chosen)])
    for experiment in chosen:
        mine = runs[runs["experiment"] == experiment]
        reasons = {run.run_id: _reason(run, root) for run in mine.itertuples(index=False)}
        bad = mine[[reasons[r] is not None for r in mine["run_id"]]]
        good = mine[[reasons[r] is None for r in mine["run_id"]]]
        summary.n_runs += len(good)
        summary.failed.update({r.run_id: f"{r.status}: {reasons[r.run_id]}" for r in bad.itertuples(index=False)})
        rows = results[results["experiment"] == experiment]
        table = rows.assign(run=rows["run_id"].str[:8])[TABLE_COLUMNS]
        report.add_html(f"<p>{len(good)} completed run(s), {len(bad)} failed or unfinished, {len(table)} result "
                        "rows (one per run x subject x ROI/condition x metric; the value is the mean over "
                        f"n_items items).  Type in the search box to filter, click a column to sort.</p>"
                        + sortable_table(table, f"results-{experiment}"),
                        title=f"{experiment}: results", section=experiment, tags=("results",))
        if figures and not good.empty:
            _draw_figures(report, experiment, results, good, root, figures_folder, summary)
        for run in good.itertuples(index=False):
            report.add_html(provenance_html(run, _meta(root, run)), title=f"{experiment}: run {run.run_id[:8]}",
                            section=experiment, tags=("provenance",))
        if not bad.empty:
            report.add_html(failed_html(bad, reasons), title=f"{experiment}: failed or unfinished runs",
                            section=experiment, tags=("failed",))
    out.parent.mkdir(parents=True, exist_ok=True)
    report.save(out, open_browser=False, overwrite=True, verbose="error")
    log.info("report of %d experiment(s), %d run(s) written to %s", len(chosen), summary.n_runs, out)
    return summary


def _overview(report, root: Path, runs: pd.DataFrame) -> None:
    import cogmodels

    counts = runs.groupby(["experiment", "status"]).size().unstack(fill_value=0).reset_index()
    counts.columns.name = None
    text = (f"<p>Store <code>{html.escape(str(root))}</code>, read {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC "
            f"by cogmodels {html.escape(cogmodels.__version__)}.  Nothing was fitted for this report: every number and "
            "figure comes from results.sqlite and the run folders.</p>" + sortable_table(counts, "overview-runs"))
    report.add_html(text, title="Runs per experiment and status", section="overview", tags=("overview",))
