"""Experiment fmri_controls and figure 22 on a tiny study: paired comparisons read from the store (issue 8)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import cogmodels
from cogmodels.errors import DataFormatError
from cogmodels.metrics.stats import bootstrap_indices, bootstrap_pearson
from cogmodels.runner.app import config_dir, execute
from cogmodels.runner.figures import build_figures, figures_dir, load_figure_module
from cogmodels.runner.store import load_items

STUDY = ["dataset.n_train=60", "dataset.n_test=20", "dataset.channels_per_roi=2", "dataset.progress=false",
         "encode_ci.n_boot=200", "threads=1"]
GRADIENT = ["encoder.max_epochs=2", "encoder.d_model=16", "encoder.progress=false"]


def _config(root, *overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=["experiment=fmri_controls", f"output_root={root}", *STUDY, *overrides])


def _figure_module():
    return load_figure_module(figures_dir() / "fig22_routing_controls.py")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Ridge, routing and content-blind routing on subj01 of the routing and the control study."""
    root = tmp_path_factory.mktemp("controls")
    runs = {}
    for mode in ("routing", "control"):
        runs[mode, "ridge"] = execute(_config(root, f"dataset.mode={mode}", "encoder=ridge", "encoder.cv=3"))
        for name in ("routing_nsd", "routing_blind"):
            runs[mode, name] = execute(_config(root, f"dataset.mode={mode}", f"encoder={name}", *GRADIENT))
    return root, runs


def test_runs_hold_category_channels_predictions_and_paired_resamples(store):
    root, runs = store
    items = {key: load_items(root, run_id) for key, run_id in runs.items()}
    for (mode, name), stored in items.items():
        assert {label.split("|")[0] for label in stored["rois"]} == {"FFA", "EBA", "PPA", "VWFA"}
        assert stored["prediction@complex"].shape == (20, stored["channel_id"].size)
        assert stored["boot_pearson_r@complex"].shape == (200,)
    # Figure 22 pairs two runs of a study because encode_ci draws its resamples from the run seed alone: the
    # stored resample means are those of bootstrap_indices(n_test, n_boot, seed=[run seed, 2]), whatever the
    # encoder.  Recompute them from the stored predictions and the simulator's test responses.
    data = cogmodels.load_dataset("nsd_sim", n_train=60, n_test=20, channels_per_roi=2, image_size=64,
                                  rois=["FFA", "EBA", "PPA", "VWFA"], progress=False)
    indices = bootstrap_indices(20, 200, seed=[0, 2])
    for name in ("ridge", "routing_nsd"):
        stored = items["routing", name]
        rows = [data.stimuli.position(sid) for sid in stored["test_ids"]]
        boot = bootstrap_pearson(data.responses.responses[rows], stored["prediction@complex"], indices).mean(axis=1)
        np.testing.assert_allclose(stored["boot_pearson_r@complex"], boot, atol=1e-5)


def test_figure_22_pairs_the_runs_and_names_the_models(store, tmp_path):
    root, _ = store
    fig22 = _figure_module()
    comparisons, means, best = fig22.controls_table(root)
    assert set(means["model"]) == {"ridge", "routing", "routing_blind"}
    assert best == {("control", 0): "ridge", ("routing", 0): "ridge"}  # the only non-routing model here
    row = comparisons.query("a == 'routing' and b == 'best_nonrouting' and mode == 'routing'").iloc[0]
    same = comparisons.query("a == 'routing' and b == 'ridge' and mode == 'routing'").iloc[0]
    assert row.n_cells == 1 and row.ci_low <= row.difference <= row.ci_high
    assert (row.difference, row.ci_low, row.ci_high) == (same.difference, same.ci_low, same.ci_high)
    r = means.set_index(["mode", "model"])["mean_r"]
    assert row.difference == pytest.approx(r["routing", "routing"] - r["routing", "ridge"])
    assert comparisons.query("a == 'routing_per_channel'")["n_cells"].eq(0).all()  # not run: no cells
    written, failed = build_figures(root, only="routing_controls", out_dir=tmp_path, formats=("png",))
    assert not failed, failed
    assert (tmp_path / "routing_controls.png").stat().st_size > 10_000
    assert "routing - best_nonrouting" in (root / "tables" / "routing_controls.md").read_text()


def test_model_names_come_from_the_encoder_config():
    fig22 = _figure_module()
    nsd = {"name": "routing", "query_per": {"V1": "channel_group", "*": "roi_hemisphere"}, "group_size": 1}
    assert fig22.model_name({"encoder": nsd}) == "routing"
    assert fig22.model_name({"encoder": {**nsd, "key_content": False}}) == "routing_blind"
    per_channel = {**nsd, "query_per": "channel_group"}
    assert fig22.model_name({"encoder": per_channel}) == "routing_per_channel"
    assert fig22.model_name({"encoder": {**per_channel, "key_content": False}}) == "routing_per_channel_blind"
    assert fig22.model_name({"encoder": {"name": "pooled_mlp"}}) == "pooled_mlp"


def test_runs_scored_on_other_resamples_are_not_paired():
    fig22 = _figure_module()
    a = pd.Series(dict(run_id="a", model="routing", run_seed=0, n_boot=1000, test_ids=("t1", "t2")))
    fig22._check_paired(a, a.copy())
    other_seed, other_images = a.copy(), a.copy()
    other_seed["run_seed"] = 1
    other_images["test_ids"] = ("t1", "t3")
    with pytest.raises(DataFormatError, match="same run seed"):
        fig22._check_paired(a, other_seed)
    with pytest.raises(DataFormatError, match="different test images"):
        fig22._check_paired(a, other_images)
