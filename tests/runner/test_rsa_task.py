"""The rsa task (RSA of every layer against every RDM of a dataset) and the encode_ci task, end to end."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from cogmodels.datasets import cowley_v4, kriegeskorte92
from cogmodels.errors import ConfigError
from cogmodels.metrics import rsa
from cogmodels.runner.app import config_dir, execute
from cogmodels.runner.store import load_items, load_results
from cogmodels.runner.tasks.encode_ci import half_means, normalized_r, reliability


def _config(root, experiment, *overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[f"experiment={experiment}", f"output_root={root}", "threads=1",
                                             *overrides])


@pytest.fixture(scope="module")
def rsa_store(tmp_path_factory):
    base = tmp_path_factory.mktemp("rsa_task")
    options = kriegeskorte92.write_example(base / "data", n_images=10, n_subjects=3)
    root = base / "out"
    run_id = execute(_config(root, "rsa92", f"dataset.root={options['root']}", "rsa.n_boot=40", "rsa.groups=null",
                             "backbone.layers=[simple,complex]", "++backbone.image_size=32"))
    return root, run_id, kriegeskorte92.load(**options)


def test_rsa_rows_are_the_comparisons_of_the_stored_model_rdms(rsa_store):
    root, run_id, ds = rsa_store
    results = load_results(root)
    items = load_items(root, run_id)
    rows = results[results["run_id"] == run_id]
    assert set(rows["roi_or_condition"]) == {"hIT", "mIT_fig1", "hIT_fig1"}
    assert list(items["layers"]) == ["simple", "complex"]
    # hIT: the 3 subjects, each the mean of its 2 sessions
    subjects = np.stack([(ds.meta["rdms"][f"hIT_S{s}X_s1"] + ds.meta["rdms"][f"hIT_S{s}X_s2"]) / 2
                         for s in (1, 2, 3)])
    for layer in ("simple", "complex"):
        model = items[f"model_rdm@{layer}"].astype(np.float64)
        model = (model + model.T) / 2
        expected = np.mean([rsa.compare(model, s) for s in subjects])
        got = rows[(rows["layer"] == layer) & (rows["roi_or_condition"] == "hIT") & (rows["metric"] == "rsa_spearman")]
        assert got["value"].item() == pytest.approx(expected, abs=1e-6)
        assert got["n_items"].item() == 3
        single = rows[(rows["layer"] == layer) & (rows["roi_or_condition"] == "mIT_fig1")
                      & (rows["metric"] == "rsa_spearman")]["value"].item()
        assert single == pytest.approx(rsa.compare(model, ds.meta["rdms"]["mIT_fig1"]), abs=1e-6)
    lower, upper = rsa.noise_ceiling(subjects)
    ceiling = rows[rows["metric"].isin(["noise_ceiling_lower", "noise_ceiling_upper"])].set_index("metric")["value"]
    assert ceiling["noise_ceiling_lower"] == pytest.approx(lower) and ceiling["noise_ceiling_upper"] == pytest.approx(upper)
    assert "noise_ceiling_lower" not in set(rows.loc[rows["roi_or_condition"] == "mIT_fig1", "metric"])
    low = rows[(rows["metric"] == "rsa_spearman_ci_low") & (rows["roi_or_condition"] == "hIT")]["value"]
    high = rows[(rows["metric"] == "rsa_spearman_ci_high") & (rows["roi_or_condition"] == "hIT")]["value"]
    assert (low.to_numpy() <= high.to_numpy()).all()
    assert items["samples@hIT"].shape == (40, 2)


def test_rsa_figure_builds_from_the_store(rsa_store, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from cogmodels.runner.figures import load_figure_module, discover

    root, _, _ = rsa_store
    figure = load_figure_module(discover()["rsa_layers"]).make(load_results(root), root)
    assert len(figure.axes) == 3
    assert (root / "tables" / "rsa92.csv").is_file()


def test_rsa_on_brain_responses_uses_one_rdm_per_roi(tmp_path):
    options = cowley_v4.write_example(tmp_path / "data", n_images=14, n_neurons=5)
    root = tmp_path / "out"
    run_id = execute(_config(root, "rsa92", "dataset=cowley_v4", f"dataset.root={options['root']}",
                             f"dataset.session={options['session']}", "dataset.test_fraction=0.5", "rsa.split=test",
                             "rsa.groups=null", "rsa.n_boot=20", "++backbone.image_size=32"))
    rows = load_results(root)
    rows = rows[rows["run_id"] == run_id]
    assert set(rows["roi_or_condition"]) == {"all", "V4"}
    assert "noise_ceiling_lower" not in set(rows["metric"])  # one subject: no ceiling


def test_rsa_options_are_checked(tmp_path):
    options = kriegeskorte92.write_example(tmp_path / "data")
    with pytest.raises(ConfigError, match="rsa.method"):
        execute(_config(tmp_path / "out", "rsa92", f"dataset.root={options['root']}", "rsa.method=cosine"))
    with pytest.raises(ConfigError, match="rsa.groups.*unknown \\['V1'\\]"):
        execute(_config(tmp_path / "out", "rsa92", f"dataset.root={options['root']}", "rsa.groups=[V1]"))


# -- encode_ci ---------------------------------------------------------------------------
def test_split_half_reliability_recovers_the_true_reliability_and_is_zero_for_noise():
    rng = np.random.default_rng(0)
    n_stimuli, n_repeats, n_channels = 400, 8, 6
    signal = rng.normal(size=(n_stimuli, 1, n_channels))
    noise_sd = np.array([0.5, 1.0, 2.0, 3.0, 1.5, 1.0])
    repeats = signal + noise_sd * rng.normal(size=(n_stimuli, n_repeats, n_channels))
    repeats[::3, 6:] = np.nan  # unequal repeat counts, NaN-padded
    a, b = half_means(repeats, 10, 1)
    _, sb = reliability(a, b)
    mean_k = np.mean(np.isfinite(repeats[:, :, 0]).sum(1))
    truth = 1 / (1 + noise_sd ** 2 / mean_k)  # reliability of the mean of k repeats
    assert np.allclose(sb, truth, atol=0.06)
    pure_noise = rng.normal(size=(n_stimuli, n_repeats, n_channels))
    _, sb_noise = reliability(*half_means(pure_noise, 10, 1))
    assert np.all(np.abs(sb_noise) < 0.15)
    ceiling, norm = normalized_r(np.full(n_channels, 0.5), sb)
    assert np.allclose(norm, 0.5 / np.sqrt(sb))


def test_encode_ci_reports_cis_and_normalised_r(tmp_path):
    options = cowley_v4.write_example(tmp_path / "data", n_images=40, n_neurons=5)
    root = tmp_path / "out"
    run_id = execute(_config(root, "v4_encoding", f"dataset.root={options['root']}",
                             f"dataset.session={options['session']}", "encoder.cv=3", "encode_ci.n_boot=30",
                             "encode_ci.n_splits=3"))
    rows = load_results(root)
    rows = rows[(rows["run_id"] == run_id) & (rows["roi_or_condition"] == "all")].set_index(["metric", "layer"])
    value = rows["value"]
    assert value[("pearson_r_ci_low", "complex")] <= value[("pearson_r_ci_high", "complex")]
    items = load_items(root, run_id)
    assert items["prediction@complex"].shape == (8, 5) and items["boot_pearson_r@complex"].shape == (30,)
    assert np.nanmean(items["pearson_r@complex"]) == pytest.approx(value[("pearson_r", "complex")])
    with np.errstate(invalid="ignore"):
        expected = items["pearson_r@complex"] / items["ceiling_r"]
    assert np.allclose(items["normalized_r@complex"], expected, equal_nan=True)
