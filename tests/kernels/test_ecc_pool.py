"""The summed-area-table eccentricity pooling agrees with the ring-mask reference and with TF "same" pooling."""

import math

import numpy as np
import pytest
import torch

from cogmodels.errors import ConfigError, ShapeError
from cogmodels.kernels.ecc_pool import ecc_avg_pool, tf_same_padding
from cogmodels.kernels.ecc_pool_reference import ecc_avg_pool_reference, tf_same_avg_pool


def brute_force(x: np.ndarray, windows: np.ndarray, stride: int) -> np.ndarray:
    """Per-pixel loops straight from the TF definition: pad (total = max((out-1)*s + k - size, 0), the
    smaller half first), average over the window's pixels inside the map."""
    n, c, height, width = x.shape
    out = np.zeros((n, c) + windows.shape)
    for i in range(windows.shape[0]):
        for j in range(windows.shape[1]):
            k = int(windows[i, j])
            top = max((windows.shape[0] - 1) * stride + k - height, 0) // 2
            left = max((windows.shape[1] - 1) * stride + k - width, 0) // 2
            r0, c0 = i * stride - top, j * stride - left
            rows = [r for r in range(r0, r0 + k) if 0 <= r < height]
            cols = [q for q in range(c0, c0 + k) if 0 <= q < width]
            out[:, :, i, j] = x[:, :, rows][:, :, :, cols].mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("height,width,stride", [(7, 5, 2), (8, 8, 2), (9, 11, 1), (3, 3, 2), (1, 1, 2),
                                                 (10, 13, 3), (16, 9, 2)])
def test_kernel_reference_and_brute_force_agree(height, width, stride):
    generator = torch.Generator().manual_seed(height * 100 + width)
    x = torch.rand(2, 3, height, width, generator=generator) * 10
    out_shape = (math.ceil(height / stride), math.ceil(width / stride))
    windows = torch.randint(1, 2 * max(height, width) + 3, out_shape, generator=generator)  # some > the map
    ours = ecc_avg_pool(x, windows, stride)
    reference = ecc_avg_pool_reference(x, windows, stride)
    assert ours.shape == (2, 3) + out_shape and ours.dtype == x.dtype
    assert torch.allclose(ours, reference, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours.numpy(), brute_force(x.double().numpy(), windows.numpy(), stride), atol=1e-5)


def test_window_one_is_subsampling_and_huge_window_is_global_mean():
    x = torch.arange(2 * 7 * 9, dtype=torch.float32).view(1, 2, 7, 9)
    ones = torch.ones(4, 5, dtype=torch.int64)
    assert torch.equal(ecc_avg_pool(x, ones), x[:, :, ::2, ::2])
    huge = torch.full((4, 5), 100)
    expected = x.mean(dim=(2, 3), keepdim=True).expand(1, 2, 4, 5)
    assert torch.allclose(ecc_avg_pool(x, huge), expected, atol=1e-5)


def test_uniform_windows_match_tf_same_pooling_and_stride_one_keeps_size():
    x = torch.rand(1, 4, 11, 6, generator=torch.Generator().manual_seed(1))
    for k in (1, 2, 3, 4):
        windows = torch.full((6, 3), k)
        assert torch.allclose(ecc_avg_pool(x, windows), tf_same_avg_pool(x, k), atol=1e-6)
    assert ecc_avg_pool(x, torch.full((11, 6), 3), stride=1).shape == (1, 4, 11, 6)
    assert tf_same_padding(11, 3, 2) == (1, 1) and tf_same_padding(10, 3, 2) == (0, 1)


def test_precision_on_large_map_with_growing_partial_sums():
    """A float32 table would miss by ~1e-3 here; the kernel must stay within float32 rounding of float64."""
    generator = torch.Generator().manual_seed(3)
    side = 160
    ramp = torch.linspace(0, 1, side).view(1, 1, 1, side)
    x = torch.randn(1, 8, side, side, generator=generator).mul_(4).add_(8 * ramp).relu_()
    out = side // 2
    rows, cols = torch.meshgrid(torch.arange(out), torch.arange(out), indexing="ij")
    windows = 2 + ((rows - 40) ** 2 + (cols - 40) ** 2).float().sqrt().div(6).long()
    exact = ecc_avg_pool_reference(x.double(), windows)
    assert float((ecc_avg_pool(x, windows) - exact).abs().max()) < 2e-6
    assert torch.allclose(ecc_avg_pool(x.double(), windows), exact, atol=1e-12, rtol=0)


def test_channel_chunks_do_not_change_the_result():
    x = torch.rand(2, 5, 9, 9, generator=torch.Generator().manual_seed(4))
    windows = torch.randint(1, 6, (5, 5), generator=torch.Generator().manual_seed(5))
    full = ecc_avg_pool(x, windows, channel_chunk=64)
    for chunk in (1, 2, 3):
        assert torch.equal(ecc_avg_pool(x, windows, channel_chunk=chunk), full)


@pytest.mark.parametrize("x,windows,stride,error", [
    (torch.zeros(1, 1, 4, 4, dtype=torch.int64), torch.ones(2, 2, dtype=torch.int64), 2, ShapeError),
    (np.zeros((1, 1, 4, 4), dtype=np.float32), torch.ones(2, 2, dtype=torch.int64), 2, ShapeError),
    (torch.zeros(1, 4, 4), torch.ones(2, 2, dtype=torch.int64), 2, ShapeError),
    (torch.zeros(1, 1, 4, 4), torch.ones(2, 2), 2, ShapeError),
    (torch.zeros(1, 1, 4, 4), torch.ones(3, 2, dtype=torch.int64), 2, ShapeError),
    (torch.zeros(1, 1, 4, 4), torch.zeros(2, 2, dtype=torch.int64), 2, ConfigError),
    (torch.zeros(1, 1, 4, 4), torch.ones(2, 2, dtype=torch.int64), 0, ConfigError),
])
def test_bad_inputs_raise_typed_errors(x, windows, stride, error):
    with pytest.raises(error, match="ecc_avg_pool"):
        ecc_avg_pool(x, windows, stride)
    with pytest.raises(error, match="ecc_avg_pool"):
        ecc_avg_pool_reference(x, windows, stride)
