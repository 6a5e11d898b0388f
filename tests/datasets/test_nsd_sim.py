"""nsd_sim: the NSD-like simulator, its determinism and its ground truth.

The key test fits a fixed-receptive-field linear model (ridge on the flattened
generating features, which contains every fixed spatial RF x feature weights
readout) and checks that it nearly reaches the true noise ceiling for the
retinotopic channels but not for the category channels, whose responses route
the features of wherever the object is.
"""

import numpy as np
import pytest

import cogmodels
from cogmodels.datasets import nsd_sim
from cogmodels.datasets import nsd_sim_scenes as scenes
from cogmodels.errors import ConfigError
from cogmodels.metrics import brain

SMALL = dict(n_train=40, n_test=20, progress=False)
MEDIUM = dict(n_train=400, n_test=100, progress=False)


@pytest.fixture(scope="module")
def small():
    return nsd_sim.load(**SMALL)


@pytest.fixture(scope="module")
def medium():
    return nsd_sim.load(**MEDIUM)


def _ridge_r2(X_train, Y_train, X_test, Y_test, alphas=10.0 ** np.arange(-1, 7)):
    """Test R^2 per channel of ridge regression, alpha per channel chosen on the last fifth of the training set."""
    def predict(Xa, Ya, Xb):
        x_mean, y_mean = Xa.mean(0), Ya.mean(0)
        Xa, Xb, Ya = Xa - x_mean, Xb - x_mean, Ya - y_mean
        if Xa.shape[1] <= Xa.shape[0]:  # primal: eigenvectors of X'X
            eigval, eigvec = np.linalg.eigh(Xa.T @ Xa)
            left, right = Xb @ eigvec, eigvec.T @ (Xa.T @ Ya)
        else:  # dual (kernel) form: eigenvectors of XX'
            eigval, eigvec = np.linalg.eigh(Xa @ Xa.T)
            left, right = Xb @ (Xa.T @ eigvec), eigvec.T @ Ya
        return np.stack([left @ (right / (eigval + a)[:, None]) + y_mean for a in alphas])

    def r2(P, Y):
        return 1 - ((P - Y) ** 2).sum(-2) / ((Y - Y.mean(0)) ** 2).sum(0)

    n_fit = int(0.8 * len(X_train))
    best = r2(predict(X_train[:n_fit], Y_train[:n_fit], X_train[n_fit:]), Y_train[n_fit:]).argmax(0)
    test_predictions = predict(X_train, Y_train, X_test)
    return r2(test_predictions[best, :, np.arange(Y_test.shape[1])].T, Y_test)


