"""Quickstart simulator: a small fMRI-like study with known ground truth.

Images are procedurally drawn (oriented gratings, bars and blobs on
graded backgrounds).  Each simulated voxel is a noisy linear function of the
Gabor "complex" features (:class:`cogmodels.backbones.gabor.GaborBackbone`):
a population receptive field (Gaussian on the feature grid, truncated so the
weights are sparse) times a few orientation/scale channels.  Voxels belong to
three ROIs by where their receptive fields lie: ``left_field``, ``central``
and ``right_field``.  The noise-free signal of each voxel is z-scored over
stimuli and Gaussian noise is added with a per-voxel sd chosen so the true
ceiling r (the correlation of the noisy response with its noise-free signal,
the best any model can reach) is spread over ``ceiling_range``.

Because the encoder family that generated the data is the one being fitted, a
ridge encoder on Gabor features should approach the ceiling; the gap measures
what finite training data costs.  ``ground_truth`` holds the true weights,
noise-free responses and ceilings.  With ``root`` given, the generated data is
saved there and reloaded on the next call, so the Gabor bank runs once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from cogmodels import io as atomic
from cogmodels.data import BrainResponses, Dataset, DatasetCard, Stimuli, make_channel_table
from cogmodels.datasets import DATASETS
from cogmodels.errors import ConfigError, format_problem
from cogmodels.io import implementation_hash

log = logging.getLogger(__name__)

ROIS = ("left_field", "central", "right_field")
# Receptive-field centres of each ROI, as (x range, y range) in fractions of the image.
ROI_FIELDS = {"left_field": ((0.05, 0.4), (0.1, 0.9)), "central": ((0.35, 0.65), (0.35, 0.65)),
              "right_field": ((0.6, 0.95), (0.1, 0.9))}
ROI_HEMISPHERE = {"left_field": "rh", "central": "", "right_field": "lh"}  # visual field is contralateral

CARD = DatasetCard(
    name="quickstart_sim",
    source="simulated by cogmodels (datasets/quickstart_sim.py)",
    licence="MIT (generated data)",
    citation="none (synthetic data; Gabor energy model after Adelson & Bergen 1985)",
    expected_files=(),
    how_to_get="nothing to download: generated from the seed (cached under `root` when given)",
    simulated=True,
)


# -- images ---------------------------------------------------------------------
def _grating(canvas, grid_x, grid_y, rng) -> None:
    size = canvas.shape[0]
    cx, cy = rng.uniform(0.15, 0.85, 2) * size
    sigma = rng.uniform(0.08, 0.2) * size
    theta, wavelength, phase = rng.uniform(0, np.pi), rng.uniform(3.0, 16.0), rng.uniform(0, 2 * np.pi)
    contrast, colour = rng.uniform(0.3, 0.8), rng.uniform(0.3, 1.0, 3)
    window = np.exp(-((grid_x - cx) ** 2 + (grid_y - cy) ** 2) / (2 * sigma ** 2))
    wave = np.cos(2 * np.pi * ((grid_x - cx) * np.cos(theta) + (grid_y - cy) * np.sin(theta)) / wavelength + phase)
    canvas += 0.5 * contrast * (wave * window)[..., None] * colour


def _bar(canvas, grid_x, grid_y, rng) -> None:
    size = canvas.shape[0]
    cx, cy = rng.uniform(0.15, 0.85, 2) * size
    length, width = rng.uniform(0.2, 0.6) * size, rng.uniform(0.03, 0.1) * size
    theta, colour = rng.uniform(0, np.pi), rng.uniform(0, 1, 3)
    along = (grid_x - cx) * np.cos(theta) + (grid_y - cy) * np.sin(theta)
    across = -(grid_x - cx) * np.sin(theta) + (grid_y - cy) * np.cos(theta)
    # Soft edges (one pixel) so the bar is not aliased.
    alpha = np.clip(length / 2 - np.abs(along) + 0.5, 0, 1) * np.clip(width / 2 - np.abs(across) + 0.5, 0, 1)
    canvas[:] = canvas * (1 - alpha[..., None]) + alpha[..., None] * colour


def _blob(canvas, grid_x, grid_y, rng) -> None:
    size = canvas.shape[0]
    cx, cy = rng.uniform(0.1, 0.9, 2) * size
    sx, sy = rng.uniform(0.04, 0.15, 2) * size
    theta, colour = rng.uniform(0, np.pi), rng.uniform(0, 1, 3)
    u = (grid_x - cx) * np.cos(theta) + (grid_y - cy) * np.sin(theta)
    v = -(grid_x - cx) * np.sin(theta) + (grid_y - cy) * np.cos(theta)
    alpha = np.exp(-(u ** 2 / (2 * sx ** 2) + v ** 2 / (2 * sy ** 2)))
    canvas[:] = canvas * (1 - alpha[..., None]) + alpha[..., None] * colour


def draw_images(n_images: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Procedural images: 1-3 gratings, bars or blobs on a graded background.

    Returns
    -------
    list of n_images uint8 arrays of shape (size, size, 3)
    """
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float64)
    painters = (_grating, _bar, _blob)
    images = []
    for _ in range(n_images):
        base, direction = rng.uniform(0.2, 0.8, 3), rng.uniform(0, 2 * np.pi)
        ramp = ((grid_x * np.cos(direction) + grid_y * np.sin(direction)) / size - 0.5) * rng.uniform(0, 0.4)
        canvas = base + ramp[..., None] + rng.normal(0, 0.02, (size, size, 3))
        for _ in range(rng.integers(1, 4)):
            painters[rng.integers(len(painters))](canvas, grid_x, grid_y, rng)
        images.append(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    return images


# -- voxels ---------------------------------------------------------------------
def draw_voxel_weights(n_channels: int, feature_shape: tuple, rng: np.random.Generator,
                       channels_per_voxel: int = 4, rf_sigma: float = 1.5) -> dict:
    """Sparse encoding weights: a truncated Gaussian receptive field times a few feature channels.

    Parameters
    ----------
    n_channels : int
        Voxels, assigned to :data:`ROIS` in turn.
    feature_shape : (C, H, W)
        Shape of one stimulus's Gabor complex features.
    rng : numpy Generator
    channels_per_voxel : int
        Non-zero feature channels per voxel.
    rf_sigma : float
        Receptive-field sd in feature-grid cells.

    Returns
    -------
    dict with weights (C*H*W, n_channels) float64, roi_index (n_channels,) int,
    rf_center (n_channels, 2) as (x, y) in grid cells.
    """
    n_features, height, width = feature_shape
    rows, cols = np.mgrid[0:height, 0:width]
    roi_index = np.arange(n_channels) % len(ROIS)
    weights = np.zeros((n_features, height, width, n_channels))
    centers = np.zeros((n_channels, 2))
    for j in range(n_channels):
        (x0, x1), (y0, y1) = ROI_FIELDS[ROIS[roi_index[j]]]
        cx, cy = rng.uniform(x0, x1) * width - 0.5, rng.uniform(y0, y1) * height - 0.5
        rf = np.exp(-((cols - cx) ** 2 + (rows - cy) ** 2) / (2 * rf_sigma ** 2))
        rf[rf < 0.05] = 0.0  # truncate: sparse spatial support
        chosen = rng.choice(n_features, size=min(channels_per_voxel, n_features), replace=False)
        weights[chosen, :, :, j] = rng.normal(0, 1, chosen.size)[:, None, None] * rf
        centers[j] = cx, cy
    return {"weights": weights.reshape(-1, n_channels), "roi_index": roi_index, "rf_center": centers}


def _check_options(n_stimuli, n_channels, image_size, noise, ceiling_range, test_fraction) -> None:
    problems = [
        (n_stimuli >= 20, "n_stimuli", "at least 20", n_stimuli, "use n_stimuli=240"),
        (n_channels >= len(ROIS), "n_channels", f"at least {len(ROIS)} (one per ROI)", n_channels, "use 90"),
        (image_size >= 16, "image_size", "at least 16 pixels", image_size, "use 64"),
        (noise >= 0, "noise", "a non-negative noise scale", noise, "use 1.0"),
        (0 < ceiling_range[0] <= ceiling_range[1] <= 1, "ceiling_range", "0 < low <= high <= 1", ceiling_range,
         "use (0.3, 0.9)"),
        (0 < test_fraction < 1, "test_fraction", "a fraction in (0, 1)", test_fraction, "use 0.2"),
    ]
    for ok, field, expected, found, fix in problems:
        if not ok:
            raise ConfigError(format_problem(f"quickstart_sim {field}", expected, repr(found), fix))


def _simulate(n_stimuli, n_channels, image_size, noise, ceiling_range, test_fraction, seed, backbone) -> dict:
    rng = np.random.default_rng(seed)
    images = draw_images(n_stimuli, image_size, rng)
    ids = [f"qs{i:04d}" for i in range(n_stimuli)]
    fmap = backbone.extract(Stimuli.from_arrays(ids, images), ["complex"])["complex"]
    truth = draw_voxel_weights(n_channels, fmap.values.shape[1:], rng)
    signal = fmap.flatten().astype(np.float64) @ truth["weights"]
    signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)  # unit signal variance per voxel
    target = rng.uniform(*ceiling_range, n_channels)
    noise_sd = noise * np.sqrt(1.0 / target ** 2 - 1.0)
    responses = signal + rng.normal(0, 1, signal.shape) * noise_sd
    order = rng.permutation(n_stimuli)
    n_test = max(2, int(round(test_fraction * n_stimuli)))
    return {"ids": np.asarray(ids), "images": np.stack(images), "responses": responses.astype(np.float32),
            "signal": signal.astype(np.float32), "weights": truth["weights"].astype(np.float32),
            "roi_index": truth["roi_index"], "rf_center": truth["rf_center"], "noise_sd": noise_sd,
            "ceiling_r": 1.0 / np.sqrt(1.0 + noise_sd ** 2), "feature_shape": np.asarray(fmap.values.shape[1:]),
            "test": np.sort(order[:n_test]), "train": np.sort(order[n_test:])}


