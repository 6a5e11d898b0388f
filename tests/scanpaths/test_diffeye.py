"""DiffEye: CPE lookup, diffusion samplers, synthesis recovered by I-VT, bad inputs, checkpoints, learning a cue.

The learning test is a ground-truth simulator: every image has one bright square and every trajectory looks
at it; a model conditioned on the image must put its generated gaze nearer the square than the same network
given the null condition (the control, which can only learn the positions' marginal).
"""

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch

from cogmodels.data import Fixations, GazeSamples, Scanpath, ScreenGeometry, Stimuli
from cogmodels.errors import ConfigError, DataFormatError, ShapeError
from cogmodels.scanpaths.diffeye import DiffEyeModel
from cogmodels.scanpaths.diffeye_network import DiffEyeDenoiser, Diffusion, corresponding_features
from cogmodels.scanpaths.diffeye_training import WeightAverage, read_checkpoint
from cogmodels.scanpaths.diffeye_trajectories import (SynthesisOptions, check_trajectories, recovery,
                                                      saccade_duration, synthesize_trajectory,
                                                      trajectories_from_samples)

TINY = dict(d_model=32, n_heads=2, n_layers=1, dim_feedforward=64, sampling_rate=30.0, duration_ms=800.0,
            n_diffusion_steps=50, ddim_steps=5, density_samples=4, backbone_options={"image_size": 32, "pool": 4},
            progress=False, n_threads=1)


# -- CPE and diffusion -------------------------------------------------------------------------------
def test_cpe_samples_the_feature_under_the_gaze_bilinearly():
    rng = np.random.default_rng(0)
    fmap = torch.from_numpy(rng.normal(size=(1, 3, 4, 5)).astype(np.float32))
    h, w = 4, 5
    centre = lambda i, j: [(2 * j + 1) / w - 1, (2 * i + 1) / h - 1]  # noqa: E731  cell (row i, col j) centre
    halfway = [(a + b) / 2 for a, b in zip(centre(1, 2), centre(1, 3))]
    xy = torch.tensor([[centre(0, 0), centre(2, 3), halfway]], dtype=torch.float32)
    out = corresponding_features(fmap, xy)[0]
    np.testing.assert_allclose(out[0], fmap[0, :, 0, 0], atol=1e-6)
    np.testing.assert_allclose(out[1], fmap[0, :, 2, 3], atol=1e-6)
    np.testing.assert_allclose(out[2], (fmap[0, :, 1, 2] + fmap[0, :, 1, 3]) / 2, atol=1e-6)


def test_diffusion_schedule_and_samplers():
    diffusion = Diffusion(100)
    ab = diffusion.alpha_bar.numpy()
    assert np.all(np.diff(ab) < 0) and 0.99 < ab[0] <= 1 and ab[-1] < 1e-3
    steps = diffusion.ddim_schedule(10)
    assert steps[0] == 99 and steps[-1] == 0 and len(steps) == 10

    class Oracle(torch.nn.Module):  # the exact noise predictor for data concentrated at one point x*
        def forward(self, x, t, features, uncond=None):
            a = diffusion.alpha_bar[t].float()[:, None, None]
            return (x - a.sqrt() * 0.3) / (1 - a).sqrt()

    feats = torch.zeros(4, 1, 2, 2)
    for sample in (lambda g: diffusion.sample_ddim(Oracle(), feats, (4, 8, 2), g, 10),
                   lambda g: diffusion.sample_ddpm(Oracle(), feats, (4, 8, 2), g)):
        x = sample(torch.Generator().manual_seed(0))
        np.testing.assert_allclose(x.numpy(), 0.3, atol=1e-4)  # both samplers land on the data point
        np.testing.assert_array_equal(x.numpy(), sample(torch.Generator().manual_seed(0)).numpy())


def test_prepared_guidance_equals_two_plain_passes():
    torch.manual_seed(0)
    net = DiffEyeDenoiser(3, 8, d_model=16, n_heads=2, n_layers=1, dim_feedforward=16, patch=4, memory_grid=2).eval()
    torch.nn.init.normal_(net.out.weight)  # the output layer starts at zero
    torch.nn.init.normal_(net.null_features)
    x, feats = torch.randn(2, 8, 2), torch.randn(2, 3, 4, 4)
    steps = torch.full((2,), 7)
    with torch.no_grad():
        plain = 2.5 * net(x, steps, feats) - 1.5 * net(x, steps, feats, torch.ones(2, dtype=torch.bool))
        once = Diffusion.prepared(net, feats, 1.5)  # the image context computed once, reused at every step
        torch.testing.assert_close(once(x, 7), plain)
        torch.testing.assert_close(Diffusion.prepared(net, feats, 0.0)(x, 7), net(x, steps, feats))


