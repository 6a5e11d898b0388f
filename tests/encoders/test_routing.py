"""Tests of the attention-routing transformer encoder on a toy routing problem.

The toy problem: every stimulus is a grid of random feature tokens with one
"object" at a random cell (marked by a high value of feature 0).  Channels of
ROI "OBJ" respond to the object's features wherever it is (routing); channels
of ROI "V1" respond to the features of one fixed cell each (a static RF).
"""

import numpy as np
import pytest
import torch

from cogmodels.backbones.base import FeatureMap
from cogmodels.encoders.routing import RoutingTransformerEncoder
from cogmodels.encoders.routing_network import sine_cosine_position_encoding
from cogmodels.errors import ConfigError, DataFormatError, NotFittedError, ShapeError

GRID = (6, 6)
N_OBJ, N_RET = 8, 4
FAST = dict(d_model=32, max_epochs=40, patience=6, batch_size=32, progress=False)


def make_routing_problem(n, seed=0, weights_seed=100, noise=0.3, n_features=6):
    """Tokens (n, H*W, C), responses (n, N_OBJ + N_RET), ROI labels and the object cell of each stimulus."""
    rng, wrng = np.random.default_rng(seed), np.random.default_rng(weights_seed)
    n_cells = GRID[0] * GRID[1]
    tokens = rng.normal(size=(n, n_cells, n_features)).astype(np.float32)
    cell = rng.integers(0, n_cells, size=n)
    obj = rng.normal(size=(n, n_features - 1)).astype(np.float32)
    tokens[np.arange(n), cell, 0] = 4.0
    tokens[np.arange(n), cell, 1:] = obj
    y_obj = obj @ wrng.normal(size=(N_OBJ, n_features - 1)).T
    rf = wrng.integers(0, n_cells, size=N_RET)
    y_ret = np.einsum("ncf,cf->nc", tokens[:, rf, :], wrng.normal(size=(N_RET, n_features)))
    Y = np.concatenate([y_obj, y_ret], 1)
    Y = Y / Y.std(0) + noise * np.random.default_rng(seed + 1).normal(size=Y.shape)
    rois = [("OBJ",)] * N_OBJ + [("V1",)] * N_RET
    return tokens, Y.astype(np.float32), rois, cell


def pearson(a, b):
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


@pytest.fixture(scope="module")
def toy():
    return make_routing_problem(500), make_routing_problem(200, seed=7)


@pytest.fixture(scope="module")
def fitted(toy):
    (X, Y, rois, _), _ = toy
    return RoutingTransformerEncoder(**FAST).fit(X, Y, rois=rois, grid=GRID)


def test_contract_shapes_and_registry(toy, fitted):
    import cogmodels

    (X, Y, rois, _), (Xt, Yt, _, _) = toy
    assert isinstance(cogmodels.create_model("encoder", "routing"), RoutingTransformerEncoder)
    with pytest.raises(NotFittedError):
        RoutingTransformerEncoder().predict(Xt, grid=GRID)
    assert fitted.query_names_ == ["OBJ", "V1"]
    assert fitted.predict(Xt, grid=GRID).shape == Yt.shape
    assert fitted.score(Xt, Yt, grid=GRID).shape == (Yt.shape[1],)
    maps = fitted.attention_maps(Xt, grid=GRID)
    assert maps.shape == (len(Xt), 2, *GRID)
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(fitted.attention_maps(Xt, grid=GRID, queries=["V1"])[:, 0], maps[:, 1])
    with pytest.raises(ConfigError, match="queries"):
        fitted.attention_maps(Xt, grid=GRID, queries=["FFA"])
    # a FeatureMap and a spatial array give the same predictions as tokens + grid
    spatial = FeatureMap(Xt, "tokens", GRID).as_spatial()
    np.testing.assert_allclose(fitted.predict(FeatureMap(Xt, "tokens", GRID)), fitted.predict(Xt, grid=GRID))
    np.testing.assert_allclose(fitted.predict(spatial), fitted.predict(Xt, grid=GRID), rtol=1e-5, atol=1e-6)
    assert fitted.get_params()["d_model"] == 32


