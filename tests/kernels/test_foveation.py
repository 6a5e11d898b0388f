"""The batched NeVA foveation agrees with the per-image reference loop and is differentiable in the fovea."""

import pytest
import torch

from cogmodels.errors import ConfigError, ShapeError
from cogmodels.kernels import foveation, foveation_reference as reference


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 12, 16, generator=gen, dtype=torch.float64)
    fovea = torch.rand(2, 3, 2, generator=gen, dtype=torch.float64) * 2 - 1
    memory = torch.rand(2, 3, 12, 16, generator=gen, dtype=torch.float64) * 0.5
    return images, fovea, memory


@pytest.mark.parametrize("with_memory", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_agrees_with_reference(data, with_memory, dtype):
    images, fovea, memory = (t.to(dtype) for t in data)
    memory = memory if with_memory else None
    ours = foveation.neva_foveate(images, fovea, 0.3, memory=memory, blur_sigma=2.0, blur_size=9)
    expected = reference.neva_foveate_reference(images, fovea, 0.3, memory=memory, blur_sigma=2.0, blur_size=9)
    assert ours.shape == (2, 3, 3, 12, 16)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
    # the fovea matters: a different position gives a different image
    moved = foveation.neva_foveate(images, fovea.flip(1), 0.3, memory=memory, blur_sigma=2.0, blur_size=9)
    assert (moved - ours).abs().max() > 1e-3


def test_original_blur_kernel_agrees_with_reference():
    image = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ours = foveation.gaussian_blur(image)  # 41 px, sigma 10: the original
    torch.testing.assert_close(ours[0], reference.gaussian_blur_reference(image[0]), atol=1e-6, rtol=0)
    assert foveation.gaussian_kernel1d(10.0, 41).shape == (41,)


def test_fovea_is_sharp_and_periphery_blurred(data):
    images, _, _ = data
    blurred = foveation.gaussian_blur(images, 2.0, 9)
    fovea = torch.tensor([[[-0.9, -0.9]]] * 2, dtype=torch.float64)
    out = foveation.neva_foveate(images, fovea, 0.2, blurred=blurred)[:, 0]
    # near the fovea (top-left pixel) the image is untouched; far away it is the blurred image
    torch.testing.assert_close(out[..., 0, 0], images[..., 0, 0], atol=0.05, rtol=0)
    torch.testing.assert_close(out[..., -1, -1], blurred[..., -1, -1], atol=1e-6, rtol=0)


def test_memory_keeps_past_fixations_sharp(data):
    images, _, _ = data
    far = torch.tensor([[[0.9, 0.9]]] * 2, dtype=torch.float64)
    past = torch.tensor([[[-0.9, -0.9]]] * 2, dtype=torch.float64)
    memory = foveation.update_memory(None, past, 12, 16, 0.2, forgetting=0.1)
    with_memory = foveation.neva_foveate(images, far, 0.2, memory=memory, blur_sigma=2.0, blur_size=9)
    without = foveation.neva_foveate(images, far, 0.2, blur_sigma=2.0, blur_size=9)
    corner = (slice(None), 0, slice(None), 0, 0)
    assert (with_memory[corner] - images[:, :, 0, 0]).abs().max() < (without[corner] - images[:, :, 0, 0]).abs().max()
    # forgetting decays it
    decayed = foveation.update_memory(memory, far, 12, 16, 0.2, forgetting=0.5)
    assert decayed[..., 0, 0].max() < memory[..., 0, 0].max()


def test_gradcheck_in_the_fovea_position(data):
    images, fovea, memory = (t[:, :, :6, :8] if t.ndim == 4 else t for t in data)  # small: fewer backward passes
    images, fovea, memory = images[:1, :2], fovea[:1, :2], memory[:1, :2]
    blurred = foveation.gaussian_blur(images, 2.0, 5)
    fovea = fovea.clone().requires_grad_(True)
    mem = memory * 0.2  # keep the mask away from its clip points

    def fn(f):
        return foveation.neva_foveate(images, f, 0.4, memory=mem, blurred=blurred)

    assert torch.autograd.gradcheck(fn, (fovea,), eps=1e-6, atol=1e-5)


def test_eccentricity_blur_is_differentiable_in_the_fovea():
    # a small e2 makes the blur grow within this tiny image (32 px at 20 px/deg: 1.6 deg)
    from functools import partial

    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    fovea = torch.tensor([[[0.1, -0.2], [0.5, 0.3]]], dtype=torch.float64, requires_grad=True)
    blurred = partial(foveation.eccentricity_blur, px_per_deg=20.0, e2=0.05)
    out = foveation.neva_foveate(images, fovea, 0.3, blurred=blurred(images, fovea))
    assert out.shape == (1, 2, 3, 32, 32)
    out.square().sum().backward()
    assert torch.isfinite(fovea.grad).all() and fovea.grad.abs().sum() > 0
    # the periphery of a fovea on the left is blurrier than its centre
    left = blurred(images, torch.tensor([[[-0.9, 0.0]]], dtype=torch.float64))[0, 0]
    err = (left - images[0]).abs().mean(0)
    assert err[14:18, -8:].mean() > 2 * err[14:18, :2].mean()
    # the model's option goes through the same op
    same = foveation.neva_foveate(images, fovea.detach(), 0.3, blur="eccentricity", px_per_deg=20.0)
    assert same.shape == out.shape


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan")])
def test_non_positive_fovea_sigma_is_a_config_error(data, sigma):
    images, fovea, _ = data
    with pytest.raises(ConfigError, match="fovea sigma"):
        foveation.neva_foveate(images, fovea, sigma)


def test_bad_shapes_say_what_was_expected(data):
    images, fovea, _ = data
    with pytest.raises(ShapeError, match=r"\(n=2, K, 2\)"):
        foveation.neva_foveate(images, fovea[0], 0.2)
    with pytest.raises(ShapeError, match="float tensor"):
        foveation.neva_foveate(images[0], fovea, 0.2)
    with pytest.raises(ConfigError, match="px_per_deg"):
        foveation.neva_foveate(images, fovea, 0.2, blur="eccentricity")