def test_shapes_zscoring_and_channel_table(small):
    responses = small.responses
    n_stimuli = SMALL["n_train"] + SMALL["n_test"]
    assert small.card.simulated and len(small.stimuli) == n_stimuli
    assert responses.repeats.shape == (n_stimuli, 3, responses.n_channels)
    assert np.isfinite(responses.repeats).all()
    np.testing.assert_allclose(responses.responses, responses.repeats.mean(axis=1), atol=1e-5)
    trials = responses.repeats.reshape(-1, responses.n_channels)
    np.testing.assert_allclose(trials.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(trials.std(0), 1, atol=1e-3)
    assert 100 <= responses.n_channels <= 300
    assert list(small.splits["train"]) == small.stimuli.ids[:40] and len(small.splits["test"]) == 20
    channels = responses.channels
    assert set(channels["hemisphere"]) == {"lh", "rh"}
    assert channels["vertex"].between(0, 10241).all()
    assert channels["id"].is_unique
    for roi in nsd_sim.ROI_NAMES:
        assert set(channels["hemisphere"][responses.roi_mask(roi)]) == {"lh", "rh"}, roi
    # Multi-label: every FFA channel is also a "faces" channel, V1 channels are "early".
    np.testing.assert_array_equal(responses.roi_mask("FFA"), responses.roi_mask("faces"))
    assert responses.roi_mask("early").sum() == sum(responses.roi_mask(r).sum() for r in ("V1", "V2", "V3"))
    # Retinotopic channels see the contralateral visual field.
    rf = small.ground_truth["rf"].merge(channels[["id", "hemisphere"]], on="id")
    assert (rf["x"][rf["hemisphere"] == "lh"] >= 0.5).all() and (rf["x"][rf["hemisphere"] == "rh"] <= 0.5).all()
    # RF size grows along the hierarchy.
    sizes = rf.groupby("roi")["sigma"].mean()
    assert sizes["V1"] < sizes["V2"] < sizes["V3"]


def test_same_seed_same_numbers_other_seed_differs(small):
    first = small
    nsd_sim.clear_cache()  # recompute scenes, features and calibration, not a cached study
    again = nsd_sim.load(**SMALL)
    np.testing.assert_array_equal(first.responses.repeats, again.responses.repeats)
    np.testing.assert_array_equal(first.stimuli[5].image, again.stimuli[5].image)
    other = nsd_sim.load(**SMALL, seed=1)
    assert not np.array_equal(first.stimuli[5].image, other.stimuli[5].image)
    assert not np.allclose(first.responses.responses[:, :10], other.responses.responses[:, :10])


def test_subject_channels_do_not_depend_on_the_number_of_images(small):
    bigger = nsd_sim.load(n_train=55, n_test=20, progress=False)
    assert bigger.responses.channels.equals(small.responses.channels)
    np.testing.assert_array_equal(bigger.ground_truth["feature_weights"], small.ground_truth["feature_weights"])
    np.testing.assert_array_equal(bigger.stimuli[3].image, small.stimuli[3].image)  # scene i is scene i
    np.testing.assert_array_equal(bigger.stimuli["test-00002"].image, small.stimuli["test-00002"].image)


def test_subjects_share_images_and_roi_functions_not_channels():
    everyone = nsd_sim.load_all(subjects=["subj01", "subj02"], **SMALL)
    one, two = everyone["subj01"], everyone["subj02"]
    assert one.stimuli is two.stimuli
    assert one.responses.roi_names() == two.responses.roi_names()
    assert set(one.responses.channels["id"]) != set(two.responses.channels["id"])
    assert nsd_sim.list_subjects() == ["subj01", "subj02", "subj03", "subj04"]
    # Shared ROI function: the weights of both subjects' FFA channels lie in one 3-d subspace.
    weights = np.concatenate([d.ground_truth["feature_weights"][d.responses.roi_mask("FFA")] for d in (one, two)])
    singular = np.linalg.svd(weights, compute_uv=False)
    assert singular[nsd_sim.N_BASIS] < 1e-6 * singular[0]


def test_routing_maps_are_normalised_visible_object_masks(small):
    truth = small.ground_truth
    maps, objects = truth["routing_maps"], truth["objects"]
    grid = maps.shape[2:]
    size = small.stimuli[0].image.shape[0]
    assert truth["routing_rois"] == ("FFA", "EBA", "PPA", "VWFA")
    for i, sid in enumerate(small.stimuli.ids):
        rows = objects[objects["stimulus_id"] == sid]
        assert 1 <= len(rows) <= 3
        for k, category in enumerate(scenes.CATEGORIES):
            visible = rows[(rows["category"] == category) & (rows["visible_px"] > 0)]
            assert np.isclose(maps[i, k].sum(), 1.0 if len(visible) else 0.0, atol=1e-5)
            if len(visible):
                inside = np.zeros(grid, dtype=bool)  # grid cells touching the objects' boxes
                for _, box in visible.iterrows():
                    inside[int(box.y0 * grid[0] / size): int(np.ceil(box.y1 * grid[0] / size)),
                           int(box.x0 * grid[1] / size): int(np.ceil(box.x1 * grid[1] / size))] = True
                assert maps[i, k][inside].sum() > 0.999


def test_true_noise_ceilings_follow_the_noise_level():
    low, high = nsd_sim.load(noise=0.5, **SMALL), nsd_sim.load(noise=2.0, **SMALL)
    nc_low, nc_high = low.ground_truth["noise_ceiling"], high.ground_truth["noise_ceiling"]
    assert ((nc_low > 0) & (nc_low < 1)).all() and ((nc_high > 0) & (nc_high < 1)).all()
    assert (nc_low > nc_high).all()
    default = nsd_sim.load(**SMALL).ground_truth["noise_ceiling"]
    per_roi = nsd_sim.load(noise={"FFA": 3.0, "V1": 0.3}, **SMALL)
    nc, roi = per_roi.ground_truth["noise_ceiling"], per_roi.ground_truth["channel_roi"]
    assert (nc[roi == "FFA"] < default[roi == "FFA"]).all() and (nc[roi == "V1"] > default[roi == "V1"]).all()
    np.testing.assert_array_equal(nc[roi == "EBA"], default[roi == "EBA"])  # other ROIs keep noise=1
    # NSD definition: NC = ncsnr^2 / (ncsnr^2 + 1/k)
    ncsnr = per_roi.ground_truth["ncsnr"]
    np.testing.assert_allclose(nc, ncsnr ** 2 / (ncsnr ** 2 + 1 / 3))
    silent = nsd_sim.load(noise=0.0, **SMALL)
    np.testing.assert_array_equal(silent.ground_truth["noise_ceiling"], 1.0)
    np.testing.assert_allclose(silent.responses.repeats[:, 0], silent.responses.repeats[:, 2], atol=1e-6)


def test_true_ceilings_match_the_estimate_from_repeats(medium):
    estimated = brain.noise_ceiling(medium.responses.repeats)
    true = medium.ground_truth["noise_ceiling"]
    assert np.median(np.abs(estimated - true)) < 0.03
    assert np.corrcoef(estimated, true)[0, 1] > 0.9


def test_fixed_rf_ridge_reaches_ceiling_for_retinotopic_channels_only(medium):
    truth = medium.ground_truth
    X = truth["features"].flatten().astype(np.float64)
    Y = medium.responses.responses.astype(np.float64)
    n_train = len(medium.splits["train"])
    fraction = _ridge_r2(X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]) / truth["noise_ceiling"]
    retinotopic = np.isin(truth["channel_roi"], ["V1", "V2", "V3"])
    assert np.median(fraction[retinotopic]) > 0.7
    assert np.median(fraction[~retinotopic]) < 0.4
    for roi in nsd_sim.CATEGORY_ROIS:
        assert np.median(fraction[truth["channel_roi"] == roi]) < 0.5, roi