def test_beats_fixed_receptive_field_linear_model_on_routed_channels(toy, fitted):
    from cogmodels.encoders import RidgeCV

    (X, Y, _, _), (Xt, Yt, _, _) = toy
    ridge = RidgeCV(alphas=np.logspace(-1, 5, 13)).fit(X.reshape(len(X), -1), Y)
    r_ridge = pearson(Yt, ridge.predict(Xt.reshape(len(Xt), -1)))[:N_OBJ].mean()
    r_routing = pearson(Yt, fitted.predict(Xt, grid=GRID))[:N_OBJ].mean()
    assert r_routing > 0.8
    assert r_routing > r_ridge + 0.2


def test_attention_concentrates_on_the_object(toy, fitted):
    _, (Xt, _, _, cell) = toy
    maps = fitted.attention_maps(Xt, grid=GRID).reshape(len(Xt), 2, -1)
    mass_on_object = maps[np.arange(len(Xt)), fitted.query_names_.index("OBJ"), cell].mean()
    chance = 1.0 / (GRID[0] * GRID[1])
    assert mass_on_object > 5 * chance


def test_multi_roi_channel_sums_the_readouts_of_its_rois(toy):
    (X, Y, rois, _), _ = toy
    rois = list(rois)
    rois[0] = ("OBJ", "V1")
    enc = RoutingTransformerEncoder(**{**FAST, "max_epochs": 2}).fit(X, Y, rois=rois, grid=GRID)
    network = enc.members_[0].network
    readout = network.readouts[network.readout_keys["subject"]]
    assert readout.membership[0].sum() == 2 and readout.membership[1].sum() == 1
    with torch.no_grad():
        tokens, _ = network.encode(torch.from_numpy(X[:20]))
        summed = tokens[:, 0] @ readout.weight[0] + tokens[:, 1] @ readout.weight[0] + readout.bias[0]
        single = tokens[:, 0] @ readout.weight[1] + readout.bias[1]
        prediction = network(torch.from_numpy(X[:20]), "subject")
    torch.testing.assert_close(prediction[:, 0], summed)
    torch.testing.assert_close(prediction[:, 1], single)


def test_readout_dense_and_pairwise_paths_agree_with_the_formula():
    from cogmodels.encoders.routing_network import ChannelReadout

    rng = np.random.default_rng(0)
    membership = rng.random((30, 40)) < 0.05
    membership[np.arange(30), rng.integers(0, 40, 30)] = True  # every channel reads >= 1 query
    readout = ChannelReadout(membership, 8)
    assert readout.pairwise  # 40 queries, ~3 per channel: the pair path is cheaper
    tokens = torch.randn(5, 40, 8)
    with torch.no_grad():
        pairwise = readout(tokens)
        readout.pairwise = False
        dense = readout(tokens)
        expected = torch.stack([(tokens[:, membership[c]] @ readout.weight[c]).sum(1) + readout.bias[c]
                                for c in range(30)], dim=1)
    torch.testing.assert_close(pairwise, expected)
    torch.testing.assert_close(dense, expected)


def test_same_seed_same_numbers_other_seed_other_numbers(toy):
    (X, Y, rois, _), (Xt, _, _, _) = toy
    params = {**FAST, "max_epochs": 3}
    first = RoutingTransformerEncoder(**params, seed=3).fit(X, Y, rois=rois, grid=GRID).predict(Xt, grid=GRID)
    again = RoutingTransformerEncoder(**params, seed=3).fit(X, Y, rois=rois, grid=GRID).predict(Xt, grid=GRID)
    other = RoutingTransformerEncoder(**params, seed=4).fit(X, Y, rois=rois, grid=GRID).predict(Xt, grid=GRID)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_early_stopping_restores_the_best_epoch():
    X, Y, rois, _ = make_routing_problem(100, noise=1.0)  # few noisy stimuli: the model overfits after a while
    # the settings before issue 8 (no clipping or dropout, queries as the decoder input, self-attention): it overfits
    enc = RoutingTransformerEncoder(d_model=64, lr=1e-2, max_epochs=60, patience=4, batch_size=8,
                                    validation_fraction=0.3, progress=False, grad_clip=None, dropout=0.0,
                                    lr_schedule="none", query_input="learned",
                                    self_attention=True).fit(X, Y, rois=rois, grid=GRID)
    history = enc.members_[0].history
    assert history.best_epoch >= 3 and history.best_score > history.val_score[0] + 0.1  # it did learn
    assert len(history.val_score) == history.best_epoch + 1 + 4  # stopped `patience` epochs after the best
    restored = np.nanmean(enc.members_[0].val_r["subject"])
    assert restored == pytest.approx(history.best_score, abs=1e-5)
    assert history.val_score[-1] < history.best_score


