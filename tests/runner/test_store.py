"""Results store: run ids, atomic commits, skip/force, stale temporaries, concurrent writers."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3

import numpy as np
import pytest

from cogmodels.errors import ConfigError, DataFormatError
from cogmodels import io as atomic
from cogmodels.runner.store import ResultsStore, RunRecord, load_items, load_results, load_runs, run_id_of


def _rows(value=0.5, rois=("all", "V1")):
    return [{"dataset": "toy", "backbone": "gabor", "layer": "complex", "head": "ridge", "subject": "s1",
             "roi_or_condition": roi, "metric": "pearson_r", "value": value + k, "n_items": 10}
            for k, roi in enumerate(rois)]


def _write(store, run_id, rows, experiment="exp", config=None, items=None):
    record = RunRecord(experiment=experiment, task="encode", config=config or {"seed": 0}, seed=0)
    store.mark_running(run_id, record)
    folder = store.new_run_folder(experiment, run_id)
    np.savez(folder / "items.npz", **(items or {"r": np.arange(3.0)}))
    return store.commit(run_id, record, folder, rows)


def _count(store, table, run_id):
    with sqlite3.connect(store.db_path) as con:
        return con.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (run_id,)).fetchone()[0]


def test_run_id_ignores_volatile_keys_only():
    config = {"seed": 0, "output_root": "/a", "force": False, "dataset": {"name": "d", "root": "/x"}}
    moved = {**config, "output_root": "/b", "force": True, "dataset": {"name": "d", "root": "/y"}}
    assert run_id_of(config) == run_id_of(moved)
    assert run_id_of(config) != run_id_of({**config, "seed": 1})
    assert run_id_of(config) != run_id_of({**config, "dataset": {"name": "other", "root": "/x"}})


def test_commit_makes_a_complete_run_with_its_rows(tmp_path):
    store = ResultsStore(tmp_path)
    run_dir = _write(store, "r1", _rows())
    assert store.is_complete("r1")
    assert run_dir == tmp_path.resolve() / "runs" / "exp" / "r1"
    assert (run_dir / "items.npz").is_file()
    table = load_results(tmp_path)
    assert len(table) == 2 and set(table["roi_or_condition"]) == {"all", "V1"}
    np.testing.assert_allclose(sorted(table["value"]), [0.5, 1.5])
    np.testing.assert_array_equal(load_items(tmp_path, "r1")["r"], np.arange(3.0))
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(atomic.TEMP_PREFIX)]


def test_a_run_killed_before_its_commit_is_not_complete_and_is_replaced(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    record = RunRecord(experiment="exp", task="encode", config={}, seed=0)
    store.mark_running("r1", record)
    folder = store.new_run_folder("exp", "r1")
    (folder / "marker").write_text("first attempt")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between the folder rename and the transaction")

    monkeypatch.setattr(ResultsStore, "_transaction", crash)
    with pytest.raises(KeyboardInterrupt):
        store.commit("r1", record, folder, _rows())
    monkeypatch.undo()
    assert store.status("r1") == "running" and _count(store, "results", "r1") == 0
    assert (store.run_dir("exp", "r1") / "marker").is_file()  # a folder without a committed row

    run_dir = _write(store, "r1", _rows(value=0.25))
    assert store.is_complete("r1") and not (run_dir / "marker").exists()
    assert _count(store, "results", "r1") == 2


def test_force_replaces_rows_atomically_and_mark_running_keeps_complete_rows(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, "r1", _rows(value=0.1, rois=("all", "V1", "V2")))
    store.mark_running("r1", RunRecord(experiment="exp", task="encode", config={}))
    assert store.is_complete("r1")  # a forced re-run keeps the old results until its commit
    _write(store, "r1", _rows(value=0.9))
    table = load_results(tmp_path)
    assert len(table) == 2 and table["value"].min() == pytest.approx(0.9)
    assert len(load_runs(tmp_path)) == 1


def test_duplicate_rows_in_one_run_are_rejected(tmp_path):
    store = ResultsStore(tmp_path)
    with pytest.raises(DataFormatError, match="duplicated"):
        _write(store, "r1", _rows(rois=("all", "all")))
    assert not store.is_complete("r1") and _count(store, "results", "r1") == 0


def test_undefined_values_are_stored_as_null_with_a_warning(tmp_path, caplog):
    store = ResultsStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        _write(store, "r1", _rows(value=float("nan")))
    assert "2 of 2 result values are undefined" in caplog.text
    assert load_results(tmp_path)["value"].isna().all()


def test_failed_runs_are_recorded_and_not_complete(tmp_path):
    store = ResultsStore(tmp_path)
    store.mark_running("r1", RunRecord(experiment="exp", task="encode", config={}))
    store.mark_failed("r1", "Traceback ...")
    assert store.status("r1") == "failed" and not store.is_complete("r1")


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, "r1", _rows())
    mine = store.new_run_folder("exp", "r2")  # a live writer (this process): kept
    child = multiprocessing.get_context("fork").Process(target=os.getpid)
    child.start()
    child.join()
    dead = mine.with_name(mine.name.replace(f"@{os.getpid()}@", f"@{child.pid}@"))
    dead.mkdir()
    assert store.remove_stale_temps() == 1
    assert mine.is_dir() and not dead.exists()


def test_filters_on_columns_and_config_keys(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, "r1", _rows(), config={"seed": 0, "encoder": {"cv": 5}})
    _write(store, "r2", _rows(value=2.0), experiment="other", config={"seed": 1, "encoder": {"cv": 3}})
    assert set(load_results(tmp_path, experiment="other")["run_id"]) == {"r2"}
    assert set(load_results(tmp_path, **{"encoder.cv": 5})["run_id"]) == {"r1"}
    assert len(load_results(tmp_path, roi_or_condition=["V1", "all"], metric="pearson_r")) == 4
    with pytest.raises(ConfigError, match="encoder.nope"):
        load_results(tmp_path, **{"encoder.nope": 1})


def test_reading_a_missing_store_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(DataFormatError, match="results.sqlite.*cogmodels run"):
        load_results(tmp_path)


def _writer(root, worker):
    store = ResultsStore(root)
    for k in range(5):
        _write(store, f"w{worker}-{k}", _rows(value=worker + k / 10))


def test_concurrent_writers_all_commit(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(tmp_path, w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    runs = load_runs(tmp_path)
    assert len(runs) == 20 and runs["run_id"].is_unique
    assert len(load_results(tmp_path)) == 40
