"""NevaClip: the fixation search finds what the objective asks for, batched equals sequential, clear errors."""

import logging

import numpy as np
import pytest

import cogmodels
from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, ShapeError, WeightsUnavailableError
from cogmodels.scanpaths.nevaclip import NevaClipModel

FAST = dict(image_size=32, steps=6, step_size=0.2, n_fixations=3, density_grid=(4, 4))
#: A wider fovea widens the basin of the gradient on these mostly flat test scenes (NeVA's gradient is zero on
#: a plateau, where only the random restarts move a chain).
SEARCH = dict(FAST, first_fixation="search", fovea_sigma=0.3, steps=10, restarts=3, patience=2)
TINY_CLIP = {"embed_dim": 16,
             "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
             "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def grating(size, vertical: bool, period=16):
    t = np.arange(size)
    wave = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * t / period))
    patch = np.tile(wave[None, :] if vertical else wave[:, None], (size, 1) if vertical else (1, size))
    return (np.repeat(patch[..., None], 3, axis=2) * 255).astype(np.uint8)


def scene(corner, vertical=True, other=None, height=96, width=128):
    """Grey image with a 40-px grating patch at a corner ("tl", "br", ...); optionally another at ``other``."""
    image = np.full((height, width, 3), 128, np.uint8)
    for where, vert in [(corner, vertical)] + ([(other, not vertical)] if other else []):
        top = 4 if where[0] == "t" else height - 44
        left = 4 if where[1] == "l" else width - 44
        image[top:top + 40, left:left + 40] = grating(40, vert)
    return image


def centre_of(corner, height=96, width=128):
    return np.array([24 if corner[1] == "l" else width - 24, 24 if corner[0] == "t" else height - 24], float)


def first_fixations(model, image, n=6, task=None):
    return np.array([sp.xy[0] for sp in model.sample(image, n=n, seed=0, task=task)])


def test_default_model_is_offline_and_follows_the_contract():
    model = cogmodels.create_model("scanpath", "nevaclip")
    assert model.validate_params() is model and not model.requires_fit
    small = NevaClipModel(**FAST)
    image = scene("tl")
    paths = small.sample(image, n=4, seed=3)
    assert len(paths) == 4 and all(isinstance(p, Scanpath) for p in paths)
    for p in paths:
        assert len(p) == 3 and np.all(p.duration > 0) and np.all(np.diff(p.t_onset) > 0)
        assert np.all((p.x >= 0) & (p.x < 128) & (p.y >= 0) & (p.y < 96))
        np.testing.assert_allclose(p.xy[0], [64, 48])  # first fixation: the centre
    again = small.sample(image, n=4, seed=3)
    for a, b in zip(paths, again):
        np.testing.assert_array_equal(a.xy, b.xy)
    other = small.sample(image, n=4, seed=4)
    assert any(not np.allclose(a.xy, b.xy) for a, b in zip(paths, other))


@pytest.mark.parametrize("corner", ["tl", "br"])
def test_free_viewing_finds_the_textured_patch(corner):
    model = NevaClipModel(**SEARCH)
    found = first_fixations(model, scene(corner))
    distance = np.linalg.norm(found - centre_of(corner), axis=1)
    far = np.linalg.norm(found - centre_of({"tl": "br", "br": "tl"}[corner]), axis=1)
    assert np.median(distance) < 30 and np.median(far) > 60, found


def test_memory_moves_the_next_fixation_to_the_other_patch():
    model = NevaClipModel(**{**SEARCH, "forgetting": 0.0})
    paths = model.sample(scene("tl", other="br"), n=6, seed=0)
    jumps = [np.linalg.norm(p.xy[1] - p.xy[0]) for p in paths]
    assert np.median(jumps) > 60, [p.xy for p in paths]


def test_search_target_objective_follows_the_target():
    image = scene("tl", vertical=True, other="br")  # vertical grating top-left, horizontal bottom-right
    # a global embedding (1 x 1 pooled grid) compares what is seen, not where; targets at the scene's scale
    model = NevaClipModel(**{**SEARCH, "objective": "target", "encoder_options": {"embed_grid": 1}})
    vertical, horizontal = grating(128, True)[:96], grating(128, False)[:96]
    for target, corner in [(vertical, "tl"), (horizontal, "br")]:
        found = first_fixations(model, image, task=target)
        assert np.median(np.linalg.norm(found - centre_of(corner), axis=1)) < 30, (corner, found)


def test_batched_sampler_equals_per_image_loop():
    model = NevaClipModel(**FAST)
    images = [scene("tl"), scene("br", other="tl"), scene("tr")]
    batched = model.sample_many(images, n=3, seeds=[5, 6, 7])
    for image, seed, paths in zip(images, [5, 6, 7], batched):
        for a, b in zip(paths, model.sample(image, n=3, seed=seed)):
            np.testing.assert_allclose(a.xy, b.xy, atol=1e-4)