def test_transfer_freezes_shared_weights_and_beats_training_from_scratch(toy, fitted):
    _, (Xt, _, _, _) = toy
    Xs, Ys, rois, _ = make_routing_problem(30, seed=11, weights_seed=200)  # a new subject, few stimuli
    _, Yt_new, _, _ = make_routing_problem(200, seed=7, weights_seed=200)
    before = fitted.predict(Xt, grid=GRID)
    transferred = fitted.fit_new_subject(Xs, Ys, rois=rois, grid=GRID, subject="subj02")
    old, new = fitted.members_[0].network, transferred.members_[0].network
    for name, value in old.state_dict().items():
        if not name.startswith("readouts."):
            torch.testing.assert_close(new.state_dict()[name], value, rtol=0, atol=0, msg=name)
    np.testing.assert_array_equal(fitted.predict(Xt, grid=GRID), before)  # the source model is untouched
    assert transferred.subjects_ == ["subj02"] and transferred.transferred_from_ == ["subject"]
    scratch = RoutingTransformerEncoder(**FAST).fit(Xs, Ys, rois=rois, grid=GRID)
    r_transfer = pearson(Yt_new, transferred.predict(Xt, grid=GRID))[:N_OBJ].mean()
    r_scratch = pearson(Yt_new, scratch.predict(Xt, grid=GRID))[:N_OBJ].mean()
    assert r_transfer > r_scratch + 0.1
    with_queries = fitted.fit_new_subject(Xs, Ys, rois=rois, grid=GRID, train_queries=True)
    assert not torch.equal(with_queries.members_[0].network.queries, old.queries)


def test_transfer_to_unknown_roi_is_a_config_error(fitted):
    Xs, Ys, rois, _ = make_routing_problem(40, seed=11)
    rois = [("FFA",)] + list(rois[1:])
    with pytest.raises(ConfigError, match="FFA"):
        fitted.fit_new_subject(Xs, Ys, rois=rois, grid=GRID)


