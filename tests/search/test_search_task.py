"""The search task end to end: rows computed from the stored per-trial items, examples stored for the figures."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from cogmodels.metrics import search as metrics
from cogmodels.runner.app import config_dir, execute
from cogmodels.runner.store import load_items, load_results


def _config(root, *overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=["experiment=search_asymmetry", f"output_root={root}", "threads=1",
                                             "evaluation.paradigms=[lighting,orientation_homogeneous]",
                                             "dataset.trials_per_condition=8", *overrides])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("search_task")
    run_id = execute(_config(root, "search=chance"))
    return root, run_id


def test_rows_follow_from_the_stored_trials(store):
    root, run_id = store
    items = load_items(root, run_id)
    rows = load_results(root)
    rows = rows[rows["run_id"] == run_id].set_index(["roi_or_condition", "metric"])["value"]
    assert len(items["trial_id"]) == 2 * 2 * 8
    rts = metrics.rt_from_fixations(items["n_fixations"])
    assert np.allclose(items["rt_ms"], rts)
    slopes = metrics.slopes(rts, items["set_size"], items["condition"])
    for condition, slope in slopes.items():
        assert rows[(condition, "rt_slope_ms_per_item")] == pytest.approx(slope)
    table = metrics.asymmetry_table(slopes)
    for experiment, value in table["index"].items():
        assert rows[(experiment, "asymmetry_index")] == pytest.approx(value)
    assert rows[("all", "polarity_matches")] == table["polarity_matches"]
    assert rows[("lighting/top_down/n12", "human_rt_ms")] == pytest.approx(472.0)
    # fixations are stored flat, one block per trial, each starting at the display centre
    first = np.searchsorted(items["fixation_trial"], np.arange(len(items["trial_id"])))
    assert np.allclose(items["fixation_x"][first][items["condition"] == "lighting/top_down"], (198 - 1) / 2)
    assert (np.bincount(items["fixation_trial"]) == items["n_fixations"] + 1).all()


def test_examples_are_stored_for_the_figures(store):
    root, run_id = store
    items = load_items(root, run_id)
    assert len(items["example_ids"]) == 4  # one per condition
    for k in range(4):
        image, mask = items[f"example{k}_image"], items[f"example{k}_mask"]
        assert image.dtype == np.uint8 and image.shape == mask.shape and mask.any()
        assert items[f"example{k}_fixations"].shape[1] == 2


def test_eccnet_runs_through_the_task(tmp_path):
    run_id = execute(_config(tmp_path, "search=eccnet", "backbone=gabor", "evaluation.paradigms=[lighting]",
                             "dataset.trials_per_condition=3", "search.max_fixations=5"))
    rows = load_results(tmp_path)
    rows = rows[rows["run_id"] == run_id]
    assert set(rows["head"]) == {"eccnet"} and set(rows["backbone"]) == {"gabor"}
    assert "asymmetry_index" in set(rows["metric"])