def test_fit_resamples_lengths_and_durations(tmp_path):
    from cogmodels.datasets import DATASETS

    data = cogmodels.load_dataset("gaze_table", **DATASETS.example("gaze_table")(tmp_path))
    model = NevaClipModel(**FAST).fit(data.fixations, data.stimuli)
    lengths = set(data.fixations.table.groupby(["stimulus_id", "subject", "trial"]).size())
    durations = set(data.fixations.table["duration"])
    for p in model.sample(data.stimuli[0], n=4, seed=0):
        assert len(p) in lengths and set(p.duration) <= durations


def test_feature_foveation_tracks_pixel_foveation():
    image = scene("tl", other="br")
    fast = NevaClipModel(**FAST).landscape(image, grid=(6, 8))
    exact = NevaClipModel(**{**FAST, "feature_foveation": False}).landscape(image, grid=(6, 8))
    assert np.corrcoef(fast.ravel(), exact.ravel())[0, 1] > 0.9
    assert np.unravel_index(fast.argmin(), fast.shape) == np.unravel_index(exact.argmin(), exact.shape)


def test_density_is_a_map_peaking_on_the_texture():
    model = NevaClipModel(**{**FAST, "density_grid": (6, 8)})
    density = model.density(scene("br"))
    assert density.shape == (96, 128) and np.isclose(density.sum(), 1) and (density > 0).all()
    assert density[48:, 64:].sum() > density[:48, :64].sum()


def test_eccentricity_blur_runs_with_the_display_geometry():
    model = NevaClipModel(**{**FAST, "blur": "eccentricity", "px_per_deg": 30.0, "steps": 2})
    assert len(model.sample(scene("tl"), n=2, seed=0)) == 2
    with pytest.raises(ConfigError, match="px_per_deg"):
        NevaClipModel(**{**FAST, "blur": "eccentricity"}).sample(scene("tl"), n=1)


def test_caption_without_a_text_tower_names_the_local_file_option():
    with pytest.raises(WeightsUnavailableError, match="weights="):
        NevaClipModel(objective="caption").validate_params()
    with pytest.raises(WeightsUnavailableError, match="weights="):
        NevaClipModel(objective="caption", encoder="open_clip:RN50", caption="a dog").sample(scene("tl"), n=1)


@pytest.mark.parametrize("param, value", [("fovea_sigma", 0.0), ("fovea_sigma", -0.1), ("steps", 0),
                                          ("objective", "memorise"), ("forgetting", 1.5), ("blur", "box")])
def test_bad_parameters_are_config_errors(param, value):
    with pytest.raises(ConfigError, match=param.replace("fovea_sigma", "fovea")):
        NevaClipModel(**{param: value}).validate_params()


def test_grey_is_converted_with_a_note_and_transparent_rgba_rejected(caplog):
    model = NevaClipModel(**{**FAST, "steps": 1, "n_fixations": 2})
    grey = scene("tl")[..., 0]
    with caplog.at_level(logging.WARNING, logger="cogmodels.scanpaths.nevaclip"):
        paths = model.sample(grey, n=1, seed=0)
    assert "grey" in caplog.text and len(paths) == 1
    rgba = np.concatenate([scene("tl"), np.full((96, 128, 1), 255, np.uint8)], axis=2)
    assert len(model.sample(rgba, n=1, seed=0)) == 1
    rgba[0, 0, 3] = 0
    with pytest.raises(ShapeError, match="convert\\('RGB'\\)"):
        model.sample(rgba, n=1)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    pytest.importorskip("open_clip")
    return NevaClipModel(**{**FAST, "objective": "caption", "encoder": "open_clip:tiny", "caption": "a grating",
                            "encoder_options": {"config": TINY_CLIP}, "steps": 2})


def test_open_clip_caption_objective_with_a_tiny_random_model(tiny_clip):
    paths = tiny_clip.sample(scene("tl"), n=2, seed=0)
    assert len(paths) == 2 and paths[0].task == "caption" and len(paths[0]) == 3
    assert "random initialisation" in tiny_clip._encoder.description
    # the caption changes the objective
    a = tiny_clip.landscape(scene("tl"), grid=(3, 3), task="a grating")
    b = tiny_clip.landscape(scene("tl"), grid=(3, 3), task="an elephant in the snow")
    assert not np.allclose(a, b)


def test_open_clip_weights_from_a_local_file(tiny_clip, tmp_path):
    import torch

    path = tmp_path / "tiny.pt"
    torch.save(tiny_clip._get_encoder().model.state_dict(), path)
    loaded = NevaClipModel(**{**FAST, "objective": "free_view", "encoder": "open_clip:tiny", "weights": str(path),
                              "encoder_options": {"config": TINY_CLIP}, "seed": 99})
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(loaded._get_encoder().encode_image(x), tiny_clip._get_encoder().encode_image(x))
    assert "sha256" in loaded._encoder.description
