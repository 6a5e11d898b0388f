"""The results store: ``results.sqlite`` plus one folder per run, under an output root.

Layout::

    <output_root>/results.sqlite              tables `runs` and `results`
    <output_root>/runs/<experiment>/<run_id>/ config.yaml, meta.json, items.npz, metrics.json

A run is written in two atomic steps: its folder is built under a temporary
name and renamed into place, then its `runs` row (status "complete") and all
its `results` rows are inserted in ONE sqlite transaction.  A run counts as
complete only once that transaction is committed, so a run killed at any
point leaves either nothing or a folder without a committed row, which the
next attempt replaces.  Several processes may write at once (joblib workers,
SLURM jobs): sqlite serialises the transactions (WAL journal, busy timeout,
retries with back-off).

The folder is the record of truth: meta.json holds the run's result rows, so
``cogmodels results --rebuild`` (:func:`cogmodels.runner.rebuild.rebuild_store`)
can always rebuild results.sqlite from the run folders.  A run counts as
complete only when its row is committed AND its folder (with items.npz) exists;
a completed row whose folder was deleted is recomputed, with a warning.  A
damaged results.sqlite gives a :class:`~cogmodels.errors.DataFormatError` that
names the file and the rebuild command.  Reading never writes: a read-only
store can be read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import sqlite3
import time
import urllib.parse
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels import io as atomic
from cogmodels.errors import ConfigError, DataFormatError, format_problem

log = logging.getLogger(__name__)

DB_NAME = "results.sqlite"
RESULT_COLUMNS = ("run_id", "experiment", "dataset", "backbone", "layer", "head", "subject",
                  "roi_or_condition", "metric", "value", "n_items")
# Keys that say where or how a run executes, not what it computes: left out of the run id.
# Keys that change where or how verbosely a run happens, never its numbers.
VOLATILE_KEYS = ("output_root", "cache_dir", "force", "threads", "dataset.root", "dataset.cache_dir",
                 "dataset.progress", "encoder.progress", "hydra")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,           -- running | complete | failed
    experiment TEXT NOT NULL,
    task TEXT,
    run_dir TEXT,                   -- relative to the output root
    config TEXT,                    -- resolved config, JSON
    git_sha TEXT,
    seed INTEGER,
    started TEXT,
    finished TEXT,
    timings TEXT,                   -- seconds per stage, JSON
    error TEXT
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    experiment TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT '',
    backbone TEXT NOT NULL DEFAULT '',
    layer TEXT NOT NULL DEFAULT '',
    head TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    roi_or_condition TEXT NOT NULL DEFAULT '',
    metric TEXT NOT NULL,
    value REAL,                     -- NULL = undefined (NaN), reported with a warning when written
    n_items INTEGER,
    UNIQUE (run_id, dataset, backbone, layer, head, subject, roi_or_condition, metric)
);
CREATE INDEX IF NOT EXISTS results_by_run ON results(run_id);
"""


def run_id_of(config: Mapping, volatile: Sequence[str] = VOLATILE_KEYS) -> str:
    """Content hash of a resolved run config, without its volatile keys.

    Parameters
    ----------
    config : mapping
        The resolved config (plain dicts and lists).
    volatile : sequence of str
        Dotted keys to leave out (where outputs go, ``force``, ...).

    Returns
    -------
    run_id : str of 16 hex digits
    """
    stable = json.loads(json.dumps(dict(config), default=str))
    for dotted in volatile:
        *parents, leaf = dotted.split(".")
        node = stable
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    text = json.dumps(stable, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass
class RunRecord:
    """What the `runs` table holds about one run (besides its id and status)."""

    experiment: str
    task: str
    config: dict
    git_sha: str = "unknown"
    seed: int | None = None
    started: str = ""
    finished: str = ""
    timings: dict = field(default_factory=dict)


def _retry(operation, attempts: int = 12):
    """Run ``operation()``, retrying while sqlite reports the database busy or locked."""
    jitter = random.Random()  # back-off timing only, never results
    for attempt in range(attempts):
        try:
            return operation()
        except sqlite3.OperationalError as err:
            busy = "locked" in str(err) or "busy" in str(err)
            if not busy or attempt == attempts - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * (1.0 + jitter.random()))


