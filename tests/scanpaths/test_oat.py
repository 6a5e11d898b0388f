"""OAT: contract, planted rule vs a shuffled-target control, position encoding, checkpoints, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import cogmodels
from cogmodels.data import Fixations, Scanpath
from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.scanpaths.oat import OATModel
from cogmodels.scanpaths.oat_data import prepare
from cogmodels.scanpaths.oat_network import LearnedGridPosition, SinusoidalPosition2D
from cogmodels.scanpaths.oat_training import nll, training_tensors, validation_split

SMALL = dict(d_model=32, d_position=8, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, dim_feedforward=64,
             density_samples=10, min_steps=0, progress=False)


@pytest.fixture(scope="module")
def sim():
    return cogmodels.load_dataset("object_search_sim", n_displays=40, n_subjects=4, grid=(3, 4), cell=32, seed=1)


def _model(sim, **kw):
    return OATModel(grid=sim.meta["grid"], pe_grid=sim.meta["grid"], **{**SMALL, **kw})


def _shuffled(fixations, seed=0):
    trials = fixations.trials.copy()
    cols = ["target_x", "target_y", "target_w", "target_h"]
    per_image = trials.drop_duplicates("stimulus_id").set_index("stimulus_id")[cols]
    perm = dict(zip(per_image.index, np.random.default_rng(seed).permutation(per_image.index)))
    for c in cols:
        trials[c] = trials["stimulus_id"].map(lambda s: per_image.loc[perm[s], c])
    return Fixations(fixations.table, trials=trials, image_sizes=fixations.image_sizes, kind="eye")


@pytest.fixture(scope="module")
def fitted(sim):
    train = sim.fixations.subset(stimulus_ids=sim.splits["train"])
    return _model(sim, epochs=1, min_steps=200).fit(train, sim.stimuli)


def test_contract_sample_and_density(sim, fitted):
    stim = sim.stimuli[sim.splits["test"][0]]
    paths = fitted.sample(stim, n=5, seed=3)
    assert len(paths) == 5 and all(isinstance(p, Scanpath) for p in paths)
    width, height = stim.size
    for p in paths:
        assert 1 <= len(p) <= fitted.max_length
        assert ((p.x >= 0) & (p.x < width) & (p.y >= 0) & (p.y < height)).all()
        assert np.isin(p.duration, fitted.durations_).all()
        assert p.stimulus_id == stim.id
    again = fitted.sample(stim, n=5, seed=3)
    assert all(np.array_equal(a.xy, b.xy) for a, b in zip(paths, again))
    density = fitted.density(stim)
    assert density.shape == (height, width) and np.isclose(density.sum(), 1.0)
    assert cogmodels.create_model("scanpath", "oat", budget="tiny").budget_factor() == 0.05


def test_planted_rule_beats_shuffled_target_control(sim, fitted):
    """The searcher is guided by similarity to the target: OAT given the true targets predicts held-out
    scanpaths better than OAT trained and tested with targets shuffled across displays."""
    train = sim.fixations.subset(stimulus_ids=sim.splits["train"])
    test = sim.fixations.subset(stimulus_ids=sim.splits["test"])
    control = _model(sim, epochs=1, min_steps=200).fit(_shuffled(train), sim.stimuli)
    real = fitted.log_likelihood(test, sim.stimuli).mean()
    shuffled = control.log_likelihood(_shuffled(test, seed=1), sim.stimuli).mean()
    assert real > shuffled + 0.1
    assert float(fitted.network_.similarity_gain.detach()) > float(control.network_.similarity_gain.detach())
    # the searcher stops after detecting the target: stopping follows the last fixation's target similarity
    assert float(fitted.network_.stop_gain.detach()) > float(control.network_.stop_gain.detach())
    # the searcher inhibits returns to visited objects (ior 0.25): the revisit gain is learned negative
    assert float(fitted.network_.revisit_gain.detach()) < 0


def test_early_stopping_keeps_the_best_held_out_epoch(sim):
    train = sim.fixations.subset(stimulus_ids=sim.splits["train"][:12])
    model = _model(sim, epochs=8, validation_fraction=0.25, patience=1, lr=0.02).fit(train, sim.stimuli)
    assert len(model.validation_history_) == len(model.history_) <= model.best_epoch_ + model.patience + 1
    assert model.best_epoch_ == int(np.argmin(model.validation_history_))
    # the network left after fit is the best epoch's: its held-out NLL is the minimum of the history
    t = training_tensors(model, prepare(model, train, sim.stimuli))
    fit_rows, held = validation_split(t.image.numpy(), model.validation_fraction, model.seed)
    assert len(held) and not np.isin(t.image.numpy()[held], t.image.numpy()[fit_rows]).any()
    assert nll(model.network_, t, held) == pytest.approx(min(model.validation_history_), rel=1e-5)
    # control: without a validation split every epoch runs and no held-out history is kept
    every = _model(sim, epochs=3, validation_fraction=0.0).fit(train, sim.stimuli)
    assert len(every.history_) == 3  # SMALL has min_steps=0: epochs=3 is the number of epochs
    assert every.validation_history_ == [] and every.best_epoch_ == len(every.history_) - 1
    # patience=0 stops at the first epoch without improvement, never before the first epoch
    eager = _model(sim, epochs=4, validation_fraction=0.25, patience=0, lr=0.02).fit(train, sim.stimuli)
    assert len(eager.history_) >= 1 and eager.best_epoch_ == int(np.argmin(eager.validation_history_)) >= 0


def test_learned_position_encoding_fits_gaussian():
    pe = LearnedGridPosition(16, grid=(4, 6), sigma=1.0)
    error = pe.fit(seed=0)
    untrained = LearnedGridPosition(16, grid=(4, 6), sigma=1.0)
    untrained.table.data = torch.randn(24, 16, generator=torch.Generator().manual_seed(0))
    baseline = float(((untrained.similarity() - untrained.target_similarity()) ** 2).mean().sqrt())
    assert error == pytest.approx(float(((pe.similarity() - pe.target_similarity()) ** 2).mean().sqrt()))
    assert error < 0.5 * baseline
    # cell centres are read back exactly; the encodings are finite for any position
    centres = torch.tensor([[(c + 0.5) / 6, (r + 0.5) / 4] for r in range(4) for c in range(6)])
    assert torch.allclose(pe(centres), pe.table)
    assert torch.isfinite(SinusoidalPosition2D(16)(torch.rand(5, 2))).all()


def test_checkpoint_resume_matches_uninterrupted(sim, tmp_path):
    train = sim.fixations.subset(stimulus_ids=sim.splits["train"][:8])
    straight = _model(sim, epochs=4).fit(train, sim.stimuli)

    class Interrupted(OATModel):
        def _after_epoch(self, epoch):
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Interrupted(grid=sim.meta["grid"], pe_grid=sim.meta["grid"], epochs=4, checkpoint_dir=str(tmp_path),
                    **SMALL).fit(train, sim.stimuli)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["params"]["epochs"] == 4
    assert int(torch.load(tmp_path / "state.pt", weights_only=True)["epoch"]) == 1
    resumed = _model(sim, epochs=4, checkpoint_dir=str(tmp_path)).fit(train, sim.stimuli)
    assert len(resumed.history_) == 4
    np.testing.assert_allclose(resumed.history_, straight.history_, rtol=1e-5)
    for (name, a), b in zip(straight.network_.state_dict().items(), resumed.network_.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    loaded = OATModel.from_checkpoint(tmp_path)
    stim = sim.stimuli[0]
    assert all(np.array_equal(a.xy, b.xy) for a, b in zip(loaded.sample(stim, 3, seed=0), resumed.sample(stim, 3, seed=0)))


def test_bad_inputs(sim, fitted):
    stim = sim.stimuli[sim.splits["test"][0]]
    cell = sim.meta["cell"]
    # a target box that matches no object (straddles four slots)
    with pytest.raises(DataFormatError, match="target.*IoU"):
        fitted.sample(stim, n=1, task={"target_box": (cell / 2, cell / 2, 1.5 * cell, 1.5 * cell)})
    # an image with zero proposals
    with pytest.raises(DataFormatError, match="zero proposals"):
        fitted.sample(stim, n=1, objects=np.zeros((0, 4)))
    # fixations on no object: small boxes in the middle of the slots
    boxes = sim.meta["objects"]
    small = {sid: b + np.array([8, 8, -8, -8]) for sid, b in boxes.items()}  # 16 px boxes in 32 px slots
    train = sim.fixations.subset(stimulus_ids=sim.splits["train"][:4])
    with pytest.raises(DataFormatError, match="on no object"):
        _model(sim, epochs=1, off_object="raise", min_target_iou=0.2).fit(train, sim.stimuli, objects=small)
    with pytest.warns(UserWarning, match="fell on no object"):
        model = _model(sim, epochs=1, min_target_iou=0.2).fit(train, sim.stimuli, objects=small)
    xy = train.table[["x", "y"]].to_numpy()
    sid = train.table["stimulus_id"].to_numpy()
    inside = [((b[:, 0] <= p[0]) & (p[0] <= b[:, 2]) & (b[:, 1] <= p[1]) & (p[1] <= b[:, 3])).any()
              for p, b in zip(xy, (small[s] for s in sid))]
    assert model.n_off_object_ == len(xy) - int(np.sum(inside)) > 0
    with pytest.warns(UserWarning, match="background token"):
        bg = _model(sim, epochs=1, off_object="background", min_target_iou=0.2).fit(train, sim.stimuli, objects=small)
    assert all(len(p) for p in bg.sample(stim, n=2, objects=small[stim.id]))


@pytest.mark.parametrize("param, value", [("grid", (0, 3)), ("budget", "huge"), ("d_position", 6),
                                          ("off_object", "drop"), ("n_heads", 5), ("epochs", 0), ("n_threads", 0),
                                          ("patience", -1), ("validation_fraction", 1.0)])
def test_validate_params(param, value):
    with pytest.raises(ConfigError, match=f"scanpath.{param}"):
        OATModel(**{param: value}).validate_params()
