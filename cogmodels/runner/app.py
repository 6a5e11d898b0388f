"""The Hydra application behind ``cogmodels run``.

``cogmodels run experiment=<name> [key=value ...]`` composes
``experiments/conf/config.yaml`` (or ``$COGMODELS_CONFIG_DIR/config.yaml``)
and runs one config, or a sweep with ``-m`` (basic, joblib or SLURM launcher).
Each config goes through :func:`execute`:

0. before Hydra starts, :func:`~cogmodels.runner.checks.preflight` composes the
   command line and checks it without data (runner keys, a writable output
   root, head parameters), and each config is checked again in ``execute``;
1. its run id (hash of the resolved config minus volatile keys) is looked up
   in the store; a completed run (row committed and folder present) is skipped
   unless ``force=true``;
2. the registered task runs (dataset -> cached features -> head -> metrics);
3. the run folder (config.yaml, meta.json, items.npz, metrics.json) and the
   result rows are committed atomically (:class:`~cogmodels.runner.store.ResultsStore`);
4. a summary table is logged.

A typed error (:class:`~cogmodels.errors.CogModelsError`) ends ``cogmodels run``
with one line on stderr and exit status 2; ``--verbose`` or ``HYDRA_FULL_ERROR=1``
shows the full traceback instead.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
import traceback
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
from omegaconf import DictConfig, OmegaConf

from cogmodels import io as atomic
from cogmodels.errors import CogModelsError, ConfigError, format_problem
from cogmodels.runner.cache import FeatureCache
from cogmodels.runner import slurm
from cogmodels.runner.checks import check_config, preflight
from cogmodels.runner.tasks import TASKS, RunContext

if TYPE_CHECKING:  # pandas and the store (which reads tables with pandas) are imported where a run needs them,
    import pandas as pd  # so that `cogmodels run` checks its config before importing them


log = logging.getLogger("cogmodels.runner")

CONFIG_DIR_ENV = "COGMODELS_CONFIG_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONED_PACKAGES = ("cogmodels", "torch", "timm", "numpy", "scipy", "pandas", "hydra-core", "omegaconf",
                      "matplotlib")
# Our joblib.yaml shares its name with the plugin's schema on purpose (same fields, n_jobs=2).
warnings.filterwarnings("ignore", message=r"(?s).*validated against ConfigStore schema")


def cpus_from_threads(threads) -> int:
    """``cpus_per_task`` of a Slurm job from the run's ``threads`` (null: 1); the slurm launcher config uses it."""
    return int(threads) if threads not in (None, "") else 1


OmegaConf.register_new_resolver("cpus_from_threads", cpus_from_threads, replace=True)


def config_dir() -> Path:
    """The Hydra config folder: ``$COGMODELS_CONFIG_DIR``, else ``experiments/conf`` of the source tree."""
    folder = Path(os.environ.get(CONFIG_DIR_ENV) or REPO_ROOT / "experiments" / "conf").resolve()
    if not (folder / "config.yaml").is_file():
        raise ConfigError(format_problem(
            f"{folder}/config.yaml", "the cogmodels Hydra config tree (experiments/conf)", "no such file",
            f"run from a source checkout (pip install -e .) or set {CONFIG_DIR_ENV}=/path/to/experiments/conf"))
    return folder


def git_sha() -> str:
    """Commit of the source tree, with "-dirty" when it has uncommitted changes; "unknown" outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def package_versions() -> dict:
    """Versions of the packages that determine the numbers."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_run_files(folder: Path, cfg: DictConfig, meta: dict, items: dict, rows: list) -> dict:
    """Write config.yaml, meta.json, items.npz and metrics.json into the (temporary) run folder."""
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    atomic.write_json(folder / "meta.json", meta)
    np.savez(folder / "items.npz", **{name: np.asarray(a) for name, a in items.items()})
    metrics = {}
    for row in rows:
        name = row["metric"] + (f"@{row['layer']}" if row.get("layer") else "")
        metrics.setdefault(name, {})[row["roi_or_condition"]] = {"value": row["value"], "n_items": row["n_items"]}
    atomic.write_json(folder / "metrics.json", metrics)
    return metrics


def summary_table(rows: list) -> pd.DataFrame:
    """The rows of one run as a compact table: one row per (subject, ROI or condition), one column per metric
    (``metric@layer`` for a metric of one backbone layer, ``head:metric`` when the run scores several heads)."""
    import pandas as pd

    table = pd.DataFrame(rows)
    if table.empty:
        return table
    layer = table["layer"].fillna("") if "layer" in table.columns else pd.Series("", index=table.index)
    table["column"] = table["metric"] + layer.map(lambda name: f"@{name}" if name else "")
    heads = table["head"].fillna("") if "head" in table.columns else pd.Series("", index=table.index)
    if heads[heads != ""].nunique() > 1:
        table["column"] = heads.map(lambda name: f"{name}:" if name else "") + table["column"]
    index = [c for c in ("subject", "roi_or_condition") if c in table.columns]
    wide = table.pivot_table(index=index, columns="column", values="value", aggfunc="first", sort=False)
    return wide.reset_index().rename_axis(columns=None)


