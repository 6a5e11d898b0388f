"""The ``cogmodels`` command line.

::

    cogmodels run experiment=quickstart [key=value ...]      # one Hydra run (add -m for a sweep)
    cogmodels fit-subject [--model RUN_DIR|FILE] [--dataset D] [--root DIR] --subject S [--n-train N[,N...]]
                          [--train-queries] [--no-scratch] [--output-root DIR] [key=value ...]
    cogmodels results [--experiment E] [--metric M] [--backbone B] [--where key=value] [--root DIR]
    cogmodels results --rebuild [--root DIR]                  # rebuild results.sqlite from the run folders
    cogmodels figures [--only NAME] [--root DIR] [--out DIR]
    cogmodels report [--root DIR] [--experiment E ...] [--out report.html] [--no-figures]
    cogmodels demo [--root DIR] [--force]                     # every family on simulators; ends with a report
    cogmodels list [backbones|encoders|scanpaths|search|datasets|experiments]
    cogmodels card DATASET
    cogmodels --version

A typed error prints one line (``error: ...``) and exits with status 2
(``cogmodels run --verbose`` or ``HYDRA_FULL_ERROR=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cogmodels.errors import CogModelsError, ConfigError, format_problem

OUTPUT_ROOT_ENV = "COGMODELS_OUTPUT_ROOT"
if TYPE_CHECKING:  # pandas is imported where a table is made, so that `cogmodels run` starts light
    import pandas as pd

LABEL_COLUMNS = ["experiment", "dataset", "backbone", "layer", "head", "subject", "roi_or_condition", "metric"]


def default_root() -> Path:
    """The output root the runner writes to by default: ``$COGMODELS_OUTPUT_ROOT``, else ./outputs."""
    return Path(os.environ.get(OUTPUT_ROOT_ENV) or "outputs")


def _parse_where(pairs: list[str]) -> dict:
    filters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(format_problem("--where", "key=value (e.g. --where encoder.cv=5)", repr(pair),
                                             "write the filter as key=value"))
        filters.setdefault(key, []).append(value)
    return filters


def results_table(root, experiment=None, metric=None, backbone=None, where=(), over_runs: bool = False) -> pd.DataFrame:
    """The table ``cogmodels results`` prints.

    Each stored value is already the mean over items (channels, scanpaths, trials) of one
    run x subject x ROI/condition x metric, with its item count.  ``over_runs`` further
    averages runs that differ only in seed (mean, sd and number of runs).
    """
    from cogmodels.runner.store import load_results

    filters = _parse_where(list(where))
    for column, value in (("experiment", experiment), ("metric", metric), ("backbone", backbone)):
        if value is not None:
            filters[column] = value
    table = load_results(root, **filters)
    if over_runs:
        table = table.assign(config_without_seed=table["run_id"].map(_seedless_run_ids(root)))
        grouped = table.groupby(["config_without_seed", *LABEL_COLUMNS], sort=False)["value"]
        summary = grouped.agg(mean="mean", sd="std", n_runs="count").reset_index()
        return summary.drop(columns="config_without_seed")
    table = table.assign(run_id=table["run_id"].str[:8])
    return table[["run_id", "seed", *LABEL_COLUMNS, "value", "n_items"]]


def _seedless_run_ids(root) -> dict:
    """run id -> hash of its config without the run seed, so that only runs differing in seed are pooled.

    The run seed is the top-level ``seed`` plus every nested ``seed`` that took its value from it
    (``seed: ${seed}``); a nested seed of another value (e.g. a simulator's study seed) is kept.
    """
    from cogmodels.runner.store import load_runs, run_id_of

    def without(node, seed):
        if isinstance(node, dict):
            return {k: without(v, seed) for k, v in node.items() if not (k == "seed" and v == seed)}
        return node

    return {run.run_id: run_id_of(without(run.config, run.config.get("seed"))) for run in load_runs(root).itertuples()}


def _print_failed_runs(root, experiment=None) -> None:
    """One line per failed run: its id, experiment, last error line and log file (Slurm jobs)."""
    from cogmodels.runner.store import load_runs

    if not (Path(root) / "results.sqlite").exists():
        return
    failed = load_runs(root, status="failed")
    if experiment is not None:
        failed = failed[failed["experiment"] == experiment]
    for run in failed.itertuples():
        lines = [line for line in str(run.error or "").splitlines() if line.strip()]
        logs = [line[len("log: "):] for line in lines if line.startswith("log: ")]
        last = next((line for line in reversed(lines) if not line.startswith("log: ")), "no error recorded")
        print(f"failed run {run.run_id[:8]} ({run.experiment}, seed {run.seed}): {last.strip()}"
              + (f"; log: {logs[0]}" if logs else ""))


def _results(args) -> int:
    if args.rebuild:
        from cogmodels.runner.rebuild import rebuild_store

        report = rebuild_store(args.root)
        print(f"rebuilt {Path(args.root) / 'results.sqlite'} from {len(report.restored)} run folder(s)"
              + (f"; the previous file is kept as {report.kept_old}" if report.kept_old else ""))
        for folder, why in report.skipped.items():
            print(f"left out {folder}: {why}")
        return 0
    import pandas as pd

    _print_failed_runs(args.root, args.experiment)
    table = results_table(args.root, args.experiment, args.metric, args.backbone, args.where, args.over_runs)
    if table.empty:
        print(f"no results in {Path(args.root) / 'results.sqlite'} match these filters")
        return 1
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _figures(args) -> int:
    from cogmodels.runner.figures import build_figures

    built, failed = build_figures(args.root, only=args.only, out_dir=args.out)
    for path in built:
        print(f"wrote {path}")
    for name, reason in failed.items():
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    return 1 if failed or not built else 0


def _report(args) -> int:
    from cogmodels.runner.report import build_report

    summary = build_report(args.root, experiments=args.experiment, out=args.out, figures=not args.no_figures)
    for run_id, reason in summary.failed.items():
        print(f"not complete: run {run_id[:8]}: {reason.strip().splitlines()[-1] if reason.strip() else ''}")
    print(f"report of {len(summary.experiments)} experiment(s), {summary.n_runs} completed run(s): {summary.path}")
    return 0


def _demo(args) -> int:
    from cogmodels.runner.demo import run_demo

    return run_demo(args.root, force=args.force)


def _quoted(path: Path) -> str:
    """A path as a quoted Hydra override value (paths may hold characters of the override grammar)."""
    text = str(Path(path).expanduser().resolve())
    return f"'{text}'" if "'" not in text else f'"{text}"'


def fit_subject_overrides(args) -> list[str]:
    """The ``cogmodels run`` command line of ``cogmodels fit-subject``: experiment=fmri_new_subject + overrides.

    ``fit-subject`` is a thin wrapper: the run is the ``fit_subject`` task of
    :mod:`cogmodels.runner.tasks.fit_subject`, stored like any run.  Several ``--n-train``
    values (comma-separated) make a sweep (a learning curve).
    """
    overrides = ["experiment=fmri_new_subject"]
    if args.dataset:
        overrides.append(f"dataset={args.dataset}")
    if args.root is not None:
        overrides.append(f"dataset.root={_quoted(args.root)}")
    if args.subject:
        overrides.append(f"dataset.subject={args.subject}")
    if args.model is not None:
        model = Path(args.model).expanduser()
        if not model.exists():
            raise ConfigError(format_problem("--model", "a run folder or a model file of a trained multi-subject "
                                             "encoder", f"{model} (no such file or folder)",
                                             "pass e.g. outputs/runs/fmri_new_subject/<run_id>"))
        overrides.append(f"transfer.source={_quoted(model)}")
    if args.n_train is not None:
        overrides.append(f"transfer.n_train={_n_train(args.n_train)}")
    if args.train_queries:
        overrides.append("transfer.train_queries=true")
    if args.no_scratch:
        overrides.append("transfer.scratch=false")
    if args.output_root is not None:
        overrides.append(f"output_root={_quoted(args.output_root)}")
    multirun = args.multirun or (args.n_train is not None and "," in args.n_train)
    return (["-m"] if multirun else []) + overrides + list(args.overrides)


def _fit_subject(args) -> int:
    from cogmodels.runner.app import main as run_main

    overrides = fit_subject_overrides(args)
    if args.model is not None:
        from cogmodels.runner.tasks.fit_subject import check_model_file

        check_model_file(Path(args.model).expanduser())  # a garbage or pickled file stops here, before any data
    logging.getLogger(__name__).info("fit-subject: cogmodels run %s", " ".join(overrides))
    return run_main(overrides + (["--verbose"] if args.verbose else []))


def _list(args) -> int:
    from cogmodels import catalog

    families = [args.family] if args.family else list(catalog.FAMILIES)
    for family in families:
        rows = catalog.entries(family)
        if len(families) > 1:
            print(f"{family}:")
        width = max((len(name) for name, _ in rows), default=0)
        indent = "  " if len(families) > 1 else ""
        for name, description in rows:
            print(f"{indent}{name:<{width}}  {description}")
        if not rows:
            print(f"{indent}(none registered)")
    return 0


def _compare(args) -> int:
    from cogmodels.runner.compare import compare

    return 0 if compare(args.first, args.second, args.tolerance) else 1


def _card(args) -> int:
    from cogmodels import catalog

    print(catalog.card(args.dataset))
    return 0


def _n_train(text: str) -> str:
    """``--n-train``: one positive integer or several, comma-separated (a learning curve)."""
    values = [v.strip() for v in str(text).split(",")]
    if not values or not all(v.isdigit() and int(v) > 0 for v in values):
        raise ConfigError(format_problem("--n-train", "a positive integer or comma-separated integers "
                                         "(e.g. 300 or 50,100,300)", repr(text), "pass --n-train 300"))
    return ",".join(values)


def _fit_subject_parser(commands) -> None:
    fit = commands.add_parser(
        "fit-subject", help="fit a trained multi-subject encoder to a new subject (transfer vs from scratch)",
        description="Transfer a multi-subject routing transformer to a new subject: only the subject's readout "
                    "(and, with --train-queries, the ROI queries) is fitted; a from-scratch encoder is fitted on "
                    "the same images for comparison.  Runs `cogmodels run experiment=fmri_new_subject ...`; "
                    "extra key=value arguments are passed to it.")
    fit.add_argument("--model", help="run folder or model file of the trained multi-subject encoder "
                                     "(default: train one on transfer.source_subjects, kept in <output root>/models)")
    fit.add_argument("--dataset", help="the new subject's dataset config: nsd_sim (default), algonauts2023, "
                                       "brain_folder")
    fit.add_argument("--root", type=Path, help="dataset root folder (algonauts2023, brain_folder)")
    fit.add_argument("--subject", help="the new subject (dataset.subject), e.g. subj04")
    fit.add_argument("--n-train", dest="n_train",
                     help="training images of the new subject; several (e.g. 50,100,300) make a learning curve")
    fit.add_argument("--train-queries", action="store_true", help="also re-fit the ROI queries")
    fit.add_argument("--no-scratch", action="store_true", help="skip the from-scratch comparison")
    fit.add_argument("--output-root", type=Path, help=f"output root (default: ${OUTPUT_ROOT_ENV} or ./outputs)")
    fit.add_argument("-m", "--multirun", action="store_true", help="run the overrides as a Hydra sweep")
    fit.add_argument("--verbose", action="store_true", help="show the full traceback of an error")
    fit.add_argument("overrides", nargs="*", metavar="key=value", help="more config overrides")
    fit.set_defaults(handler=_fit_subject)


def _parser() -> argparse.ArgumentParser:
    import cogmodels

    parser = argparse.ArgumentParser(prog="cogmodels", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cogmodels {cogmodels.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run experiments (Hydra; `cogmodels run --help` lists its options)",
                        add_help=False)

    results = commands.add_parser("results", help="print results from the store")
    results.add_argument("--root", type=Path, default=default_root(),
                         help=f"output root holding results.sqlite (default: ${OUTPUT_ROOT_ENV} or ./outputs)")
    results.add_argument("--experiment")
    results.add_argument("--metric")
    results.add_argument("--backbone")
    results.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                         help="filter on a result column or a dotted config key (repeatable)")
    results.add_argument("--over-runs", action="store_true",
                         help="average runs that differ only in seed (mean, sd, n_runs)")
    results.add_argument("--rebuild", action="store_true",
                         help="rebuild results.sqlite from the run folders (a damaged or lost store); the old file "
                              "is kept as results.sqlite.damaged-<time>")
    results.set_defaults(handler=_results)

    listing = commands.add_parser("list", help="registered names with one-line descriptions (plugins included)")
    listing.add_argument("family", nargs="?", help="backbones, encoders, scanpaths, search, datasets or "
                                                   "experiments (default: all)")
    listing.set_defaults(handler=_list)
    card = commands.add_parser("card", help="a dataset's card: source, licence, citation, files, how to get them")
    card.add_argument("dataset", help="a registered dataset name (cogmodels list datasets)")
    card.set_defaults(handler=_card)

    compare = commands.add_parser("compare", help="compare two stores row by row and item array by item array "
                                                  "(does a code change move any result?)")
    compare.add_argument("first", type=Path, help="output root holding results.sqlite (e.g. the old code's)")
    compare.add_argument("second", type=Path, help="output root to compare with it")
    compare.add_argument("--tolerance", type=float, default=0.0, help="largest |difference| that counts as equal")
    compare.set_defaults(handler=_compare)

    figures = commands.add_parser("figures", help="rebuild paper_figures/figNN_*.py into paper_figures/out/")
    figures.add_argument("--only", help="one figure: its slug, figNN or file name (e.g. quickstart)")
    figures.add_argument("--root", type=Path, default=default_root(), help="output root holding results.sqlite")
    figures.add_argument("--out", type=Path, default=None, help="folder for the figures (default paper_figures/out)")
    figures.set_defaults(handler=_figures)
    report = commands.add_parser("report", help="one self-contained HTML report of the store (mne.Report; fits "
                                                "nothing)")
    report.add_argument("--root", type=Path, default=default_root(), help="output root holding results.sqlite")
    report.add_argument("--experiment", nargs="+", default=None, help="only these experiments (default: all)")
    report.add_argument("--out", type=Path, default=None, help="the HTML file (default <root>/report.html)")
    report.add_argument("--no-figures", action="store_true", help="tables and provenance only")
    report.set_defaults(handler=_report)
    demo = commands.add_parser("demo", help="every family on the built-in simulators, a table each, and a report")
    demo.add_argument("--root", type=Path, default=None, help="output root of the demo (default outputs/demo)")
    demo.add_argument("--force", action="store_true", help="recompute every demo run (caches are still used)")
    demo.set_defaults(handler=_demo)
    _fit_subject_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cogmodels`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        from cogmodels.runner.app import main as run_main

        return run_main(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except CogModelsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