def damaged_store_error(path: Path, err: Exception) -> DataFormatError:
    """The typed error for a results.sqlite that SQLite cannot read (random bytes, cut short, empty)."""
    root = Path(path).parent
    return DataFormatError(format_problem(
        str(path), "an SQLite results store written by cogmodels (tables runs and results)",
        f"a damaged or foreign file ({type(err).__name__}: {err})",
        f"rebuild it from the run folders with `cogmodels results --rebuild --root {root}` (the damaged file "
        "is kept beside it as results.sqlite.damaged-<time>)"))


@contextlib.contextmanager
def _readable(path: Path):
    """Turn SQLite's and pandas' errors about a damaged store file into :func:`damaged_store_error`."""
    try:
        yield
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            raise
        raise damaged_store_error(path, err) from None
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise  # our mistakes, not a damaged file
    except sqlite3.DatabaseError as err:
        raise damaged_store_error(path, err) from None
    except pd.errors.DatabaseError as err:
        raise damaged_store_error(path, err.__cause__ or err) from None


class ResultsStore:
    """Read and write runs and results under one output root.

    Parameters
    ----------
    root : path
        The output root; created on first write.
    """

    def __init__(self, root):
        self.root = Path(root).resolve()
        self.db_path = self.root / DB_NAME
        self.runs_dir = self.root / "runs"

    # -- connection ------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with _readable(self.db_path):
            con = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None)
            try:
                _retry(lambda: con.execute("PRAGMA journal_mode=WAL"))
                con.execute("PRAGMA synchronous=NORMAL")
                _retry(lambda: con.executescript(_SCHEMA))
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def _transaction(self, con):
        _retry(lambda: con.execute("BEGIN IMMEDIATE"))
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        _retry(lambda: con.execute("COMMIT"))

    # -- queries ---------------------------------------------------------------
    def status(self, run_id: str) -> str | None:
        """Status of ``run_id`` ("running", "complete", "failed"), or None if unknown."""
        if not self.db_path.exists():
            return None
        with self._connect() as con:
            row = _retry(lambda: con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone())
        return None if row is None else row[0]

    def is_complete(self, run_id: str) -> bool:
        """True when the run's row is committed as complete AND its folder (with items.npz) exists.

        A completed row whose folder or items.npz was deleted gives False with a
        warning: the run is computed again (and its row replaced).
        """
        if self.status(run_id) != "complete":
            return False
        with self._connect() as con:
            (run_dir,) = _retry(lambda: con.execute("SELECT run_dir FROM runs WHERE run_id = ?",
                                                    (run_id,)).fetchone())
        folder = self.root / str(run_dir or "")
        if run_dir and (folder / "items.npz").is_file():
            return True
        missing = folder / "items.npz" if run_dir and folder.is_dir() else folder
        log.warning("%s", format_problem(
            f"run {run_id} in {self.db_path}", f"its run folder with items.npz ({missing})",
            "a completed row whose folder or items.npz was deleted", "nothing to do: the run is computed again"))
        return False

    def run_dir(self, experiment: str, run_id: str) -> Path:
        return self.runs_dir / experiment / run_id

    # -- writes ----------------------------------------------------------------
    def remove_stale_temps(self) -> int:
        """Remove temporary run folders left by killed runs (of this host)."""
        if not self.runs_dir.is_dir():
            return 0
        return sum(atomic.remove_stale_temps(folder) for folder in self.runs_dir.iterdir() if folder.is_dir())

    def mark_running(self, run_id: str, record: RunRecord) -> None:
        """Record that a run started; a completed row is left as it is (``force`` replaces it at the end)."""
        with self._connect() as con, self._transaction(con):
            con.execute(
                "INSERT INTO runs (run_id, status, experiment, task, config, seed, started) "
                "VALUES (?, 'running', ?, ?, ?, ?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET status = 'running', started = excluded.started, error = NULL "
                "WHERE runs.status != 'complete'",
                (run_id, record.experiment, record.task, json.dumps(record.config, default=str),
                 record.seed, record.started))

    def mark_failed(self, run_id: str, error: str) -> None:
        """Record a failed run (a completed row is left as it is)."""
        with self._connect() as con, self._transaction(con):
            con.execute("UPDATE runs SET status = 'failed', error = ? WHERE run_id = ? AND status != 'complete'",
                        (error[-4000:], run_id))

    def new_run_folder(self, experiment: str, run_id: str) -> Path:
        """An empty temporary folder beside the final run folder; fill it, then :meth:`commit`."""
        final = self.run_dir(experiment, run_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = atomic.temp_path(final)
        tmp.mkdir()
        return tmp

    def commit(self, run_id: str, record: RunRecord, tmp_dir: Path, rows: Sequence[Mapping]) -> Path:
        """Move ``tmp_dir`` into place and insert the run and its result rows in one transaction.

        Parameters
        ----------
        run_id : str
        record : RunRecord
        tmp_dir : path
            From :meth:`new_run_folder`, with the run's files written.
        rows : sequence of mappings
            One per (dataset, backbone, layer, head, subject, roi_or_condition, metric):
            keys of :data:`RESULT_COLUMNS` except run_id and experiment.

        Returns
        -------
        run_dir : Path
        """
        table = self._result_table(run_id, record.experiment, rows)
        final = self.run_dir(record.experiment, run_id)
        atomic.replace_dir(tmp_dir, final)
        self._insert(run_id, record, final.relative_to(self.root), table)
        return final

    def commit_existing(self, run_id: str, record: RunRecord, run_dir: Path, rows: Sequence[Mapping]) -> None:
        """Insert a run whose folder already exists (``run_dir``, relative to the root) and its rows."""
        self._insert(run_id, record, Path(run_dir), self._result_table(run_id, record.experiment, rows))

    def _insert(self, run_id: str, record: RunRecord, run_dir: Path, table: list) -> None:
        with self._connect() as con, self._transaction(con):
            con.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
            con.execute(
                "INSERT OR REPLACE INTO runs (run_id, status, experiment, task, run_dir, config, git_sha, seed, "
                "started, finished, timings, error) VALUES (?, 'complete', ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (run_id, record.experiment, record.task, str(run_dir), json.dumps(record.config, default=str),
                 record.git_sha, record.seed, record.started, record.finished, json.dumps(record.timings)))
            con.executemany(
                f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
                table)

    @staticmethod
    def _result_table(run_id: str, experiment: str, rows: Sequence[Mapping]) -> list[tuple]:
        table, n_undefined = [], 0
        for i, row in enumerate(rows):
            if "metric" not in row or "value" not in row:
                raise DataFormatError(format_problem(f"result row {i}", "keys 'metric' and 'value'",
                                                     f"keys {sorted(row)}", "return complete rows from the task"))
            value = float(row["value"])
            if not np.isfinite(value):
                n_undefined += 1
            full = {**row, "run_id": run_id, "experiment": experiment}
            text = tuple("" if full.get(c) is None else str(full[c]) for c in RESULT_COLUMNS[:-2])
            n_items = None if row.get("n_items") is None else int(row["n_items"])
            table.append((*text, value if np.isfinite(value) else None, n_items))
        keys = [row[:-2] for row in table]
        if len(set(keys)) != len(keys):
            duplicated = sorted({k for k in keys if keys.count(k) > 1})
            raise DataFormatError(format_problem(
                f"result rows of run {run_id}", "one row per (dataset, backbone, layer, head, subject, "
                "roi_or_condition, metric)", f"{len(duplicated)} duplicated key(s), e.g. {duplicated[0][2:]}",
                "give each row a distinct roi_or_condition / layer / metric"))
        if n_undefined:
            log.warning("run %s: %d of %d result values are undefined (NaN/inf) and are stored as NULL",
                        run_id, n_undefined, len(rows))
        return table