def execute(cfg: DictConfig) -> str:
    """Run one config end to end (skip it when already complete); returns its run id.

    Parameters
    ----------
    cfg : DictConfig
        A composed config (``hydra`` node optional): task, experiment_name, seed,
        output_root, cache_dir, force and the task's groups (dataset, backbone, ...).
    """
    from cogmodels.runner.store import ResultsStore, RunRecord, load_results, run_id_of

    check_config(cfg)
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    run_id = run_id_of(container)
    experiment = str(cfg.experiment_name)
    store = ResultsStore(Path(str(cfg.output_root)))
    store.remove_stale_temps()
    if store.is_complete(run_id) and not cfg.get("force", False):
        log.info("run %s (%s, seed %s) is already complete in %s: skipped (force=true recomputes it)",
                 run_id, experiment, cfg.get("seed"), store.db_path)
        _log_summary(run_id, load_results(store.root, run_id=run_id).to_dict("records"))
        return run_id
    if cfg.get("threads") is not None:
        import torch

        torch.set_num_threads(int(cfg.threads))
    task = TASKS.get(str(cfg.task))
    record = RunRecord(experiment=experiment, task=str(cfg.task), config=container, git_sha=git_sha(),
                       seed=cfg.get("seed"), started=_now())
    log.info("run %s: experiment %s, task %s, seed %s -> %s", run_id, experiment, cfg.task, record.seed,
             store.run_dir(experiment, run_id))
    store.mark_running(run_id, record)
    ctx = RunContext(cfg=cfg, cache=FeatureCache(Path(str(cfg.cache_dir))))
    try:
        output = task(ctx)
        tmp_dir = store.new_run_folder(experiment, run_id)
        record.finished, record.timings = _now(), dict(ctx.timings)
        meta = {"run_id": run_id, "experiment": experiment, "task": record.task, "git_sha": record.git_sha,
                "seed": record.seed, "started": record.started, "finished": record.finished,
                "timings_s": record.timings, "versions": package_versions(), "host": platform.node(),
                "feature_cache": {"hits": ctx.cache.hits, "misses": ctx.cache.misses}, **output.provenance,
                "result_rows": output.rows}  # the store can be rebuilt from the run folders
        _write_run_files(tmp_dir, cfg, meta, output.items, output.rows)
        run_dir = store.commit(run_id, record, tmp_dir, output.rows)
    except BaseException as err:
        log_path = job_log_path()
        store.mark_failed(run_id, "".join(traceback.format_exception(err)) + (f"log: {log_path}\n" if log_path else ""))
        raise
    log.info("run %s complete (%s); stage timings (s): %s", run_id, run_dir,
             ", ".join(f"{k} {v:.2f}" for k, v in ctx.timings.items()))
    _log_summary(run_id, output.rows)
    return run_id


def job_log_path() -> str | None:
    """The stderr log of the submitit (Slurm) job this process runs in, or None outside one."""
    if "SUBMITIT_FOLDER" not in os.environ:
        return None
    import submitit

    return str(submitit.JobEnvironment().paths.stderr)


def _log_summary(run_id: str, rows: list) -> None:
    table = summary_table(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}")
    log.info("summary of run %s:\n%s", run_id, table)


_FAILED_RUNS: list = []  # typed errors of single (not multirun) runs, reported by main() in one line


def _task_function(cfg: DictConfig) -> str | None:
    # Module-level, so the joblib and submitit launchers can pickle it by reference.
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return execute(cfg)
    except CogModelsError as err:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.RUN:
            _FAILED_RUNS.append(err)  # main() says it in one line (Hydra would add its own line first)
            return None
        raise  # a sweep: Hydra names the failing job's overrides, then main() prints the error


# Hydra options that print or select something other than a run: no preflight for them.
_HYDRA_OPTIONS_WITHOUT_PREFLIGHT = ("--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i",
                                    "--resolve", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                                    "--config-dir", "-cd", "--experimental-rerun", "--shell-completion", "-sc")
VERBOSE_FLAG = "--verbose"


def typed_error(err: BaseException) -> CogModelsError | None:
    """The cogmodels error behind ``err`` (itself, or the cause Hydra's instantiate wrapped), or None."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, CogModelsError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the Hydra app with ``argv`` (default: ``sys.argv[1:]``) as its command line; returns the exit status.

    A typed error prints one line (``error: ...``) and returns 2; with ``--verbose``
    or ``HYDRA_FULL_ERROR=1`` it is raised with its full traceback.
    """
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = VERBOSE_FLAG in argv or os.environ.get("HYDRA_FULL_ERROR") == "1"
    argv = [a for a in argv if a != VERBOSE_FLAG]
    saved_argv, saved_full = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    try:
        folder = config_dir()
        if not any(a.split("=", 1)[0] in _HYDRA_OPTIONS_WITHOUT_PREFLIGHT for a in argv):
            preflight([a for a in argv if not a.startswith("-")], folder)
        slurm.install()  # request check, pending-reason watch and squeue polling for hydra/launcher=slurm
        app = hydra.main(config_path=str(folder), config_name="config", version_base="1.3")(_task_function)
        sys.argv = ["cogmodels run", *argv]
        os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; this function decides what the user sees
        _FAILED_RUNS.clear()
        app()
        if _FAILED_RUNS:
            raise _FAILED_RUNS.pop()
    except (CogModelsError, HydraException, OmegaConfBaseException) as err:
        if verbose:
            raise
        typed = typed_error(err)
        message = " ".join(str(typed if typed is not None else err).split())  # one line
        print(f"error: {message} [{VERBOSE_FLAG} or HYDRA_FULL_ERROR=1: traceback]", file=sys.stderr)
        return 2
    finally:
        sys.argv = saved_argv
        if saved_full is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_full
    return 0
