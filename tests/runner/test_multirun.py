"""Multiruns through the real command line: kill -9 and resume; the joblib launcher."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd

from cogmodels.runner.store import DB_NAME, load_results, load_runs

SMALL = ["dataset=quickstart_sim",
         "dataset.n_stimuli=40", "dataset.n_channels=6", "dataset.image_size=32", "encoder.cv=3", "threads=1"]


def _command(root, *args):
    return [sys.executable, "-m", "cogmodels.runner.cli", "run", "-m", "experiment=quickstart",
            f"output_root={root}", *SMALL, *args]


def _env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _n_complete(root) -> int:
    if not (root / DB_NAME).exists():
        return 0
    try:
        with sqlite3.connect(f"file:{root / DB_NAME}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status = 'complete'").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is being created
        return 0


def _check_store(root, n_runs):
    runs = load_runs(root)
    assert len(runs) == n_runs and runs["run_id"].is_unique and set(runs["status"]) == {"complete"}
    results = load_results(root)
    keys = ["run_id", "layer", "roi_or_condition", "metric"]
    assert not results.duplicated(keys).any() and results.groupby("run_id").ngroups == n_runs
    folders = sorted((root / "runs" / "quickstart").iterdir())
    assert [f.name for f in folders] == sorted(runs["run_id"])  # no temporaries, no half-written runs
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "items.npz", "meta.json", "metrics.json"]
    return runs


def test_a_killed_multirun_resumes_to_exactly_six_complete_runs(tmp_path):
    root = tmp_path / "out"
    command = _command(root, "seed=0,1,2,3,4,5")
    with open(tmp_path / "first.log", "w") as log:
        process = subprocess.Popen(command, start_new_session=True, stdout=log, stderr=subprocess.STDOUT, env=_env())
        deadline = time.monotonic() + 300
        while _n_complete(root) < 1 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done_before = _n_complete(root)
    assert 1 <= done_before < 6, (tmp_path / "first.log").read_text()[-3000:]

    again = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("is already complete") == done_before
    runs = _check_store(root, 6)
    assert sorted(runs["seed"]) == [0, 1, 2, 3, 4, 5]


def test_the_joblib_launcher_runs_two_configs_in_parallel_processes(tmp_path):
    root = tmp_path / "out"
    done = subprocess.run(_command(root, "seed=0,1", "hydra/launcher=joblib"), capture_output=True, text=True,
                          env=_env(), timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in output
    _check_store(root, 2)
    assert sorted((root / "hydra" / "multirun").glob("*/[01]")) != []  # Hydra's output stays under output_root
    assert isinstance(load_results(root), pd.DataFrame)