def test_category_responses_route_the_object_features(medium):
    # Among scenes that contain the category, the presence term is constant and only the routed
    # features vary. A fixed-RF linear model explains little of that noise-free variation (with
    # uniform routing maps instead of object masks the same fit explains > 0.8 of it).
    truth = medium.ground_truth
    X = truth["features"].flatten().astype(np.float64)
    Y, clean = medium.responses.responses.astype(np.float64), truth["noise_free"].astype(np.float64)
    n_train = len(medium.splits["train"])
    for k, roi in enumerate(truth["routing_rois"]):
        present = truth["routing_maps"][:, k].sum(axis=(1, 2)) > 0
        train, test = np.flatnonzero(present[:n_train]), n_train + np.flatnonzero(present[n_train:])
        cols = truth["channel_roi"] == roi
        explained = _ridge_r2(X[train], Y[train][:, cols], X[test], clean[test][:, cols])
        assert np.median(explained) < 0.5, roi


def test_true_receptive_field_explains_retinotopic_channels(medium):
    truth = medium.ground_truth
    features = truth["features"].values.astype(np.float64)
    n_train = len(medium.splits["train"])
    rf = truth["rf"]
    fields = nsd_sim.receptive_fields(rf[["x", "y", "sigma"]].to_numpy(), features.shape[2:])
    n, c, h, w = features.shape
    pooled = (features.reshape(n * c, h * w) @ fields.reshape(-1, h * w).T).reshape(n, c, -1).transpose(2, 0, 1)
    # pooled[k]: (n, C), all features seen through channel k's fixed RF
    columns = [medium.responses.channels["id"].tolist().index(cid) for cid in rf["id"]]
    fractions, clean_r = [], []
    for X, col in zip(pooled, columns):
        y = medium.responses.responses[:, [col]].astype(np.float64)
        fractions.append(_ridge_r2(X[:n_train], y[:n_train], X[n_train:], y[n_train:])[0]
                         / truth["noise_ceiling"][col])
        centred = X[:n_train] - X[:n_train].mean(0)  # least squares on the RF-pooled features
        coef = np.linalg.solve(centred.T @ centred, centred.T @ (y[:n_train, 0] - y[:n_train, 0].mean()))
        clean_r.append(np.corrcoef(X[n_train:] @ coef, truth["noise_free"][n_train:, col])[0, 1])
    assert np.median(fractions) > 0.9
    assert np.median(clean_r) > 0.98


