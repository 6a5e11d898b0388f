"""The fMRI experiments on a tiny NSD-like study: encode runs per encoder kind, quickstart, figures 1-5."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from cogmodels.backbones.base import FeatureMap
from cogmodels.encoders import FactorizedReadout, RidgeCV, RoutingTransformerEncoder
from cogmodels.errors import ConfigError
from cogmodels.runner.app import config_dir, execute
from cogmodels.runner.figures import build_figures
from cogmodels.runner.store import load_items, load_results
from cogmodels.runner.tasks import head_input, input_kind

STUDY = ["dataset.n_train=60", "dataset.n_test=20", "dataset.channels_per_roi=2", "dataset.progress=false",
         "threads=1"]
GRADIENT = ["encoder.max_epochs=3", "encoder.progress=false"]
FMRI_FIGURES = ("roi_accuracy", "attention_maps", "surface_accuracy", "new_subject")


def _config(root, experiment, *overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[f"experiment={experiment}", f"output_root={root}", *STUDY, *overrides])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A tiny store: fmri_encoders with each encoder on subj01, and a 2-point new-subject learning curve."""
    root = tmp_path_factory.mktemp("fmri")
    runs = {"ridge": execute(_config(root, "fmri_encoders", "encoder=ridge", "encoder.cv=3"))}
    for name in ("factorized", "routing"):
        runs[name] = execute(_config(root, "fmri_encoders", f"encoder={name}", *GRADIENT))
    for n_train in (20, 40):
        execute(_config(root, "fmri_new_subject", f"transfer.n_train={n_train}", "encoder.d_model=16", *GRADIENT))
    return root, runs


def test_each_encoder_gets_its_kind_of_features():
    assert [input_kind(e) for e in (RidgeCV(), FactorizedReadout(), RoutingTransformerEncoder())] == \
        ["flat", "spatial", "tokens"]
    fmap = FeatureMap(np.zeros((5, 3, 4, 2), dtype=np.float32), "spatial")
    rows = np.array([0, 2])
    assert head_input(fmap, "flat", rows, "l")["X"].shape == (2, 24)
    assert head_input(fmap, "spatial", rows, "l")["X"].shape == (2, 3, 4, 2)
    tokens = head_input(fmap, "tokens", rows, "l")
    assert tokens["X"].shape == (2, 8, 3) and tokens["grid"] == (4, 2)
    with pytest.raises(ConfigError, match="pooled vector"):
        head_input(FeatureMap(np.zeros((5, 3), dtype=np.float32), "vector"), "tokens", rows, "pool")


def test_encode_runs_store_scores_ceilings_and_attention(store):
    root, runs = store
    table = load_results(root, experiment="fmri_encoders")
    assert set(table["head"]) - {""} == {"ridge", "factorized", "routing"}
    for name, run_id in runs.items():
        rows = table[table["run_id"] == run_id]
        assert {"pearson_r", "normalized_accuracy", "noise_ceiling", "true_noise_ceiling"} <= set(rows["metric"])
        assert {"V1", "FFA", "all"} <= set(rows["roi_or_condition"])
        items = load_items(root, run_id)
        r, nc = items["pearson_r@complex"], items["noise_ceiling"]
        assert r.shape == nc.shape == items["vertex"].shape and np.all(np.abs(r) <= 1) and np.all(nc <= 1)
        ffa = np.array([label.split("|")[0] == "FFA" for label in items["rois"]])
        stored = rows.query("metric == 'pearson_r' and roi_or_condition == 'FFA'")["value"].item()
        np.testing.assert_allclose(stored, np.nanmean(r[ffa]))
        assert (name == "routing") == ("attention@complex" in items)
        assert (name == "ridge") == ("best_alpha@complex" in items)
    items = load_items(root, runs["routing"])
    maps = items["attention@complex"]
    assert maps.shape[:2] == (4, len(items["query_names"])) and np.allclose(maps.sum(axis=(2, 3)), 1, atol=1e-4)
    assert items["example_images"].shape[0] == 4 and items["example_boxes"].shape[1] == 5
    assert set(items["category_rois"]) == {"FFA", "EBA", "PPA", "VWFA"}
    # The estimated noise ceilings follow the simulator's true ones.
    assert np.corrcoef(items["noise_ceiling"], items["true_noise_ceiling"])[0, 1] > 0.5


def test_the_fmri_figures_build_from_the_store(store, tmp_path):
    root, _ = store
    for slug in FMRI_FIGURES:
        written, failed = build_figures(root, only=slug, out_dir=tmp_path, formats=("png",))
        assert not failed, failed
        assert (tmp_path / f"{slug}.png").stat().st_size > 10_000


def test_the_quickstart_runs_on_the_nsd_simulator(tmp_path):
    cfg = _config(tmp_path, "quickstart", "encoder.cv=3")
    assert cfg.dataset.name == "nsd_sim" and cfg.encoder.name == "ridge"
    run_id = execute(cfg)
    items = load_items(tmp_path, run_id)
    assert {"pearson_r@complex", "true_ceiling_r", "noise_ceiling"} <= set(items)
    written, failed = build_figures(tmp_path, only="quickstart", out_dir=tmp_path / "figs", formats=("png",))
    assert not failed and (tmp_path / "figs" / "quickstart.png").is_file()
