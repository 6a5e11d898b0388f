"""Quickstart simulator: seeded, known ceilings, cached on disk, validated options."""

from __future__ import annotations

import numpy as np
import pytest

import cogmodels
from cogmodels.backbones.gabor import GaborBackbone
from cogmodels.datasets import quickstart_sim
from cogmodels.errors import ConfigError

SMALL = dict(n_stimuli=24, n_channels=6, image_size=32)


def test_same_seed_same_numbers_other_seed_other_numbers():
    a = quickstart_sim.load(seed=3, **SMALL)
    b = quickstart_sim.load(seed=3, **SMALL)
    c = quickstart_sim.load(seed=4, **SMALL)
    np.testing.assert_array_equal(a.responses.responses, b.responses.responses)
    np.testing.assert_array_equal(a.stimuli.image(0), b.stimuli.image(0))
    assert a.stimuli.fingerprint() == b.stimuli.fingerprint() != c.stimuli.fingerprint()
    assert not np.allclose(a.responses.responses, c.responses.responses)


def test_layout_rois_splits_and_card():
    data = cogmodels.load_dataset("quickstart_sim", **SMALL)
    assert data.card.simulated and data.responses.responses.dtype == np.float32
    assert data.responses.responses.shape == (24, 6)
    assert data.responses.roi_names() == sorted(quickstart_sim.ROIS)
    assert len(data.splits["test"]) == 5 and len(data.splits["train"]) == 19
    assert data.stimuli.image(0).shape == (32, 32, 3)
    truth = data.ground_truth
    assert truth["true_weights"].shape == (int(np.prod(truth["feature_shape"])), 6)
    assert 0 < (truth["true_weights"] != 0).mean() < 0.2  # sparse
    np.testing.assert_allclose(truth["true_responses"].std(axis=0), 1.0, rtol=1e-4)


def test_ceilings_are_the_correlation_of_responses_with_the_noise_free_signal():
    data = quickstart_sim.load(n_stimuli=400, n_channels=6, image_size=32, seed=1)
    truth = data.ground_truth
    assert np.all((truth["ceiling_r"] >= 0.3) & (truth["ceiling_r"] <= 0.9))
    empirical = [np.corrcoef(data.responses.responses[:, j], truth["true_responses"][:, j])[0, 1] for j in range(6)]
    # Fisher z of the empirical r is ~ N(atanh(true r), 1 / (n - 3)): allow 4 standard errors.
    z = (np.arctanh(empirical) - np.arctanh(truth["ceiling_r"])) * np.sqrt(400 - 3)
    assert np.all(np.abs(z) < 4), z


def test_zero_noise_gives_the_signal_and_ceiling_one():
    data = quickstart_sim.load(noise=0.0, **SMALL)
    np.testing.assert_allclose(data.ground_truth["ceiling_r"], 1.0)
    np.testing.assert_allclose(data.responses.responses, data.ground_truth["true_responses"], atol=1e-6)


def test_root_keeps_the_simulation_and_the_second_load_runs_no_backbone(tmp_path, monkeypatch):
    first = quickstart_sim.load(root=tmp_path, **SMALL)
    assert len(list(tmp_path.glob("quickstart_sim-*.npz"))) == 1

    def no_forward(*args, **kwargs):
        raise AssertionError("the backbone ran although the simulation was on disk")

    monkeypatch.setattr(GaborBackbone, "extract_batch", no_forward)
    second = quickstart_sim.load(root=tmp_path, **SMALL)
    np.testing.assert_array_equal(first.responses.responses, second.responses.responses)
    assert first.stimuli.fingerprint() == second.stimuli.fingerprint()
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("bad", [dict(n_stimuli=5), dict(noise=-1.0), dict(ceiling_range=(0.9, 0.3)),
                                 dict(test_fraction=1.5), dict(n_channels=2)])
def test_bad_options_raise_config_errors_naming_the_field(bad):
    field = next(iter(bad))
    with pytest.raises(ConfigError, match=f"quickstart_sim {field}"):
        quickstart_sim.load(**{**SMALL, **bad})