def test_multi_subject_fit_and_query_modes(toy):
    (X, Y, rois, _), (Xt, _, _, _) = toy
    hemis = ["lh", "rh"] * (len(rois) // 2)
    data = {"a": (X, Y, rois, hemis), "b": (X[:300], Y[:300, :6], rois[:6], hemis[:6])}
    enc = RoutingTransformerEncoder(**{**FAST, "max_epochs": 2}).fit_multi(data, grid=GRID)
    assert enc.query_names_ == ["lh.OBJ", "rh.OBJ", "lh.V1", "rh.V1"]
    assert enc.predict(Xt, grid=GRID, subject="b").shape == (len(Xt), 6)
    with pytest.raises(ConfigError, match="subject"):
        enc.predict(Xt, grid=GRID)
    grouped = RoutingTransformerEncoder(**{**FAST, "max_epochs": 1}, group_size=1,
                                        query_per={"V1": "channel_group", "*": "roi"})
    grouped.fit(X, Y, rois=rois, grid=GRID)
    assert grouped.query_names_ == ["OBJ"] + [f"V1#{k}" for k in range(N_RET)]
    labelled = [(*r, "all") for r in rois]  # a label that only groups the ROIs gets no query when ignored
    ignoring = RoutingTransformerEncoder(**{**FAST, "max_epochs": 1}, ignore_rois=("all",))
    assert ignoring.fit(X, Y, rois=labelled, grid=GRID).query_names_ == ["OBJ", "V1"]
    with pytest.raises(DataFormatError, match="ignore_rois"):
        RoutingTransformerEncoder(**FAST, ignore_rois=("all", "V1")).fit(X, Y, rois=labelled, grid=GRID)


def test_ensemble_over_layers_weights_the_informative_layer(toy):
    (X, Y, rois, _), (Xt, _, _, _) = toy
    noise = np.random.default_rng(0).normal(size=X.shape).astype(np.float32)
    layers = {"good": FeatureMap(X, "tokens", GRID), "noise": FeatureMap(noise, "tokens", GRID)}
    enc = RoutingTransformerEncoder(**{**FAST, "max_epochs": 8}, n_runs=2).fit(layers, Y, rois=rois)
    assert [m.layer for m in enc.members_] == [0, 0, 1, 1]
    weights = enc.ensemble_weights_["subject"]
    np.testing.assert_allclose(weights.sum(0), 1.0, rtol=1e-5)
    assert weights[:2, :N_OBJ].sum(0).mean() > 0.8
    test_layers = {"good": FeatureMap(Xt, "tokens", GRID), "noise": FeatureMap(Xt, "tokens", GRID)}
    assert enc.predict(test_layers).shape == (len(Xt), Y.shape[1])


class _PoolingBackbone:
    """A stand-in backbone: mean RGB over a 6x6 grid of cells, as tokens."""

    name, layers = "pool", ["pool"]

    def extract(self, images, layers=None, progress=False):
        images = np.asarray(images, dtype=np.float32) / 255.0
        n, h, w, _ = images.shape
        cells = images.reshape(n, GRID[0], h // GRID[0], GRID[1], w // GRID[1], 3).mean(axis=(2, 4))
        return {"pool": FeatureMap(cells.reshape(n, -1, 3), "tokens", GRID)}


def test_attention_maps_of_images_are_upsampled_to_the_image():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(80, 24, 30, 3), dtype=np.uint8)
    Y = images.reshape(80, -1).mean(1, keepdims=True).repeat(2, 1).astype(np.float32)
    enc = RoutingTransformerEncoder(**{**FAST, "max_epochs": 1}, backbone=_PoolingBackbone())
    enc.fit(images, Y + rng.normal(size=Y.shape).astype(np.float32), rois=[("A",), ("B",)])
    maps = enc.attention_maps(images[:5])
    assert maps.shape == (5, 2, 24, 30)
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), 1.0, rtol=1e-4)
    assert enc.predict(images[:5]).shape == (5, 2)


def test_bad_inputs_are_typed_errors_that_name_the_field(toy):
    (X, Y, rois, _), _ = toy
    enc = RoutingTransformerEncoder(**FAST)
    with pytest.raises(ShapeError, match="rois"):
        enc.fit(X, Y, rois=rois[:-1], grid=GRID)
    with pytest.raises(ShapeError, match="grid"):
        enc.fit(X, Y, rois=rois, grid=(5, 6))
    with pytest.raises(ShapeError, match="grid"):
        enc.fit(X, Y, rois=rois)  # a token array needs its grid
    with pytest.raises(ShapeError, match="rows"):
        enc.fit(X[:-1], Y, rois=rois, grid=GRID)
    with pytest.raises(DataFormatError, match=r"rois\[2\]"):
        enc.fit(X, Y, rois=rois[:2] + [()] + rois[3:], grid=GRID)
    with pytest.raises(ConfigError, match="rois"):
        enc.fit(X, Y, grid=GRID)
    with pytest.raises(ConfigError, match="query_per"):
        RoutingTransformerEncoder(query_per="voxel").fit(X, Y, rois=rois, grid=GRID)
    with pytest.raises(DataFormatError, match="Y"):
        enc.fit(X, np.where(np.eye(*Y.shape, dtype=bool), np.nan, Y), rois=rois, grid=GRID)


def test_predict_rejects_features_of_another_grid(fitted):
    X = np.zeros((4, 5 * 5, 6), dtype=np.float32)
    with pytest.raises(ShapeError, match="grid"):
        fitted.predict(X, grid=(5, 5))


def test_position_encoding_distinguishes_every_cell():
    code = sine_cosine_position_encoding((4, 5), 16)
    assert code.shape == (20, 16)
    distances = torch.cdist(code, code) + torch.eye(20)
    assert distances.min() > 1e-3