def test_bad_options_raise_config_errors():
    with pytest.raises(ConfigError, match="subject"):
        nsd_sim.load(subject="subj09", **SMALL)
    with pytest.raises(ConfigError, match="noise"):
        nsd_sim.load(noise=-1.0, **SMALL)
    with pytest.raises(ConfigError, match="LOC"):
        nsd_sim.load(noise={"LOC": 1.0}, **SMALL)
    with pytest.raises(ConfigError, match="n_train"):
        nsd_sim.load(n_train=10.5, n_test=20)
    with pytest.raises(ConfigError, match="at least 20"):
        nsd_sim.load(n_train=5, n_test=5)


def test_registered_name_loads():
    ds = cogmodels.load_dataset("nsd_sim", subject="subj03", **SMALL)
    assert ds.responses.subject == "subj03" and ds.name == "nsd_sim"


def test_generating_features_go_through_the_feature_cache(tmp_path, monkeypatch):
    """With cache_dir, a second simulation (a new process: in-memory caches cleared) runs no backbone pass."""
    from cogmodels.backbones.gabor import GaborBackbone

    nsd_sim.clear_cache()
    first = nsd_sim.load(cache_dir=tmp_path, **SMALL)
    nsd_sim.clear_cache()
    calls = []
    original = GaborBackbone.extract_batch
    monkeypatch.setattr(GaborBackbone, "extract_batch", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    second = nsd_sim.load(cache_dir=tmp_path, **SMALL)
    nsd_sim.clear_cache()
    assert calls == []
    np.testing.assert_array_equal(first.responses.responses, second.responses.responses)


# -- issue 8: the control study and heteroscedastic, correlated noise ------------------------------------------
@pytest.fixture(scope="module")
def control(medium):
    return nsd_sim.load(mode="control", **MEDIUM)


def test_control_keeps_channels_noise_and_ceilings_and_routes_nothing(medium, control):
    truth, other = medium.ground_truth, control.ground_truth
    assert control.responses.channels.equals(medium.responses.channels)
    np.testing.assert_array_equal(other["noise_ceiling"], truth["noise_ceiling"])
    np.testing.assert_array_equal(other["feature_weights"], truth["feature_weights"])
    roi = truth["channel_roi"]
    retinotopic = np.isin(roi, nsd_sim.RETINOTOPIC_ROIS)
    np.testing.assert_allclose(other["noise_free"][:, retinotopic], truth["noise_free"][:, retinotopic], atol=1e-6)
    assert other["mode"] == "control" and truth["mode"] == "routing"
    assert len(other["rf"]) == len(roi) and len(truth["rf"]) == int(retinotopic.sum())
    # category channels are their true fixed RF x feature weights, exactly (noise-free)
    X = other["features"].values.astype(np.float64)
    rf = nsd_sim.receptive_fields(other["rf"][["x", "y", "sigma"]].to_numpy(), X.shape[2:])
    clean = np.einsum("nchw,khw,kc->nk", X, rf, other["feature_weights"].astype(np.float64))
    category = ~retinotopic
    r = brain.pearson_r(other["noise_free"][:, category], clean[:, category])
    assert r.min() > 0.999


def test_a_fixed_rf_linear_model_reaches_ceiling_in_every_roi_of_the_control(medium, control):
    # The routing study's category channels stay far below ceiling for this model (test above); the
    # control's reach it: nothing there needs routing.
    truth = control.ground_truth
    X = truth["features"].flatten().astype(np.float64)
    n_train = len(control.splits["train"])
    for ds, low in ((control, 0.7), (medium, None)):
        Y = ds.responses.responses.astype(np.float64)
        fraction = _ridge_r2(X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]) / truth["noise_ceiling"]
        for roi in nsd_sim.CATEGORY_ROIS:
            median = np.median(fraction[truth["channel_roi"] == roi])
            assert (median > low) if low is not None else (median < 0.5), (ds.ground_truth["mode"], roi, median)


