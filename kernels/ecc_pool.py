"""Eccentricity-dependent average pooling through a summed-area table (one pass, O(H*W) memory).

:func:`ecc_avg_pool` gives every output pixel its own square window: output
pixel (i, j) is the TF/Keras ``AveragePooling2D(k, stride, padding="same")``
value with ``k = windows[i, j]``.  TF "same" pads ``max((out - 1) * stride + k
- size, 0)`` pixels per axis, the smaller half before, and does not count the
padding, so the window of output row i covers input rows
``[i * stride - pad_before(k), i * stride - pad_before(k) + k)`` clipped to the
map, and the average divides by the number of rows x columns inside the map.

Algorithm.  One summed-area table ``S[r, c] = sum(x[:r, :c])`` per channel
(two cumulative sums), then every output pixel reads the four corners of its
clipped window, ``(S[r1, c1] - S[r0, c1] - S[r1, c0] + S[r0, c0]) / area``.
The corners, signs and areas form one sparse (out_h * out_w, (H + 1) * (W + 1))
matrix with four entries per row, so gathering, differencing and dividing are
a single sparse-dense product with the channels-last table.  The cost is the
same whatever the windows: there is no loop over window sizes or rings (the
reference, :mod:`cogmodels.kernels.ecc_pool_reference`, pools the whole map
once per window size, at k^2 operations per output pixel).  Memory is the
table of one chunk of channels, (H + 1) * (W + 1) * ``channel_chunk`` float64
values, plus the sparse matrix (4 entries per output pixel): O(H * W).

Precision: float64 accumulation (the "compensated sums" option, with the
compensation done by the wider type).  A float32 table loses the low bits of
a window sum to the magnitude of the table at the window's corners: over a
340 x 340 x 256 map of activations that grow across the image the corners are
~1e5 times a window sum and the error reaches 1e-3 (the benchmark prints it).
We weighed the other two options: per-channel mean removal shrinks the table
only when partial sums stay near zero (a bright image half still grows them
linearly), so it gives no bound; float32 tiles with float64 tile offsets bound
the error by the tile size, but with activations of ~25 a tile of B x B pixels
still rounds at ulp(25 B^2), which is above 1e-5 for any B >= 4, and the
offsets need two more lookups per corner.  float64 is exact to ~1e-12 relative
for any practical map (2^53 / (H * W) headroom), and only the averages are
cast back to ``x.dtype``: the result is the exact average rounded once to
float32, closer to the truth than the float32 reference itself.  Speed comes
from the layout (cumulative sums over outer axes, vectorised over channels;
one sparse product instead of four gathers and three subtractions), not from
low precision.
"""

from __future__ import annotations

import math

import torch

from cogmodels.errors import ConfigError, ShapeError, format_problem

__all__ = ["ecc_avg_pool", "tf_same_padding", "window_bounds", "check_inputs"]

#: Channels per summed-area table; bounds peak memory at chunk * (H + 1) * (W + 1) * 8 bytes.
DEFAULT_CHANNEL_CHUNK = 32


def tf_same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TF/Keras "same" pooling along one axis of ``size`` pixels."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def window_bounds(size: int, windows: torch.Tensor, stride: int, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped [start, stop) input rows (axis 0) or columns (axis 1) of every output pixel's window.

    Parameters
    ----------
    size : int
        Map height (axis 0) or width (axis 1) in pixels.
    windows : int64 tensor of shape (out_h, out_w)
    stride : int
    axis : 0 or 1

    Returns
    -------
    start, stop : int64 tensors of shape (out_h, out_w), 0 <= start < stop <= size
    """
    out = windows.shape[axis]
    position = torch.arange(out, device=windows.device) * stride
    position = position[:, None] if axis == 0 else position[None, :]
    before = ((out - 1) * stride + windows - size).clamp(min=0) // 2
    start = position - before
    return start.clamp(0, size), (start + windows).clamp(0, size)


def check_inputs(x, windows, stride) -> torch.Tensor:
    """Validate the arguments of :func:`ecc_avg_pool`; returns ``windows`` as int64 on ``x``'s device."""
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
        found = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ShapeError(format_problem("ecc_avg_pool(x)", "a floating-point torch tensor of shape (n, C, H, W)",
                                        found, "pass torch.as_tensor(features, dtype=torch.float32)"))
    if x.ndim != 4 or min(x.shape) < 1:
        raise ShapeError(format_problem("ecc_avg_pool(x)", "shape (n, C, H, W) with every dimension >= 1",
                                        f"shape {tuple(x.shape)}", "add the batch/channel axes, e.g. x[None]"))
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ConfigError(format_problem("ecc_avg_pool(stride)", "an integer >= 1", repr(stride), "use stride=2"))
    if not isinstance(windows, torch.Tensor) or windows.dtype.is_floating_point or windows.dtype == torch.bool \
            or windows.is_complex():
        found = f"a {windows.dtype} tensor" if isinstance(windows, torch.Tensor) else type(windows).__name__
        raise ShapeError(format_problem("ecc_avg_pool(windows)", "an integer torch tensor of window sizes", found,
                                        "round the window sizes and pass windows.long()"))
    height, width = x.shape[-2:]
    expected = (math.ceil(height / stride), math.ceil(width / stride))
    if tuple(windows.shape) != expected:
        raise ShapeError(format_problem("ecc_avg_pool(windows)",
                                        f"shape {expected} (ceil(H / stride), ceil(W / stride)) for x of shape "
                                        f"{tuple(x.shape)} and stride {stride}", f"shape {tuple(windows.shape)}",
                                        "give one window size per output pixel"))
    if windows.numel() and int(windows.min()) < 1:
        raise ConfigError(format_problem("ecc_avg_pool(windows)", "window sizes >= 1",
                                         f"a minimum of {int(windows.min())}", "clip the window sizes at 1"))
    return windows.to(device=x.device, dtype=torch.int64)