def _cached_simulation(root, params: dict, backbone) -> dict:
    # The key follows the parameters, this file and the feature code, so stale data is never reused.
    spec = {**params, "features": backbone.fingerprint("complex"), "feature_code": implementation_hash(backbone),
            "simulator_code": hashlib.sha1(Path(__file__).read_bytes()).hexdigest()}
    key = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(root) / f"quickstart_sim-{key}.npz" if root is not None else None
    stored = atomic.load_npz_checked(path) if path is not None else None  # None (and a warning) when damaged
    if stored is not None:
        log.info("quickstart_sim: loaded the simulated data from %s (no simulation, no backbone pass)", path)
        return stored
    log.info("quickstart_sim: simulating %d stimuli x %d voxels (seed %d)", params["n_stimuli"],
             params["n_channels"], params["seed"])
    data = _simulate(backbone=backbone, **params)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale_temps(path.parent)
        atomic.save_npz(path, data)  # atomic: a reader sees the whole file or none
    return data


def load(root=None, n_stimuli: int = 240, n_channels: int = 90, image_size: int = 64, noise: float = 1.0,
         ceiling_range=(0.3, 0.9), test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Simulate the quickstart study.

    Parameters
    ----------
    root : path, optional
        Folder to keep the generated data in (reused when the parameters match); None: keep nothing.
    n_stimuli : int
        Images (train + test).
    n_channels : int
        Voxels, split evenly over the ROIs left_field, central and right_field.
    image_size : int
        Side of the square images in pixels.
    noise : float
        Scale of the noise sd; 1.0 spreads the true ceiling r over ``ceiling_range``, 0.0 is noise-free.
    ceiling_range : (low, high)
        Range of the voxels' true ceiling r at noise=1.
    test_fraction : float
        Fraction of stimuli in the test split.
    seed : int
        Seeds images, weights, noise and splits.

    Returns
    -------
    Dataset
        ``responses`` (n_stimuli, n_channels) float32 with ROI labels; splits train/test;
        ``ground_truth`` with true_weights (n_features, n_channels), true_responses
        (n_stimuli, n_channels), ceiling_r (n_channels,), noise_sd (n_channels,),
        rf_center (n_channels, 2) in feature-grid cells and feature_shape (C, H, W).
    """
    from cogmodels.backbones import create as create_backbone

    ceiling_range = tuple(float(c) for c in ceiling_range)
    _check_options(n_stimuli, n_channels, image_size, noise, ceiling_range, test_fraction)
    params = {"n_stimuli": int(n_stimuli), "n_channels": int(n_channels), "image_size": int(image_size),
              "noise": float(noise), "ceiling_range": ceiling_range, "test_fraction": float(test_fraction),
              "seed": int(seed)}
    data = _cached_simulation(root, params, create_backbone("gabor", layers=["complex"]))
    ids = [str(i) for i in data["ids"]]
    rois = [ROIS[k] for k in data["roi_index"]]
    channels = make_channel_table(len(rois), rois=[(roi,) for roi in rois],
                                  hemisphere=[ROI_HEMISPHERE[roi] for roi in rois])
    responses = BrainResponses(responses=data["responses"], stimulus_ids=ids, channels=channels,
                               subject="sim-01", modality="fmri", meta={"simulated": True})
    ground_truth = {"true_weights": data["weights"], "true_responses": data["signal"],
                    "ceiling_r": data["ceiling_r"], "noise_sd": data["noise_sd"], "rf_center": data["rf_center"],
                    "feature_shape": tuple(int(s) for s in data["feature_shape"]), "features": "gabor/complex"}
    return Dataset(name="quickstart_sim", stimuli=Stimuli.from_arrays(ids, list(data["images"])), card=CARD,
                   responses=responses,
                   splits={"train": [ids[i] for i in data["train"]], "test": [ids[i] for i in data["test"]]},
                   ground_truth=ground_truth)


def write_example(root: Path) -> dict:
    """A small, fast configuration of the simulator (it reads no files; ``root`` keeps its generated data)."""
    return {"root": root, "n_stimuli": 24, "n_channels": 6, "image_size": 32}


DATASETS.register("quickstart_sim", load, example=write_example, description=__doc__)
