"""Sweeps through ``hydra/launcher=slurm`` (submitit) on a real one-node Slurm cluster.

The cluster comes from the ``slurm_cluster`` fixture (tests/slurm/conftest.py): munge,
slurmctld and slurmd for this machine, without accounting storage.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from cogmodels.runner.store import DB_NAME, load_results, load_runs

pytestmark = pytest.mark.slurm

SMALL = ["dataset=quickstart_sim", "dataset.n_stimuli=40", "dataset.n_channels=6", "dataset.image_size=32",
         "encoder.cv=3", "threads=1"]


def sweep_command(root, *args):
    return [sys.executable, "-m", "cogmodels.runner.cli", "run", "-m", "experiment=quickstart",
            f"output_root={root}", *SMALL, "hydra/launcher=slurm", *args]


def run_env(cluster) -> dict:
    return {**cluster.env, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def n_complete(root) -> int:
    try:
        with sqlite3.connect(f"file:{root / DB_NAME}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status = 'complete'").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def check_store(root, seeds):
    runs = load_runs(root)
    assert sorted(runs["seed"]) == sorted(seeds) and runs["run_id"].is_unique
    results = load_results(root)
    assert not results.duplicated(["run_id", "layer", "roi_or_condition", "metric"]).any()
    folders = sorted((root / "runs" / "quickstart").iterdir())
    assert [f.name for f in folders] == sorted(runs["run_id"])  # no temporaries, no half-written runs
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "items.npz", "meta.json", "metrics.json"]


def test_the_cluster_runs_a_batch_job(slurm_cluster, tmp_path):
    out = tmp_path / "hello.txt"
    subprocess.run(["sbatch", "--wait", f"--output={out}", "--wrap=echo hello from slurm"],
                   env=slurm_cluster.env, check=True, capture_output=True, timeout=120)
    assert out.read_text().strip() == "hello from slurm"


def test_a_four_config_sweep_with_the_shipped_defaults_completes_quietly(slurm_cluster, tmp_path):
    root = tmp_path / "out"
    done = subprocess.run(sweep_command(root, "seed=0,1,2,3"), capture_output=True, text=True,
                          env=run_env(slurm_cluster), timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    check_store(root, [0, 1, 2, 3])
    assert output.count("polled with squeue") == 1 and "Bypassing sacct error" not in output


def test_a_killed_driver_resumes_to_exactly_four_complete_runs(slurm_cluster, tmp_path):
    root = tmp_path / "out"
    command = sweep_command(root, "seed=0,1,2,3", "hydra.launcher.array_parallelism=1")  # one job at a time
    with open(tmp_path / "first.log", "w") as log:
        driver = subprocess.Popen(command, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
                                  env=run_env(slurm_cluster))
        deadline = time.monotonic() + 300
        while n_complete(root) < 1 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    subprocess.run(["scancel", "--me"], env=slurm_cluster.env, capture_output=True)  # jobs left by the driver
    done_before = n_complete(root)
    assert 1 <= done_before < 4, (tmp_path / "first.log").read_text()[-3000:]

    again = subprocess.run(command, capture_output=True, text=True, env=run_env(slurm_cluster), timeout=600)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    check_store(root, [0, 1, 2, 3])


def test_a_job_that_fails_on_the_node_is_in_the_store_with_its_log(slurm_cluster, tmp_path):
    root = tmp_path / "out"
    done = subprocess.run(sweep_command(root, "seed=0", "backbone.layers=[no_such_layer]"), capture_output=True,
                          text=True, env=run_env(slurm_cluster), timeout=600)
    assert done.returncode != 0
    failed = load_runs(root, status="failed")
    assert len(failed) == 1
    error = failed["error"].iloc[0]
    log_line = [line for line in error.splitlines() if line.startswith("log: ")]
    assert log_line and os.path.exists(log_line[0][len("log: "):]), error[-2000:]
    listed = subprocess.run([sys.executable, "-m", "cogmodels.runner.cli", "results", "--root", str(root)],
                            capture_output=True, text=True, env=run_env(slurm_cluster), timeout=120)
    assert "failed" in listed.stdout and log_line[0][len("log: "):] in listed.stdout, listed.stdout


def test_a_request_the_partition_cannot_meet_fails_fast_with_the_fix(slurm_cluster, tmp_path):
    too_many = slurm_cluster.cpus + 1
    done = subprocess.run(sweep_command(tmp_path / "out", "seed=0,1", f"threads={too_many}"), capture_output=True,
                          text=True, env=run_env(slurm_cluster), timeout=300)
    assert done.returncode == 2
    error = done.stderr.strip().splitlines()[-1]
    assert "cpus_per_task" in error and f"at most {slurm_cluster.cpus}" in error and "threads=" in error
    queue = subprocess.run(["squeue", "--me", "--noheader"], env=slurm_cluster.env, capture_output=True, text=True)
    assert queue.stdout.strip() == ""  # nothing was submitted


def test_a_job_pending_for_a_hopeless_reason_stops_the_driver(slurm_cluster, tmp_path):
    # Ask for more memory than the node has while bypassing the pre-submission check's view of it:
    # the partition's MaxMemPerNode is what sinfo reports, so instead drain the node, the other hopeless case.
    subprocess.run(["scontrol", "update", f"nodename={os.uname().nodename}", "state=drain", "reason=test"],
                   env=slurm_cluster.env, check=True, capture_output=True)
    try:
        done = subprocess.run(sweep_command(tmp_path / "out", "seed=0"), capture_output=True, text=True,
                              env=run_env(slurm_cluster), timeout=300)
    finally:
        subprocess.run(["scontrol", "update", f"nodename={os.uname().nodename}", "state=resume"],
                       env=slurm_cluster.env, capture_output=True)
    assert done.returncode == 2, (done.stdout + done.stderr)[-3000:]
    error = done.stderr.strip().splitlines()[-1]
    assert "ReqNodeNotAvail" in error or "PartitionConfig" in error, error
    assert "lower the request" in error