def test_heteroscedastic_correlated_noise_and_the_ceiling_estimator():
    options = dict(MEDIUM, noise_model="heteroscedastic", noise_correlation=0.6, noise_gain_sd=0.6)
    het, iid = nsd_sim.load(**options), nsd_sim.load(**MEDIUM)
    truth = het.ground_truth
    np.testing.assert_array_equal(truth["noise_ceiling"], iid.ground_truth["noise_ceiling"])  # same ceilings
    # noise (trial minus the mean of its stimulus's trials) is correlated within an ROI, not across ROIs
    residual = het.responses.repeats - het.responses.repeats.mean(axis=1, keepdims=True)
    residual = residual.reshape(-1, residual.shape[-1])
    corr = np.corrcoef(residual.T)
    roi = truth["channel_roi"]
    same = (roi[:, None] == roi[None, :]) & ~np.eye(len(roi), dtype=bool)
    assert corr[same].mean() > 0.3 and abs(corr[roi[:, None] != roi[None, :]].mean()) < 0.05
    iid_residual = iid.responses.repeats - iid.responses.repeats.mean(axis=1, keepdims=True)
    assert abs(np.corrcoef(iid_residual.reshape(-1, len(roi)).T)[same].mean()) < 0.05
    # heteroscedastic: the noise variance differs across stimuli far more than under iid noise
    spread = [np.std(np.log((r - r.mean(axis=1, keepdims=True)).var(axis=(1, 2)))) for r in
              (het.responses.repeats, iid.responses.repeats)]
    assert spread[0] > 2 * spread[1]
    # the NSD ceiling estimator still recovers the true ceilings
    estimated = brain.noise_ceiling(het.responses.repeats)
    assert np.median(np.abs(estimated - truth["noise_ceiling"])) < 0.05
    assert np.corrcoef(estimated, truth["noise_ceiling"])[0, 1] > 0.9


def test_bad_mode_and_noise_options_are_config_errors():
    for options, field in ((dict(mode="routed"), "mode"), (dict(noise_model="pink"), "noise_model"),
                           (dict(noise_correlation=1.0), "noise_correlation"),
                           (dict(noise_gain_sd=-1), "noise_gain_sd")):
        with pytest.raises(ConfigError, match=field):
            nsd_sim.load(**SMALL, **options)


def test_rois_keeps_exactly_those_channels_of_the_full_study(small):
    category = ["FFA", "EBA", "PPA", "VWFA"]
    kept = nsd_sim.load(rois=category, **SMALL)
    keep = np.isin(small.ground_truth["channel_roi"], category)
    assert 0 < keep.sum() < keep.size and kept.responses.n_channels == keep.sum()
    assert {rois[0] for rois in kept.responses.channels["rois"]} == set(category)
    np.testing.assert_array_equal(kept.responses.responses, small.responses.responses[:, keep])
    np.testing.assert_array_equal(kept.responses.repeats, small.responses.repeats[:, :, keep])
    np.testing.assert_array_equal(kept.ground_truth["noise_free"], small.ground_truth["noise_free"][:, keep])
    for key in nsd_sim.PER_CHANNEL_TRUTH:
        np.testing.assert_array_equal(kept.ground_truth[key], np.asarray(small.ground_truth[key])[keep])
    v1 = nsd_sim.load(rois=["V1"], **SMALL)
    assert set(v1.ground_truth["rf"]["roi"]) == {"V1"} and len(v1.ground_truth["rf"]) == v1.responses.n_channels
    with pytest.raises(ConfigError, match="rois"):
        nsd_sim.load(rois=["FFX"], **SMALL)
    with pytest.raises(ConfigError, match="rois"):
        nsd_sim.load(rois=[], **SMALL)
