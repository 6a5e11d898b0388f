"""GaborBackbone: the bank is V1-like (orientation and frequency tuned, phase-invariant energy)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cogmodels
from cogmodels.backbones.gabor import GaborBackbone, gabor_kernel, sigma_from_bandwidth
from cogmodels.errors import ConfigError

SIZE = 64


def grating(orientation, wavelength, phase=0.0, size=SIZE, contrast=0.5):
    """uint8 RGB sinusoidal grating; the wave vector points along ``orientation`` (x right, y down)."""
    y, x = np.mgrid[0:size, 0:size]
    wave = np.cos(2 * np.pi * (x * np.cos(orientation) + y * np.sin(orientation)) / wavelength + phase)
    luminance = 0.5 + contrast * 0.5 * wave
    return np.repeat((255 * luminance).round().astype(np.uint8)[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def bank():
    return GaborBackbone(image_size=SIZE, pool=8, scales=(4.0, 8.0, 16.0))


def _complex_energy(bank, images):
    """Mean complex-cell energy per channel, shape (n_images, n_channels); border cells excluded."""
    values = bank.extract_batch(images, ["complex"])["complex"].values
    return values[:, :, 1:-1, 1:-1].mean(axis=(2, 3))


def test_layer_shapes_and_channel_table(bank):
    features = bank.extract_batch([grating(0, 8)] * 2, ["simple", "complex"])
    assert features["simple"].values.shape == (2, 3 * 8 * 2 * 2, SIZE, SIZE)
    assert features["complex"].values.shape == (2, 3 * 8, 8, 8)
    assert features["simple"].values.min() >= 0  # half-rectified
    for layer in ("simple", "complex"):
        table = bank.channel_table(layer)
        assert all(len(v) == features[layer].n_features for v in table.values())
    assert bank.layers == ["complex"] and bank.weights_hash == "fixed"


@pytest.mark.parametrize("offset_deg", [0.0, 7.0])
def test_orientation_selectivity(bank, offset_deg):
    table = bank.channel_table("complex")
    at_scale = np.flatnonzero(table["wavelength"] == 8.0)
    angles = bank.orientations + np.deg2rad(offset_deg)
    energy = _complex_energy(bank, [grating(a, 8.0) for a in angles])
    preferred = table["orientation"][at_scale[energy[:, at_scale].argmax(axis=1)]]
    np.testing.assert_allclose(preferred, bank.orientations)
    # Tuning, not just a winner: the orthogonal channel responds far less.
    best, orthogonal = energy[0, at_scale[0]], energy[0, at_scale[len(at_scale) // 2]]
    assert orthogonal < 0.1 * best


def test_spatial_frequency_selectivity(bank):
    table = bank.channel_table("complex")
    vertical = np.flatnonzero(table["orientation"] == 0.0)
    wavelengths = np.array(bank.scales)
    energy = _complex_energy(bank, [grating(0.0, w) for w in wavelengths])
    preferred = table["wavelength"][vertical[energy[:, vertical].argmax(axis=1)]]
    np.testing.assert_array_equal(preferred, wavelengths)


def test_complex_cells_are_phase_invariant_and_simple_cells_are_not(bank):
    phases = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    images = [grating(0.0, 8.0, phase=p) for p in phases]
    features = bank.extract_batch(images, ["simple", "complex"])
    table = bank.channel_table("simple")
    channel = np.flatnonzero((table["wavelength"] == 8.0) & (table["orientation"] == 0.0))[0]
    simple = features["simple"].values[:, channel, SIZE // 2, SIZE // 2]
    complex_energy = features["complex"].values[:, 8, 4, 4]  # scale 8, orientation 0
    assert complex_energy.std() / complex_energy.mean() < 0.05
    assert simple.std() / simple.mean() > 0.5


def test_uniform_image_gives_no_response(bank):
    grey = np.full((SIZE, SIZE, 3), 128, dtype=np.uint8)
    assert np.abs(bank.extract_batch([grey], ["simple", "complex"])["complex"].values).max() < 1e-4


@pytest.mark.parametrize("wavelength", [4.0, 8.0, 16.0])
def test_energy_is_in_contrast_units(bank, wavelength):
    table = bank.channel_table("complex")
    angle = bank.orientations[3]
    channel = np.flatnonzero((table["wavelength"] == wavelength) & (table["orientation"] == angle))[0]
    for contrast, phase in [(1.0, 0.0), (0.5, 1.0), (0.2, 2.5)]:
        values = bank.extract_batch([grating(angle, wavelength, phase, contrast=contrast)], ["complex"])["complex"]
        assert values.values[0, channel, 2:-2, 2:-2].mean() == pytest.approx(contrast, rel=0.05)


def test_pyramid_agrees_with_direct_filtering():
    # Wavelength 16 is filtered at a quarter of the resolution; its energy map must match
    # direct full-resolution filtering with the same Gabor (up to the calibrated gain).
    bank = GaborBackbone(image_size=SIZE, pool=8, scales=(16.0,), n_orientations=4)
    rng = np.random.default_rng(3)
    noise = torch.tensor(rng.normal(size=(1, 1, SIZE, SIZE)), dtype=torch.float32)
    smooth = F.avg_pool2d(F.pad(noise, (2, 2, 2, 2), mode="circular"), 5, stride=1)
    image = ((smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255).round()[0, 0].numpy().astype(np.uint8)
    pyramid = bank.extract_batch([np.repeat(image[..., None], 3, axis=2)], ["complex"])["complex"].values[0]
    luminance = torch.tensor(image / 255.0, dtype=torch.float32)[None, None]
    kernels = np.stack([gabor_kernel(16.0, t, p) for t in bank.orientations for p in bank.phases])
    kernels = torch.tensor(kernels[:, None], dtype=torch.float32)
    pad = kernels.shape[-1] // 2
    responses = F.conv2d(F.pad(luminance, (pad,) * 4, mode="reflect"), kernels).view(1, 4, 2, SIZE, SIZE)
    direct = F.adaptive_avg_pool2d(responses.square().sum(2).sqrt(), 8)[0].numpy()
    inner = (slice(None), slice(1, -1), slice(1, -1))
    r = np.corrcoef(pyramid[inner].ravel(), direct[inner].ravel())[0, 1]
    assert r > 0.95


def test_kernel_is_zero_mean_unit_norm():
    kernel = gabor_kernel(6.0, 0.3, 0.0, bandwidth=1.0)
    assert abs(kernel.sum()) < 1e-10 and np.linalg.norm(kernel) == pytest.approx(1.0)
    assert sigma_from_bandwidth(1.0, 1.0) == pytest.approx(0.56, abs=0.01)


def test_fingerprint_includes_the_filter_bank():
    base = GaborBackbone()
    assert base.fingerprint("complex") == GaborBackbone().fingerprint("complex")
    for change in ({"n_orientations": 4}, {"scales": (4.0, 8.0)}, {"phases": (0.0,)}, {"pool": 8},
                   {"bandwidth": 1.5}, {"image_size": 96}):
        assert GaborBackbone(**change).fingerprint("complex") != base.fingerprint("complex"), change


def test_bad_configuration_is_a_config_error():
    with pytest.raises(ConfigError, match="weights"):
        cogmodels.create_backbone("gabor", weights="imagenet")
    with pytest.raises(ConfigError, match="layers"):
        GaborBackbone(layers=["v4"])
    with pytest.raises(ConfigError, match="scales"):
        GaborBackbone(scales=(1.0, 8.0))
    with pytest.raises(ConfigError, match="n_orientations"):
        GaborBackbone(n_orientations=2.5)
    with pytest.raises(ConfigError, match="pool"):
        GaborBackbone(image_size=32, pool=64)


def test_a_batch_of_64_images_in_one_pass():
    # The speed target (well under a second) is checked by eye in benchmarks; here only the shapes.
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(64)]
    features = GaborBackbone().extract(images, batch_size=64, progress=False)
    assert features["complex"].values.shape == (64, 24, 16, 16)
    assert math.isfinite(float(features["complex"].values.sum()))
