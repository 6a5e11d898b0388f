"""Foveation (Geisler & Perry 1998): sharp at the fixation, low-passed in the periphery."""

import numpy as np
import pytest
import torch

from cogmodels.backbones.foveation import (blur_level_map, cutoff_frequency, default_n_levels, foveate,
                                           gaussian_pyramid)
from cogmodels.errors import ConfigError, ShapeError

# A dense display and a steep falloff make a small test image span several pyramid levels.
OPTIONS = dict(px_per_deg=40.0, e2=1.0)


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(0).integers(0, 256, size=(96, 128, 3), dtype=np.uint8)


def high_frequency_energy(image, rows, cols):
    """Mean squared difference between neighbouring pixels in a patch (a crude high-pass energy)."""
    patch = np.asarray(image, dtype=float)[rows, cols]
    return (np.diff(patch, axis=0) ** 2).mean() + (np.diff(patch, axis=1) ** 2).mean()


def test_cutoff_follows_the_published_model():
    assert cutoff_frequency(0.0) == pytest.approx(np.log(64) / 0.106)  # ~39 cycles/deg at the fovea
    assert cutoff_frequency(2.3) == pytest.approx(cutoff_frequency(0.0) / 2)  # halved at e2
    assert cutoff_frequency(20.0) < cutoff_frequency(5.0)


def test_fixated_region_is_unchanged(noise):
    out = foveate(noise, (64, 48), **OPTIONS)
    assert out.dtype == np.uint8 and out.shape == noise.shape
    level = blur_level_map(noise.shape[:2], torch.tensor([[64.0, 48.0]]), OPTIONS["px_per_deg"],
                           default_n_levels(96, 128), e2=OPTIONS["e2"])[0].numpy()
    sharp = level == 0
    assert sharp[48, 64] and 0 < sharp.sum() < sharp.size
    np.testing.assert_array_equal(out[sharp], noise[sharp])


def test_periphery_loses_high_frequencies(noise):
    out = foveate(noise, (64, 48), **OPTIONS)
    centre = (slice(40, 56), slice(56, 72))
    corner = (slice(0, 16), slice(0, 16))
    assert high_frequency_energy(out, *centre) == pytest.approx(high_frequency_energy(noise, *centre), rel=0.02)
    assert high_frequency_energy(out, *corner) < 0.4 * high_frequency_energy(noise, *corner)
    # Low frequencies survive: the mean luminance of the corner barely moves.
    assert abs(out[corner].mean() - noise[corner].mean()) < 5


def test_blur_grows_with_eccentricity():
    level = blur_level_map((1, 400), torch.tensor([[0.0, 0.0]]), 40.0, 6, e2=1.0)[0, 0].numpy()
    assert np.all(np.diff(level) >= 0) and level[0] == 0 and level[-1] > 2


def test_moving_the_fixation_moves_the_sharp_region(noise):
    corner = (slice(0, 16), slice(0, 16))
    at_corner = foveate(noise, (8, 8), **OPTIONS)
    at_centre = foveate(noise, (64, 48), **OPTIONS)
    assert high_frequency_energy(at_corner, *corner) > 2 * high_frequency_energy(at_centre, *corner)


def test_several_fixations_on_one_image(noise):
    fixations = np.array([[10.0, 10.0], [100.0, 70.0]])
    batch = foveate(noise, fixations, **OPTIONS)
    assert batch.shape == (2, *noise.shape)
    for out, fixation in zip(batch, fixations):
        np.testing.assert_array_equal(out, foveate(noise, fixation, **OPTIONS))


def test_torch_path_is_differentiable_in_the_fixation():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 48, 48, dtype=torch.float64)
    weights = torch.rand(1, 3, 48, 48, dtype=torch.float64)
    fixation = torch.tensor([[14.3, 30.6]], dtype=torch.float64, requires_grad=True)

    def objective(fix):
        return (foveate(image, fix, **OPTIONS) * weights).sum()

    objective(fixation).backward()
    assert torch.isfinite(fixation.grad).all() and fixation.grad.abs().sum() > 0
    step = 1e-4
    for axis in range(2):
        shift = torch.zeros_like(fixation)
        shift[0, axis] = step
        numeric = (objective(fixation.detach() + shift) - objective(fixation.detach() - shift)) / (2 * step)
        assert fixation.grad[0, axis].item() == pytest.approx(numeric.item(), rel=1e-3, abs=1e-8)


def test_pyramid_levels_are_progressively_smoother():
    image = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    levels = gaussian_pyramid(image, 4)
    energies = [high_frequency_energy(level[0, 0].numpy(), slice(None), slice(None)) for level in levels]
    assert len(levels) == 4 and all(level.shape == image.shape for level in levels)
    assert all(a > b for a, b in zip(energies, energies[1:]))


def test_bad_input():
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ConfigError, match="px_per_deg"):
        foveate(image, (4, 4), px_per_deg=0)
    with pytest.raises(ShapeError, match="fixation_xy"):
        foveate(image, (1, 2, 3))
    with pytest.raises(ShapeError, match="image"):
        foveate(np.zeros((8, 8), dtype=np.uint8), (4, 4))
