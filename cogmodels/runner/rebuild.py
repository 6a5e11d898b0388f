"""Rebuild results.sqlite from the run folders (``cogmodels results --rebuild``).

Each run folder (``runs/<experiment>/<run_id>/``) holds everything its rows
need: config.yaml (the resolved config), meta.json (run id, task, git sha, seed,
times, timings and the result rows) and items.npz.  The new store is built
under a temporary name and moved into place; the old file (damaged or not) is
kept beside it as ``results.sqlite.damaged-<time>`` together with its -wal/-shm
files, so nothing is lost.  Folders that are incomplete (a killed run) or were
written before meta.json held the result rows are left out and listed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from cogmodels import io as atomic
from cogmodels.errors import ConfigError, format_problem
from cogmodels.runner.store import DB_NAME, ResultsStore, RunRecord

log = logging.getLogger(__name__)

RUN_FILES = ("config.yaml", "meta.json", "items.npz", "metrics.json")


@dataclass
class RebuildReport:
    """What :func:`rebuild_store` did.

    Attributes
    ----------
    restored : list of str
        Run ids now in the store.
    skipped : dict of str -> str
        Run folder -> why it was left out.
    kept_old : Path or None
        Where the previous results.sqlite was moved.
    """

    restored: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    kept_old: Path | None = None


def _run_of(folder: Path) -> tuple[RunRecord, list]:
    """The record and result rows of one run folder (raises ValueError/KeyError/OSError when it cannot)."""
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"missing {missing} (a run killed before its commit?)")
    meta = json.loads((folder / "meta.json").read_text())
    if "result_rows" not in meta:
        raise ValueError("meta.json has no result_rows (written by an older version): rerun it with force=true")
    config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    config.pop("hydra", None)
    record = RunRecord(experiment=folder.parent.name, task=str(meta.get("task", config.get("task", ""))),
                       config=config, git_sha=str(meta.get("git_sha", "unknown")), seed=meta.get("seed"),
                       started=str(meta.get("started", "")), finished=str(meta.get("finished", "")),
                       timings=dict(meta.get("timings_s") or {}))
    return record, list(meta["result_rows"])


def rebuild_store(root) -> RebuildReport:
    """Rebuild ``root``/results.sqlite from the run folders under ``root``/runs.

    Parameters
    ----------
    root : path
        The output root.

    Returns
    -------
    RebuildReport
    """
    root = Path(root).resolve()
    runs_dir = root / "runs"
    if not runs_dir.is_dir():
        raise ConfigError(format_problem(f"{runs_dir}", "the run folders of an output root (runs/<experiment>/<id>)",
                                         "no such folder", "pass the output root that holds runs/ with --root"))
    report = RebuildReport()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    build_root = root / f"{atomic.TEMP_PREFIX}rebuild-{stamp}-{os.getpid()}"
    build_root.mkdir()
    try:
        staging = ResultsStore(build_root)
        for folder in sorted(p for p in runs_dir.glob("*/*") if p.is_dir()):
            if folder.name.startswith(atomic.TEMP_PREFIX):
                continue
            try:
                record, rows = _run_of(folder)
                staging.commit_existing(folder.name, record, folder.relative_to(root), rows)
            except (ValueError, KeyError, OSError, yaml.YAMLError) as err:
                report.skipped[str(folder)] = str(err)
                continue
            report.restored.append(folder.name)
        with staging._connect() as con:  # fold the write-ahead log into the file before moving it
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        final = root / DB_NAME
        if final.exists():
            report.kept_old = root / f"{DB_NAME}.damaged-{stamp}"
            for suffix in ("", "-wal", "-shm"):
                old = Path(str(final) + suffix)
                if old.exists():
                    os.replace(old, Path(str(report.kept_old) + suffix))
        os.replace(build_root / DB_NAME, final)
    finally:
        for leftover in build_root.glob("*"):
            leftover.unlink()
        build_root.rmdir()
    for folder, why in report.skipped.items():
        log.warning("not restored: %s: %s", folder, why)
    log.info("rebuilt %s from %d run folder(s); %d left out", root / DB_NAME, len(report.restored),
             len(report.skipped))
    return report