@pytest.mark.slow
def test_nsd_sim_routing_beats_ridge_where_responses_are_routed():
    """Issue #3 must-show on the NSD-like simulator (a few minutes on one core); see benchmarks/routing_nsd_sim.py."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("cogmodels.datasets.nsd_sim")
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "routing_nsd_sim.py"
    spec = importlib.util.spec_from_file_location("routing_nsd_sim", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.measure(progress=False)
    diffs = bench.group_diffs(result)
    assert diffs["category"] >= 0.05
    assert diffs["retinotopic"] >= -0.03
    assert min(mass / chance for mass, chance in result["boxes"].values()) >= 2.0


def test_undefined_validation_r_is_nan_with_a_warning(toy):
    (X, Y, rois, _), _ = toy
    Y = Y.copy()
    Y[:, 0] = 1.0  # a constant channel: its r is undefined
    with pytest.warns(UserWarning, match="1 of 12 channels"):
        enc = RoutingTransformerEncoder(**{**FAST, "max_epochs": 1}).fit(X, Y, rois=rois, grid=GRID)
    assert np.isnan(enc.validation_r_["subject"][0]) and not np.isnan(enc.validation_r_["subject"][1:]).any()


# -- issue 8: options closer to the paper, and the content-blind ablation ------------------------------------------
def test_content_blind_attention_is_the_same_map_for_every_image(toy):
    (X, Y, rois, _), (Xt, _, _, _) = toy
    blind = RoutingTransformerEncoder(**{**FAST, "max_epochs": 3}, key_content=False).fit(X, Y, rois=rois, grid=GRID)
    maps = blind.attention_maps(Xt[:20], grid=GRID)
    np.testing.assert_allclose(maps, np.broadcast_to(maps[:1], maps.shape), atol=1e-6)
    seeing = RoutingTransformerEncoder(**{**FAST, "max_epochs": 3}).fit(X, Y, rois=rois, grid=GRID)
    assert np.abs(seeing.attention_maps(Xt[:20], grid=GRID) - maps[:1]).max() > 1e-3  # the default looks at content


def test_detr_queries_flip_augmentation_and_schedules_are_options(toy):
    from cogmodels.encoders.routing_network import flip_tokens

    (X, Y, rois, _), (Xt, _, _, _) = toy
    defaults = RoutingTransformerEncoder()
    assert (defaults.query_input, defaults.self_attention, defaults.dropout, defaults.grad_clip) == ("detr", False,
                                                                                                   0.1, 0.1)
    assert (defaults.lr, defaults.weight_decay, defaults.lr_schedule) == (5e-4, 1e-4, "step")
    small = {**FAST, "max_epochs": 2}
    detr = RoutingTransformerEncoder(**small).fit(X, Y, rois=rois, grid=GRID).predict(Xt, grid=GRID)
    learned = RoutingTransformerEncoder(**small, query_input="learned").fit(X, Y, rois=rois, grid=GRID)
    assert not np.allclose(detr, learned.predict(Xt, grid=GRID))
    for options in (dict(flip_augmentation=True), dict(lr_schedule="cosine"), dict(grad_clip=None)):
        again = RoutingTransformerEncoder(**small, **options).fit(X, Y, rois=rois, grid=GRID).predict(Xt, grid=GRID)
        assert np.isfinite(again).all() and not np.allclose(again, detr), options
    tokens = torch.arange(2 * 6 * 1, dtype=torch.float32).reshape(2, 6, 1)  # two 2 x 3 grids
    flipped = flip_tokens(tokens, (2, 3), torch.Generator().manual_seed(0))
    for row, out in zip(tokens, flipped):
        grid_in, grid_out = row.reshape(2, 3), out.reshape(2, 3)
        assert torch.equal(grid_out, grid_in) or torch.equal(grid_out, grid_in.flip(1))
    for name, value in (("query_input", "zeros"), ("lr_schedule", "linear"), ("grad_clip", 0), ("key_content", 1)):
        with pytest.raises(ConfigError, match=f"encoder.{name}"):
            RoutingTransformerEncoder(**{name: value}).validate_params()
