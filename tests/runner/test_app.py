"""One run end to end, in process: store layout, skip, force with the feature cache, provenance."""

from __future__ import annotations

import json
import logging

import numpy as np
import yaml

from cogmodels.backbones.gabor import GaborBackbone
from cogmodels.runner.app import execute
from cogmodels.runner.figures import build_figures
from cogmodels.runner.store import ResultsStore, load_items, load_results, load_runs


def test_a_run_stores_rows_items_and_provenance_then_skips_then_forces_from_cache(compose_config, tmp_path,
                                                                                  caplog, monkeypatch):
    root = tmp_path / "out"
    cfg = compose_config()
    with caplog.at_level(logging.INFO):
        run_id = execute(cfg)
    assert ResultsStore(root).is_complete(run_id)
    table = load_results(root)
    assert set(table["metric"]) == {"pearson_r", "true_ceiling_r"}
    assert set(table["roi_or_condition"]) == {"all", "left_field", "central", "right_field"}
    assert table.loc[table["roi_or_condition"] == "all", "n_items"].tolist() == [12, 12]

    run_dir = root / "runs" / "quickstart" / run_id
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml", "items.npz", "meta.json", "metrics.json"]
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["weights"].startswith("fixed filters") and meta["seed"] == 0
    assert {"torch", "timm", "numpy"} <= set(meta["versions"]) and "fit/complex" in meta["timings_s"]
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["experiment_name"] == "quickstart"
    items = load_items(root, run_id)
    r, ceiling = items["pearson_r@complex"], items["true_ceiling_r"]
    assert r.shape == ceiling.shape == (12,) and np.all(np.abs(r) <= 1)
    # The stored ROI mean is the mean of the stored per-item values.
    mean_all = table.query("metric == 'pearson_r' and roi_or_condition == 'all'")["value"].item()
    np.testing.assert_allclose(mean_all, r.mean())
    assert "summary of run" in caplog.text
    written, failed = build_figures(root, only="quickstart", out_dir=tmp_path / "figures")
    assert not failed and (tmp_path / "figures" / "quickstart.png").is_file()

    # Same config again: skipped, nothing recomputed.
    def no_forward(*args, **kwargs):
        raise AssertionError("backbone forward pass")

    monkeypatch.setattr(GaborBackbone, "extract_batch", no_forward)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert execute(cfg) == run_id
    assert "already complete" in caplog.text and "feature cache" not in caplog.text

    # force=true recomputes: dataset and features come from disk, rows are replaced, not duplicated.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert execute(compose_config("force=true")) == run_id
    assert "feature cache hit for gabor/complex" in caplog.text and "no backbone forward pass" in caplog.text
    again = load_results(root)
    assert len(again) == len(table) and len(load_runs(root)) == 1
    np.testing.assert_allclose(again["value"].to_numpy(), table["value"].to_numpy())  # same config, same numbers


def test_another_seed_is_another_run(compose_config, tmp_path):
    first, second = execute(compose_config("seed=0")), execute(compose_config("seed=1"))
    assert first != second
    runs = load_runs(tmp_path / "out")
    assert sorted(runs["seed"]) == [0, 1] and set(runs["status"]) == {"complete"}


def test_recovers_a_large_part_of_the_true_ceiling(compose_config, tmp_path):
    """Science check: on data generated from Gabor features, ridge on those features tracks the ceiling."""
    cfg = compose_config("dataset.n_stimuli=200", "dataset.n_channels=30")
    run_id = execute(cfg)
    items = load_items(tmp_path / "out", run_id)
    r, ceiling = items["pearson_r@complex"], items["true_ceiling_r"]
    assert np.corrcoef(r, ceiling)[0, 1] > 0.5
    assert 0.4 < r.mean() / ceiling.mean() <= 1.1