def test_weight_average_follows_the_warm_up_formula():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = WeightAverage(net, 0.5)
    expected = 0.0
    for step, value in enumerate([1.0, 2.0, 4.0]):
        with torch.no_grad():
            net.weight.fill_(value)
        ema.update(step)
        decay = min(0.5, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
    assert ema.state()["weight"].item() == pytest.approx(expected)
    ema.copy_to(net)
    assert net.weight.item() == pytest.approx(expected)


# -- synthesis recovered by I-VT --------------------------------------------------------------------------
def _scanpaths(n, rng, separated=True):
    out = []
    for i in range(n):
        k = int(rng.integers(4, 9))
        xy = [rng.uniform(60, 740, 2)]
        while len(xy) < k:
            p = rng.uniform(20, 780, 2) * [1, 0.75]
            if not separated or np.hypot(*(p - xy[-1])) > 48:  # > 2 deg at 24 px/deg
                xy.append(p)
        xy = np.array(xy)
        out.append(Scanpath.from_arrays(xy[:, 0], xy[:, 1], duration=rng.uniform(120, 400, k), stimulus_id="s",
                                        subject=str(i)))
    return out


def test_synthesised_trajectories_give_back_their_fixations():
    rng = np.random.default_rng(0)
    paths = _scanpaths(40, rng)
    options = SynthesisOptions(60.0, 180, 24.0)
    result = recovery(paths, options, seed=1, image_sizes={"s": (800, 600)})
    summary = result.summary()
    assert summary["recall"] >= 0.95 and summary["recall_resolvable"] >= 0.97
    assert summary["median_abs_onset_error_ms"] <= 20 and summary["p95_abs_onset_error_ms"] <= 40
    assert summary["median_position_error_px"] <= 3 and summary["median_abs_duration_error_ms"] <= 30
    # control: fixational noise far above the velocity threshold breaks the fixations apart
    noisy = recovery(paths, SynthesisOptions(60.0, 180, 24.0, jitter_deg=0.6), seed=1)
    assert noisy.recall < 0.5


def test_synthesis_follows_the_main_sequence_and_keeps_durations():
    sp = Scanpath.from_arrays([100.0, 340.0], [300.0, 300.0], duration=[300.0, 500.0])  # 10 deg saccade
    traj, onset = synthesize_trajectory(sp, SynthesisOptions(1000.0, 1000, 24.0, jitter_deg=0, drift_deg=0),
                                        np.random.default_rng(0))
    assert onset[1] == pytest.approx(300 + saccade_duration(10.0))  # delayed by the saccade, duration kept
    moving = np.flatnonzero(np.abs(np.diff(traj[:, 0])) > 1e-9)
    assert (moving[-1] - moving[0] + 1) == pytest.approx(saccade_duration(10.0), abs=2)  # 43 ms at 1 kHz
    peak = np.abs(np.diff(traj[:, 0])).max() * 1000 / 24  # deg/s
    assert peak == pytest.approx(1.875 * 10 / saccade_duration(10.0) * 1000, rel=0.02)


# -- bad inputs -------------------------------------------------------------------------------------
def test_guidance_below_zero_is_a_config_error():
    with pytest.raises(ConfigError, match="guidance_scale"):
        DiffEyeModel(guidance_scale=-0.5).validate_params()
    with pytest.raises(ConfigError, match="multiple of patch"):
        DiffEyeModel(duration_ms=1000.0, sampling_rate=31.0).validate_params()  # 31 steps
    with pytest.raises(ConfigError, match="sampler"):
        DiffEyeModel(sampler="euler").validate_params()


def _recording(n, rate=60.0, nan_at=None):
    t = np.arange(n) * 1000.0 / rate
    x, y = 400 + 10 * np.sin(t / 200), 300 + 5 * np.cos(t / 300)
    if nan_at is not None:
        x[nan_at], y[nan_at] = np.nan, np.nan
    return GazeSamples(t, x, y, rate, px_per_deg=24.0, subject="s1", trial=f"n{n}")


def test_unequal_lengths_are_rejected_or_resampled_with_a_note():
    recordings = [_recording(24), _recording(30)]
    with pytest.raises(ShapeError, match="unequal_length='resample'"):
        trajectories_from_samples(recordings, 24, 60.0, unequal_length="raise")
    arr, notes = trajectories_from_samples(recordings, 24, 60.0)  # crop: the longer one is cut to 24 samples
    assert arr.shape == (2, 24, 2) and notes == []
    with pytest.raises(ShapeError, match="cannot be cropped"):
        trajectories_from_samples([_recording(20)], 24, 60.0)
    with pytest.warns(UserWarning, match="1 of 2 recordings resampled"):
        arr, notes = trajectories_from_samples([_recording(24), _recording(20)], 24, 60.0, unequal_length="resample")
    assert arr.shape == (2, 24, 2) and "resampled" in notes[0]
    with pytest.raises(ShapeError, match="equal length"):
        check_trajectories([np.zeros((24, 2)), np.zeros((20, 2))])


def test_nan_samples_are_named_or_interpolated():
    with pytest.raises(DataFormatError, match="NaN samples"):
        trajectories_from_samples([_recording(24, nan_at=slice(5, 9))], 24, 60.0)
    with pytest.warns(UserWarning, match="4 missing samples"):
        arr, _ = trajectories_from_samples([_recording(24, nan_at=slice(5, 9))], 24, 60.0, blinks="interpolate")
    assert np.isfinite(arr).all()
    with pytest.raises(DataFormatError, match="blinks"):
        check_trajectories(np.full((1, 24, 2), np.nan))


# -- a ground-truth simulator: gaze on a bright square ------------------------------------------------
def _square_world(n_images, rng, size=64):
    images, centres = [], []
    for _ in range(n_images):
        img = np.full((size, size, 3), 40, np.uint8)
        cx, cy = rng.integers(12, size - 12, 2)
        img[cy - 6:cy + 6, cx - 6:cx + 6] = 250
        images.append(img)
        centres.append((cx, cy))
    return images, np.array(centres, float)


@pytest.fixture(scope="module")
def square_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    images, centres = _square_world(24, rng)
    ids = [f"im{i}" for i in range(len(images))]
    rows = []
    for i, sid in enumerate(ids):
        for subject in range(6):
            for k in range(3):  # three fixations on the square
                x, y = centres[i] + rng.normal(0, 1.5, 2)
                rows.append((sid, f"s{subject}", 0, k, x, y, 250.0 * k, 250.0))
    table = pd.DataFrame(rows, columns=["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"])
    fixations = Fixations(table, geometry=ScreenGeometry(width_px=64, height_px=64, px_per_deg=8.0))
    folder = tmp_path_factory.mktemp("diffeye_ckpt")
    model = DiffEyeModel(**{**TINY, "n_layers": 2, "epochs": 100, "batch_size": 16, "lr": 3e-3, "guidance_scale": 1.0,
                            "checkpoint_dir": str(folder)})
    model.fit(fixations, Stimuli.from_arrays(ids, images))
    return model, fixations, Stimuli.from_arrays(ids, images), folder


def test_generated_gaze_goes_to_the_cue_unlike_the_null_condition(square_model):
    model, _, _, _ = square_model
    rng = np.random.default_rng(5)
    images, centres = _square_world(6, rng)  # new images: the model must read the cue, not remember positions
    conditioned, control = [], []
    for img, centre in zip(images, centres):
        traj = model.sample_trajectories(img, n=6, seed=0)
        conditioned.append(np.hypot(*(traj[:, 6:] - centre).reshape(-1, 2).T).mean())
        feats = torch.zeros(6, len(model.feature_mean_), 4, 4)
        null = model.diffusion_.sample_ddim(lambda x, t, f, u=None: model.network_(x, t, f, torch.ones(6, dtype=bool)),
                                            feats, (6, model.n_steps, 2), torch.Generator().manual_seed(0), 5)
        xy = (null.numpy() + 1) / 2 * 64
        control.append(np.hypot(*(xy[:, 6:] - centre).reshape(-1, 2).T).mean())
    # measured: about 12 px against 20 px (the control spreads over the squares' marginal)
    assert np.mean(conditioned) < 0.8 * np.mean(control), (conditioned, control)


def test_sample_density_and_both_samplers(square_model):
    model, _, stimuli, _ = square_model
    paths = model.sample(stimuli[0], n=3, seed=1)
    assert len(paths) == 3 and all(len(p) >= 1 and (p.duration > 0).all() for p in paths)
    ddpm = model.sample_trajectories(stimuli[0], n=2, seed=1, sampler="ddpm")
    assert ddpm.shape == (2, model.n_steps, 2) and np.isfinite(ddpm).all()
    density = model.density(stimuli[0])
    assert density.shape == (64, 64) and density.sum() == pytest.approx(1.0)


def test_checkpoint_is_safetensors_and_json_and_reloads(square_model):
    model, _, stimuli, folder = square_model
    assert (folder / "state.safetensors").read_bytes()[8:9] == b"{"  # a safetensors JSON header, not a pickle
    config = json.loads((folder / "config.json").read_text())
    assert config["epoch"] == model.n_epochs() - 1 and "synthesised" in config["training_data"]
    assert model.ema_decay > 0 and any(k.startswith("ema.") for k in read_checkpoint(folder)[1])
    again = DiffEyeModel.from_checkpoint(folder, ddim_steps=5)
    np.testing.assert_array_equal(again.sample_trajectories(stimuli[1], 3, seed=2),
                                  model.sample_trajectories(stimuli[1], 3, seed=2))


def test_example_arrays_are_the_trajectories_behind_sample(square_model):
    model, _, stimuli, _ = square_model
    rng = np.random.default_rng(3)
    trajectories = model.example_arrays(stimuli[0], 3, copy.deepcopy(rng))["trajectory"]
    assert trajectories.shape == (3, model.n_steps, 2)
    for a, b in zip(model.sample(stimuli[0], n=3, seed=rng), model.to_scanpaths(trajectories, stimuli[0].id)):
        np.testing.assert_array_equal(a.xy, b.xy)
        np.testing.assert_array_equal(a.duration, b.duration)


class _Interrupted(RuntimeError):
    pass


class _Crashing(DiffEyeModel):
    def _after_epoch(self, epoch):
        if epoch == 1:
            raise _Interrupted


def test_training_resumes_after_an_interruption(square_model, tmp_path):
    _, fixations, stimuli, _ = square_model
    small = fixations.subset(stimulus_ids=[f"im{i}" for i in range(4)])
    params = {**TINY, "epochs": 3}
    whole = DiffEyeModel(**params).fit(small, stimuli)
    with pytest.raises(_Interrupted):
        _Crashing(**params, checkpoint_dir=str(tmp_path)).fit(small, stimuli)
    assert json.loads((tmp_path / "config.json").read_text())["epoch"] == 1
    resumed = DiffEyeModel(**params, checkpoint_dir=str(tmp_path)).fit(small, stimuli)
    assert resumed.history_[:2] == json.loads((tmp_path / "config.json").read_text())["history"][:2]
    for a, b in zip(whole.network_.state_dict().values(), resumed.network_.state_dict().values()):
        torch.testing.assert_close(a, b)


@pytest.mark.shared_data
def test_osie_fixations_come_back_through_ivt(shared_data):
    """The synthesis of the OSIE training data, checked on real scanpaths (20 images x 15 subjects)."""
    import cogmodels

    dataset = cogmodels.load_dataset("osie", root=shared_data / "osie")
    ids = dataset.fixations.stimulus_ids[:20]
    paths = dataset.fixations.subset(stimulus_ids=ids).to_scanpaths()
    options = SynthesisOptions(60.0, 180, dataset.fixations.geometry.px_per_deg)
    summary = recovery(paths, options, seed=0, image_sizes=dataset.fixations.image_sizes).summary()
    # Measured on 100 OSIE images at 60 Hz: recall 0.83 (0.99 of the fixations I-VT can resolve: >= 60 ms and
    # >= 1 deg from both neighbours), median |onset error| 13 ms, median position error 2 px.
    assert summary["recall"] >= 0.75 and summary["recall_resolvable"] >= 0.95
    assert summary["median_abs_onset_error_ms"] <= 20 and summary["median_position_error_px"] <= 3