# -- reading -------------------------------------------------------------------
def _open_readonly(root) -> sqlite3.Connection:
    """A read-only connection to ``root``/results.sqlite (it works on a read-only folder or file system)."""
    path = Path(root).resolve() / DB_NAME
    if not path.is_file():
        raise DataFormatError(format_problem(
            str(path), "a results store (results.sqlite)", "no such file",
            "run an experiment first (cogmodels run experiment=quickstart) or point --root / "
            "COGMODELS_OUTPUT_ROOT at the output root that holds results.sqlite"))
    if path.stat().st_size == 0:
        raise damaged_store_error(path, sqlite3.DatabaseError("the file is empty (0 bytes)"))
    uri = "file:" + urllib.parse.quote(str(path))
    for options in ("?mode=ro", "?mode=ro&immutable=1"):  # immutable: a read-only folder where WAL cannot open
        con = sqlite3.connect(uri + options, uri=True, timeout=60.0)
        try:
            with _readable(path):
                _retry(lambda: con.execute("SELECT run_id FROM runs LIMIT 1").fetchall())
            return con
        except sqlite3.OperationalError as err:
            con.close()
            if "unable to open" not in str(err) and "readonly" not in str(err):
                raise
        except BaseException:
            con.close()
            raise
    raise DataFormatError(format_problem(str(path), "a readable results store", "a file SQLite cannot open",
                                         "check the file's permissions"))


