"""Faults of the store and the output root (issue 7): typed errors that name the file, the expectation, what was
found and the fix; a rebuild from the run folders; read-only stores; deleted run folders are recomputed."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.runner import cli
from cogmodels.runner.app import execute
from cogmodels.runner.checks import check_writable
from cogmodels.runner.rebuild import rebuild_store
from cogmodels.runner.store import DB_NAME, ResultsStore, load_items, load_results, load_runs


def _assert_actionable(message: str, *names: str) -> None:
    """The message names the file/field, what was expected, what was found and the fix."""
    for name in names:
        assert name in message, (name, message)
    assert "expected" in message and "found" in message and "Fix:" in message, message


@pytest.fixture(scope="module")
def _two_runs_template(tmp_path_factory):
    """Two completed quickstart runs (seeds 0 and 1), computed once for the module."""
    from hydra import compose, initialize_config_dir

    from cogmodels.runner.app import config_dir
    from tests.runner.conftest import SMALL

    root = tmp_path_factory.mktemp("faults") / "out"
    ids = []
    for seed in (0, 1):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=["experiment=quickstart", f"output_root={root}", *SMALL,
                                                f"seed={seed}"])
        ids.append(execute(cfg))
    return root, ids


@pytest.fixture
def two_runs(_two_runs_template, tmp_path):
    """A fresh copy, at tmp_path/out (where compose_config writes), of an output root with two completed runs."""
    template, ids = _two_runs_template
    root = tmp_path / "out"
    shutil.copytree(template, root)
    return root, ids, load_results(root)


def _damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "random_bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    elif how == "cut_in_half":
        path.write_bytes(data[:len(data) // 2])
    else:
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["random_bytes", "cut_in_half", "zero_bytes"])
def test_a_damaged_store_gives_a_typed_error_and_rebuilds_from_the_run_folders(two_runs, how, capsys):
    root, ids, before = two_runs
    db = root / DB_NAME
    _damage(db, how)
    with pytest.raises(DataFormatError) as caught:
        load_results(root)
    _assert_actionable(str(caught.value), str(db), "cogmodels results --rebuild")
    assert cli.main(["results", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(db) in err and "--rebuild" in err and "Traceback" not in err

    assert cli.main(["results", "--rebuild", "--root", str(root)]) == 0
    assert f"from 2 run folder(s)" in capsys.readouterr().out
    after = load_results(root)
    key = ["run_id", "layer", "roi_or_condition", "metric"]
    left, right = before.sort_values(key).reset_index(drop=True), after.sort_values(key).reset_index(drop=True)
    assert left[key].equals(right[key])
    np.testing.assert_allclose(right["value"], left["value"])
    assert sorted(load_runs(root)["run_id"]) == sorted(ids)
    kept = [p for p in root.glob(f"{DB_NAME}.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and kept[0].stat().st_size == (0 if how == "zero_bytes" else kept[0].stat().st_size)


def test_writing_to_a_damaged_store_is_a_typed_error_too(two_runs, compose_config):
    root, _, _ = two_runs
    _damage(root / DB_NAME, "random_bytes")
    with pytest.raises(DataFormatError) as caught:
        execute(compose_config("seed=2"))
    _assert_actionable(str(caught.value), str(root / DB_NAME), "--rebuild")


def test_rebuild_leaves_out_incomplete_folders_and_says_why(two_runs):
    root, ids, _ = two_runs
    (root / "runs" / "quickstart" / ids[1] / "meta.json").unlink()
    report = rebuild_store(root)
    assert report.restored == [ids[0]] and "meta.json" in next(iter(report.skipped.values()))
    with pytest.raises(ConfigError, match="runs"):
        rebuild_store(root / "elsewhere")


@pytest.mark.parametrize("deleted", ["folder", "items.npz"])
def test_a_completed_run_whose_folder_was_deleted_is_recomputed_with_a_warning(two_runs, compose_config, deleted,
                                                                                caplog):
    root, (run_id, _), _ = two_runs
    cfg = compose_config("seed=0")
    assert ResultsStore(root).is_complete(run_id)
    expected = load_items(root, run_id)["pearson_r@complex"]
    folder = root / "runs" / "quickstart" / run_id
    if deleted == "folder":
        shutil.rmtree(folder)
    else:
        (folder / "items.npz").unlink()
    with pytest.raises(DataFormatError) as caught:
        load_items(root, run_id)
    _assert_actionable(str(caught.value), "items.npz", run_id, "rerun")
    assert not ResultsStore(root).is_complete(run_id)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert execute(cfg) == run_id
    assert "computed again" in caplog.text and run_id in caplog.text
    np.testing.assert_array_equal(load_items(root, run_id)["pearson_r@complex"], expected)
    assert len(load_results(root, run_id=run_id)) > 0 and len(load_runs(root)) == 2


def test_an_unwritable_output_root_stops_before_any_work(two_runs, compose_config, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError) as caught:
        check_writable(blocker / "out")
    _assert_actionable(str(caught.value), "output_root", str(blocker / "out"), "writable")
    # read-only: the permission check refuses, even for a run that is already complete
    root, (run_id, _), _ = two_runs
    assert ResultsStore(root).is_complete(run_id)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if str(path) == str(root) and mode & os.W_OK
                        else real_access(path, mode, **kw))
    with pytest.raises(ConfigError, match="read-only"):
        execute(compose_config("seed=0"))
    # `cogmodels run` says it in one line before Hydra makes its log folder
    capsys.readouterr()
    code = cli.main(["run", "experiment=quickstart", f"output_root={blocker / 'out'}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "output_root" in err and "Traceback" not in err


def _as_nobody():
    """A command prefix that drops to user nobody, or None (not root, or no setpriv)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_results_reads_a_read_only_store(two_runs):
    source, _, before = two_runs
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("needs root and setpriv to read the store as another user")
    public = Path(tempfile.mkdtemp(prefix="cogmodels-readonly-", dir="/tmp"))  # pytest's tmp is private to root
    try:
        root = public / "out"
        shutil.copytree(source, root)
        for path in [root, *root.rglob("*")]:
            os.chmod(path, 0o555 if path.is_dir() else 0o444)  # owned by root: read-only for nobody
        os.chmod(public, 0o755)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        command = [*prefix, sys.executable, "-m", "cogmodels.runner.cli"]
        done = subprocess.run([*command, "results", "--root", str(root)], capture_output=True, text=True, env=env,
                              cwd="/", timeout=300)
        assert done.returncode == 0, done.stderr
        assert before["run_id"].str[:8].iloc[0] in done.stdout
        run = subprocess.run([*command, "run", "experiment=quickstart", f"output_root={root}"], capture_output=True,
                             text=True, env=env, cwd="/", timeout=300)
        assert run.returncode == 2 and "output_root" in run.stderr and "read-only" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr and not (root / "hydra").exists()
    finally:
        for path in [public, *public.rglob("*")]:
            os.chmod(path, 0o755)
        shutil.rmtree(public)