def ecc_avg_pool(x: torch.Tensor, windows: torch.Tensor, stride: int = 2, *,
                 channel_chunk: int = DEFAULT_CHANNEL_CHUNK) -> torch.Tensor:
    """Average pooling with a window size per output pixel (TF "same" padding, padding not counted).

    Parameters
    ----------
    x : float tensor of shape (n, C, H, W)
    windows : integer tensor of shape (ceil(H / stride), ceil(W / stride))
        Window side of each output pixel (>= 1; windows larger than the map are clipped to it).
    stride : int
    channel_chunk : int
        Channels per summed-area table (peak memory ~ channel_chunk * (H + 1) * (W + 1) * 8 bytes).

    Returns
    -------
    tensor of shape (n, C, ceil(H / stride), ceil(W / stride)), dtype and device of ``x``

    Raises
    ------
    ShapeError
        ``x`` is not a 4-D float tensor, or ``windows`` is not an integer tensor of the output shape.
    ConfigError
        ``stride`` < 1 or a window < 1.
    """
    windows = check_inputs(x, windows, stride)
    n, channels, height, width = x.shape
    out_h, out_w = windows.shape
    row0, row1 = window_bounds(height, windows, stride, axis=0)
    col0, col1 = window_bounds(width, windows, stride, axis=1)
    area = ((row1 - row0) * (col1 - col0)).to(torch.float64).view(-1)
    n_out = out_h * out_w
    stride_row = width + 1  # flat index of table cell (r, c) is r * (W + 1) + c
    corners = torch.stack([row1 * stride_row + col1, row0 * stride_row + col1,
                           row1 * stride_row + col0, row0 * stride_row + col0]).view(4, -1)
    # One sparse (n_out, (H+1)(W+1)) matrix holds +-1/area at each output pixel's four corners: the gather,
    # the corner differences and the division are one sparse-dense product per chunk.
    signs = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64, device=x.device)[:, None]
    pixel = torch.arange(n_out, device=x.device).expand(4, n_out)
    box = torch.sparse_coo_tensor(torch.stack([pixel.reshape(-1), corners.reshape(-1)]),
                                  (signs / area).reshape(-1), (n_out, (height + 1) * stride_row),
                                  check_invariants=False).coalesce()
    out = torch.empty(n, channels, n_out, dtype=x.dtype, device=x.device)
    chunk = min(max(int(channel_chunk), 1), channels)
    # Channels-last table: both cumulative sums run over outer axes (vectorised over the channels), and
    # the product reads contiguous rows of channels.  Row 0 and column 0 stay zero.
    table = torch.empty(height + 1, width + 1, chunk, dtype=torch.float64, device=x.device)
    table[0].zero_()
    table[:, 0].zero_()
    for sample in range(n):
        for first in range(0, channels, chunk):
            size = min(chunk, channels - first)
            part = table if size == chunk else table[..., :size]
            part[1:, 1:] = x[sample, first:first + size].permute(1, 2, 0)
            part.cumsum_(0).cumsum_(1)
            flat = part.view(-1, size) if size == chunk else part.reshape(-1, size)
            out[sample, first:first + size] = torch.sparse.mm(box, flat).t().to(x.dtype)
    return out.view(n, channels, out_h, out_w)
