"""A fixed V1-like Gabor filter bank: simple cells and energy-model complex cells.

The image is converted to luminance, resized to ``image_size`` x
``image_size`` (whole image, no crop) and filtered with Gabor functions at
``n_orientations`` orientations, a few spatial scales and a quadrature pair of
phases (Daugman 1985; Jones & Palmer 1987).

- ``"simple"``: half-rectified linear responses, ``relu(+r)`` and ``relu(-r)``
  for each filter phase (so phases phi and phi + pi), on the full
  ``image_size`` grid.  Shape (n_stimuli, n_scales * n_orientations *
  n_phases * 2, image_size, image_size).
- ``"complex"``: the energy model (Adelson & Bergen 1985), the square root of
  the summed squared responses of the quadrature phases, average-pooled to a
  coarse ``pool`` x ``pool`` grid.  Shape (n_stimuli, n_scales *
  n_orientations, pool, pool).

Channels are ordered scale-major, then orientation, then phase (then sign);
:meth:`GaborBackbone.channel_table` gives each channel's parameters.

Conventions: ``scales`` are carrier wavelengths in pixels of the resized
image; an orientation theta is the direction of the carrier's wave vector in
image coordinates (x right, y down), so theta = 0 is a vertical grating
(luminance varies along x).  The envelope is isotropic with a spatial-frequency
bandwidth of ``bandwidth`` octaves (sigma = 0.56 wavelength at 1 octave).
Coarse scales are filtered on an image pyramid (the image is downsampled so
the carrier is about :data:`BASE_WAVELENGTH` pixels), which keeps every kernel
small: 64 images of 128 x 128 take a fraction of a second on one CPU core.
Each filter is scaled so that a full-contrast grating at its preferred
wavelength and orientation gives a complex-cell energy of 1: responses are in
units of Michelson contrast and comparable across scales.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from cogmodels.backbones import BACKBONES
from cogmodels.backbones.base import Backbone, FeatureMap
from cogmodels.data.checks import check_image
from cogmodels.errors import ConfigError, format_problem

LAYERS = ("simple", "complex")
#: Wavelength (pixels) at which each pyramid level is filtered.
BASE_WAVELENGTH = 4.0
MIN_WAVELENGTH = 3.0  # shorter carriers alias on the pixel grid
_LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luma weights


def sigma_from_bandwidth(wavelength: float, bandwidth: float) -> float:
    """Gaussian envelope sigma (pixels) of a Gabor with a bandwidth in octaves."""
    ratio = math.sqrt(math.log(2) / 2) / math.pi * (2 ** bandwidth + 1) / (2 ** bandwidth - 1)
    return ratio * wavelength


def gabor_kernel(wavelength: float, orientation: float, phase: float, bandwidth: float = 1.0) -> np.ndarray:
    """One Gabor kernel with zero mean and unit L2 norm.

    Parameters
    ----------
    wavelength : float
        Carrier wavelength in pixels.
    orientation : float
        Direction of the carrier's wave vector, radians (x right, y down).
    phase : float
        Carrier phase, radians (0: even/cosine, pi/2: odd/sine).
    bandwidth : float
        Spatial-frequency bandwidth in octaves.

    Returns
    -------
    kernel : array of shape (2 * half + 1, 2 * half + 1), half = ceil(3 sigma)
    """
    sigma = sigma_from_bandwidth(wavelength, bandwidth)
    half = int(math.ceil(3 * sigma))
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    envelope = np.exp(-(x ** 2 + y ** 2) / (2 * sigma ** 2))
    carrier = np.cos(2 * np.pi * (x * np.cos(orientation) + y * np.sin(orientation)) / wavelength + phase)
    # Remove the DC under the envelope (not a flat offset) so uniform luminance gives no response.
    carrier -= (envelope * carrier).sum() / envelope.sum()
    kernel = envelope * carrier
    return kernel / np.linalg.norm(kernel)


@BACKBONES.register("gabor", example={"image_size": 32, "pool": 4},
                    description="Fixed V1-like Gabor filter bank (simple and energy-model complex cells); no weights")
class GaborBackbone(Backbone):
    """A fixed Gabor filter bank with "simple" and "complex" layers (see the module docstring).

    Parameters
    ----------
    layers : list of str, optional
        Subset of ("simple", "complex"); default ["complex"].
    weights : None or "fixed"
        The bank needs no weights; anything else raises ConfigError.
    seed : int
        Accepted for a uniform backbone API; the bank has no randomness.
    n_orientations : int
        Orientations evenly spaced over [0, pi).
    scales : sequence of float
        Carrier wavelengths in pixels of the resized image (>= 3).
    phases : sequence of float
        Filter phases in radians; (0, pi/2) is a quadrature pair.
    image_size : int
        Side of the square image the bank is applied to.
    pool : int
        Side of the complex layer's grid (average pooling).
    bandwidth : float
        Spatial-frequency bandwidth of the filters, octaves.
    device : str
        Torch device.
    """

    name = "gabor"

    def __init__(self, layers=None, weights=None, seed: int = 0, n_orientations: int = 8,
                 scales=(4.0, 8.0, 16.0), phases=(0.0, math.pi / 2), image_size: int = 128, pool: int = 16,
                 bandwidth: float = 1.0, device: str = "cpu"):
        if weights not in (None, "fixed"):
            raise ConfigError(format_problem("backbone.weights (gabor)", "None or 'fixed' (the filter bank is fixed)",
                                             repr(weights), "drop backbone.weights for the gabor backbone"))
        self.n_orientations = _check_int(n_orientations, "n_orientations", 1)
        self.scales = tuple(float(s) for s in np.atleast_1d(scales))
        if not self.scales or min(self.scales) < MIN_WAVELENGTH or max(self.scales) > image_size:
            raise ConfigError(format_problem("backbone.scales (gabor)",
                                             f"wavelengths in pixels between {MIN_WAVELENGTH} and image_size",
                                             repr(scales), "pass e.g. scales=(4, 8, 16)"))
        self.phases = tuple(float(p) for p in np.atleast_1d(phases))
        self.image_size = _check_int(image_size, "image_size", 16)
        self.pool = _check_int(pool, "pool", 1)
        if self.pool > self.image_size:
            raise ConfigError(format_problem("backbone.pool (gabor)", f"at most image_size={self.image_size}",
                                             repr(pool), "use a coarser pooled grid, e.g. pool=16"))
        if not bandwidth > 0:
            raise ConfigError(format_problem("backbone.bandwidth (gabor)", "a positive bandwidth in octaves",
                                             repr(bandwidth), "use bandwidth=1.0"))
        self.bandwidth = float(bandwidth)
        self.seed = int(seed)
        self.device = torch.device(device)
        self.weights_hash = "fixed"
        self.preprocessing = {"input_size": [self.image_size, self.image_size], "colour": "Rec.601 luma in [0, 1]",
                              "resize": "whole image, bilinear with antialiasing", "crop": "none"}
        self.architecture = {"filter_bank": "gabor", "n_orientations": self.n_orientations, "scales": list(self.scales),
                             "phases": list(self.phases), "bandwidth": self.bandwidth, "pool": self.pool,
                             "base_wavelength": BASE_WAVELENGTH}
        self.orientations = np.arange(self.n_orientations) * np.pi / self.n_orientations
        self._levels = [self._build_level(wavelength) for wavelength in self.scales]
        self.layers = self._check_layers(layers if layers is not None else ["complex"])

    def _build_level(self, wavelength: float) -> tuple[int, torch.Tensor]:
        """Pyramid size for one scale, and its calibrated kernels (at the wavelength they have on that level).

        Returns
        -------
        size : int
        weight : tensor of shape (n_orientations * n_phases, 1, K, K)
        """
        size = self.image_size
        if wavelength > BASE_WAVELENGTH:
            size = max(int(round(self.image_size * BASE_WAVELENGTH / wavelength)), 4)
        level_wavelength = wavelength * size / self.image_size
        kernels = [gabor_kernel(level_wavelength, theta, phase, self.bandwidth)
                   for theta in self.orientations for phase in self.phases]
        weight = torch.from_numpy(np.stack(kernels)[:, None]).float()
        return size, (weight / self._grating_gain(wavelength, size, weight)).to(self.device)

    def _grating_gain(self, wavelength: float, size: int, weight: torch.Tensor) -> torch.Tensor:
        """Energy of each orientation for a full-contrast grating at its preferred wavelength and orientation.

        Dividing by it puts every scale in the same unit (Michelson contrast) whatever
        the level's downsampling did to the amplitude.  Shape (n_orientations * n_phases, 1, 1, 1).
        """
        y, x = np.mgrid[0:self.image_size, 0:self.image_size]
        gratings = [0.5 + 0.5 * np.cos(2 * np.pi * (x * np.cos(t) + y * np.sin(t)) / wavelength)
                    for t in self.orientations]
        luminance = torch.from_numpy(np.stack(gratings)[:, None]).float()
        energy = _energy(_filter(_resize(luminance, size), weight), len(self.phases))
        inner = slice(size // 4, size - size // 4)  # away from the borders
        gain = energy[:, :, inner, inner].mean(dim=(2, 3)).diagonal()  # grating t on channel t
        return gain.repeat_interleave(len(self.phases)).view(-1, 1, 1, 1)

    # -- layers ---------------------------------------------------------------
    def available_layers(self) -> list[str]:
        return list(LAYERS)

    def _check_layers(self, layers) -> list[str]:
        layers = [layers] if isinstance(layers, str) else list(layers)
        unknown = [layer for layer in layers if layer not in LAYERS]
        if unknown:
            raise ConfigError(format_problem("backbone.layers (gabor)", f"a subset of {list(LAYERS)}",
                                             repr(unknown), "use layers=['complex'] or ['simple', 'complex']"))
        return layers

    def channel_table(self, layer: str) -> dict[str, np.ndarray]:
        """Parameters of each channel of ``layer``, in channel order.

        Returns
        -------
        dict with "wavelength" (pixels), "orientation" (radians) and, for
        "simple", "phase" (radians, the filter phase plus pi for the off half):
        arrays of shape (n_channels,).
        """
        self._check_layers([layer])
        if layer == "complex":
            grid = np.meshgrid(self.scales, self.orientations, indexing="ij")
            return {"wavelength": grid[0].ravel(), "orientation": grid[1].ravel()}
        grid = np.meshgrid(self.scales, self.orientations, self.phases, [0.0, np.pi], indexing="ij")
        return {"wavelength": grid[0].ravel(), "orientation": grid[1].ravel(),
                "phase": np.mod(grid[2] + grid[3], 2 * np.pi).ravel()}

    # -- features -------------------------------------------------------------
    def preprocess(self, images) -> torch.Tensor:
        """Luminance of uint8 (H, W, 3) images, resized: shape (n, 1, image_size, image_size)."""
        return luminance_images(images, self.image_size).to(self.device)

    def extract_batch(self, images, layers) -> dict[str, FeatureMap]:
        """Features of a batch of uint8 (H, W, 3) images; shapes in the module docstring."""
        layers = self._check_layers(layers)
        x = self.preprocess(images)
        n_phases = len(self.phases)
        simple, complex_ = [], []
        with torch.inference_mode():
            for size, weight in self._levels:
                responses = _filter(_resize(x, size), weight)  # (n, n_orientations * n_phases, size, size)
                if "simple" in layers:
                    rectified = torch.stack([responses.relu(), (-responses).relu()], dim=2).flatten(1, 2)
                    simple.append(_resize(rectified, self.image_size))
                if "complex" in layers:
                    complex_.append(_pool(_energy(responses, n_phases), self.pool))
        out = {}
        if "simple" in layers:
            out["simple"] = FeatureMap(torch.cat(simple, 1).cpu().numpy(), "spatial")
        if "complex" in layers:
            out["complex"] = FeatureMap(torch.cat(complex_, 1).cpu().numpy(), "spatial")
        return {layer: out[layer] for layer in layers}


def _check_int(value, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or int(value) < minimum:
        raise ConfigError(format_problem(f"backbone.{field} (gabor)", f"an integer >= {minimum}", repr(value),
                                         f"set {field} to an integer >= {minimum}"))
    return int(value)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (n, c, h, w) to (n, c, size, size); antialiased when shrinking."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    shrink = size < x.shape[-1]
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=shrink, align_corners=False)


def _filter(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """'Same' convolution with reflected borders (replicated when the image is smaller than the kernel)."""
    pad = weight.shape[-1] // 2
    mode = "reflect" if pad < min(x.shape[-2:]) else "replicate"
    return F.conv2d(F.pad(x, (pad,) * 4, mode=mode), weight)


def _energy(responses: torch.Tensor, n_phases: int) -> torch.Tensor:
    """Phase-invariant energy: (n, n_orientations * n_phases, h, w) -> (n, n_orientations, h, w)."""
    n, channels, height, width = responses.shape
    by_phase = responses.view(n, channels // n_phases, n_phases, height, width)
    if n_phases == 2:  # the quadrature pair: hypot is one fused pass
        return torch.hypot(by_phase[:, :, 0], by_phase[:, :, 1])
    return by_phase.square().sum(2).sqrt()


def _pool(energy: torch.Tensor, grid: int) -> torch.Tensor:
    """Average-pool (n, c, h, w) to (n, c, grid, grid); interpolate when the map is smaller than the grid."""
    if energy.shape[-1] >= grid:
        return F.adaptive_avg_pool2d(energy, grid)
    return F.interpolate(energy, size=(grid, grid), mode="bilinear", align_corners=False)


def luminance_images(images, image_size: int) -> torch.Tensor:
    """Rec. 601 luminance in [0, 1] of uint8 (H, W, 3) images, each resized as a whole (antialiased bilinear,
    no crop): shape (n, 1, image_size, image_size).  The input stage of the gabor and pixels backbones."""
    luma = torch.tensor(_LUMA, dtype=torch.float32).view(3, 1, 1)
    batch = []
    for i, image in enumerate(images):
        image = check_image(image, f"images[{i}]")
        # A copy: images loaded from files may be read-only, which torch.from_numpy warns about.
        x = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float().div_(255.0)
        x = (x * luma).sum(0, keepdim=True)
        if x.shape[1:] != (image_size, image_size):
            x = F.interpolate(x[None], size=(image_size,) * 2, mode="bilinear", antialias=True,
                              align_corners=False)[0]
        batch.append(x)
    return torch.stack(batch)
