"""Readable reference of :func:`cogmodels.kernels.ecc_pool.ecc_avg_pool`: one ring mask per window size.

For every distinct window size ``k`` in ``windows`` the whole map is
average-pooled with a k x k window (TF "same" padding, padding not counted),
multiplied by the ring mask ``windows == k`` and added to the output.  This
is the merged-mask form of eccNET's pooling (Gupta et al. 2021): the original
builds one such mask per eccentricity ring, as a float32 constant of shape
(out, out, C), and pools the whole map once per ring.  Its cost grows with
the number of rings and with k^2; the summed-area-table kernel costs the same
whatever the windows.  The tests check that the two agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cogmodels.kernels.ecc_pool import check_inputs, tf_same_padding


def tf_same_avg_pool(x: torch.Tensor, window: int, stride: int = 2) -> torch.Tensor:
    """TF/Keras ``AveragePooling2D(window, stride, padding="same")``: padding is not counted.

    Parameters
    ----------
    x : float tensor of shape (n, C, H, W)
    window, stride : int

    Returns
    -------
    tensor of shape (n, C, ceil(H / stride), ceil(W / stride))
    """
    height, width = x.shape[-2:]
    top, bottom = tf_same_padding(height, window, stride)
    left, right = tf_same_padding(width, window, stride)
    if top == bottom == left == right == 0:  # every window inside the map: no padded copy, all counts k^2
        return F.avg_pool2d(x, window, stride)
    padded = F.pad(x, (left, right, top, bottom))
    sums = F.avg_pool2d(padded, window, stride, divisor_override=1)
    ones = F.pad(torch.ones(1, 1, height, width, dtype=x.dtype, device=x.device), (left, right, top, bottom))
    counts = F.avg_pool2d(ones, window, stride, divisor_override=1)
    return sums / counts


def ecc_avg_pool_reference(x: torch.Tensor, windows: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Same contract as :func:`cogmodels.kernels.ecc_pool.ecc_avg_pool`, one pooled map per window size."""
    windows = check_inputs(x, windows, stride)
    out = torch.zeros(*x.shape[:2], *windows.shape, dtype=x.dtype, device=x.device)
    for window in torch.unique(windows).tolist():
        ring = (windows == window).to(x.dtype)  # the ring mask of this window size, (out_h, out_w)
        out += tf_same_avg_pool(x, int(window), stride) * ring
    return out