def _read_sql(root, query: str) -> pd.DataFrame:
    con = _open_readonly(root)
    try:
        with _readable(Path(root).resolve() / DB_NAME):
            return _retry(lambda: pd.read_sql_query(query, con))
    finally:
        con.close()


def load_runs(root, status: str | None = "complete") -> pd.DataFrame:
    """The `runs` table as a DataFrame (config and timings parsed from JSON).

    Parameters
    ----------
    root : path
        Output root holding results.sqlite.
    status : str or None
        Keep only runs with this status; None keeps all.
    """
    runs = _read_sql(root, "SELECT * FROM runs")
    if status is not None:
        runs = runs[runs["status"] == status].reset_index(drop=True)
    # a failed or unfinished run has NULL timings (NaN in pandas, which is truthy)
    runs["config"] = [json.loads(c) if isinstance(c, str) and c else {} for c in runs["config"]]
    runs["timings"] = [json.loads(t) if isinstance(t, str) and t else {} for t in runs["timings"]]
    return runs


def _flatten(config: Mapping, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _as_text(value) -> str:
    """Config values as they are written on the command line (true, null, 5, name)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _matches(value, wanted) -> bool:
    options = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
    return any(value == option or _as_text(value) == _as_text(option) for option in options)


def load_results(root, **filters) -> pd.DataFrame:
    """Result rows of completed runs, one per (run, subject, ROI/condition, metric).

    Parameters
    ----------
    root : path
        Output root holding results.sqlite.
    **filters
        ``column=value`` (or a list of values) on a result column (experiment,
        dataset, backbone, layer, head, subject, roi_or_condition, metric, seed,
        run_id), or a dotted config key of the run (e.g. ``encoder.cv=5``); pass
        dotted keys as ``**{"encoder.cv": 5}``.

    Returns
    -------
    DataFrame with the columns of :data:`RESULT_COLUMNS` plus seed and finished.
    """
    table = _read_sql(root, "SELECT results.*, runs.seed AS seed, runs.finished AS finished FROM results "
                            "JOIN runs ON runs.run_id = results.run_id WHERE runs.status = 'complete' "
                            "ORDER BY runs.finished, results.rowid")
    config_filters = {k: v for k, v in filters.items() if k not in table.columns}
    for column, wanted in filters.items():
        if column in table.columns:
            table = table[[_matches(v, wanted) for v in table[column]]]
    if config_filters:
        configs = load_runs(root).set_index("run_id")["config"].map(_flatten)
        unknown = [k for k in config_filters if not any(k in flat for flat in configs)]
        if unknown:
            raise ConfigError(format_problem(
                "results filter", f"a result column ({', '.join(table.columns)}) or a dotted config key",
                f"unknown key(s) {unknown}", "check the spelling, e.g. backbone=gabor or encoder.cv=5"))
        keep = [all(k in configs[r] and _matches(configs[r][k], v) for k, v in config_filters.items())
                for r in table["run_id"]]
        table = table[keep]
    return table.reset_index(drop=True)


def load_items(root, run_id: str) -> dict[str, np.ndarray]:
    """The per-item arrays (items.npz) of a completed run."""
    runs = load_runs(root)
    match = runs[runs["run_id"] == run_id]
    if match.empty:
        raise DataFormatError(format_problem(f"{Path(root) / DB_NAME}", f"a completed run {run_id!r}",
                                             "no such run", "list runs with `cogmodels results`"))
    path = Path(root) / match.iloc[0]["run_dir"] / "items.npz"
    if not path.is_file():
        raise DataFormatError(format_problem(
            str(path), f"the per-item arrays of completed run {run_id!r}", "no such file (the run folder or its "
            "items.npz was deleted)", f"rerun the run's experiment: a run whose folder is missing is computed "
            f"again (its config: {Path(root) / match.iloc[0]['run_dir'] / 'config.yaml'} or the runs table)"))
    try:
        with np.load(path, allow_pickle=False) as items:
            return {name: items[name] for name in items.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataFormatError(format_problem(str(path), "a complete items.npz", f"a damaged file ({err})",
                                             "rerun the run with force=true")) from None
