"""The generative model of the NSD-like simulator: ROIs, subjects' channels and noise-free responses.

See :mod:`cogmodels.datasets.nsd_sim` for the study as a whole.  Everything
here is a pure function of a seed, a subject and the generating features:

* :func:`subject_channels` -- a subject's channels (fsaverage5 vertices near
  each ROI's anchor, ROI labels) and their parameters (Gaussian receptive
  fields, feature weights mixed from a per-ROI basis shared by all subjects,
  category-presence amplitudes, noise jitter);
* :func:`noise_free_responses` -- fixed-RF responses for retinotopic channels,
  routed object features plus a presence term for category channels;
* :func:`control_params` -- the control study's parameters: category channels
  pool their features through fixed receptive fields too (no routing);
* :func:`trial_noise` -- the measurement noise of single trials: independent
  Gaussian, or heteroscedastic across stimuli and correlated across channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data.brain import make_channel_table
from cogmodels.datasets import nsd_sim_scenes as scenes
from cogmodels.errors import ConfigError, format_problem

SUBJECTS = ("subj01", "subj02", "subj03", "subj04")


@dataclass(frozen=True)
class RoiSpec:
    """One simulated ROI.

    anchor is an approximate MNI position (|x|, y, z) in mm of the ROI on the
    cortical surface; laterality scales the channel count per hemisphere.
    """

    name: str
    labels: tuple
    anchor: tuple
    category: str | None = None  # None: retinotopic
    rf_sigma: tuple = (0.0, 0.0)  # Gaussian RF sd range, fraction of the image width
    laterality: tuple = (1.0, 1.0)  # (lh, rh)


ROIS = (
    RoiSpec("V1", ("V1", "early"), (8, -92, 2), rf_sigma=(0.05, 0.08)),
    RoiSpec("V2", ("V2", "early"), (14, -90, 8), rf_sigma=(0.08, 0.12)),
    RoiSpec("V3", ("V3", "early"), (24, -88, 10), rf_sigma=(0.12, 0.18)),
    RoiSpec("FFA", ("FFA", "faces", "ventral"), (40, -52, -18), category="face", laterality=(0.8, 1.2)),
    RoiSpec("EBA", ("EBA", "bodies", "lateral"), (48, -72, 4), category="body"),
    RoiSpec("PPA", ("PPA", "places", "ventral"), (26, -44, -10), category="place"),
    RoiSpec("VWFA", ("VWFA", "words", "ventral"), (42, -56, -14), category="word", laterality=(1.3, 0.5)),
)
ROI_NAMES = tuple(r.name for r in ROIS)
# Category ROIs in the order of scenes.CATEGORIES (axis 1 of the routing maps).
CATEGORY_ROIS = tuple(next(r.name for r in ROIS if r.category == c) for c in scenes.CATEGORIES)
RETINOTOPIC_ROIS = tuple(r.name for r in ROIS if r.category is None)
N_BASIS = 3  # ROI-level feature basis vectors mixed by each channel
MODES = ("routing", "control")
NOISE_MODELS = ("iid", "heteroscedastic")
CONTROL_RF_CENTRE = (0.3, 0.7)  # control category RFs: centre (x and y) range, fraction of the image side
CONTROL_RF_SIGMA = (0.15, 0.3)  # and sd range (large, central receptive fields, as in high-level cortex)


def subject_index(subject: str) -> int:
    """1-based index of a simulated subject (seeds its channels and noise)."""
    if subject not in SUBJECTS:
        raise ConfigError(format_problem("nsd_sim option subject", f"one of {list(SUBJECTS)}", repr(subject),
                                         "see cogmodels.datasets.nsd_sim.list_subjects()"))
    return SUBJECTS.index(subject) + 1


def _roi_basis(seed: int, roi_index: int, n_features: int) -> np.ndarray:
    """The ROI's shared feature basis, shape (n_features, N_BASIS): the same for every subject."""
    rng = np.random.default_rng([seed, 100, roi_index])
    return rng.standard_normal((n_features, N_BASIS))


@lru_cache(maxsize=1)
def _fsaverage5() -> dict:
    """Pial vertex coordinates (mm) of fsaverage5 per hemisphere, arrays of shape (10242, 3).

    nilearn ships the mesh, so this works offline; the gifti files are read
    with nibabel directly because importing ``nilearn.datasets`` takes seconds.
    """
    import importlib.util

    import nibabel

    spec = importlib.util.find_spec("nilearn")
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "fsaverage5"
    files = {"lh": folder / "pial_left.gii.gz", "rh": folder / "pial_right.gii.gz"}
    if all(f.is_file() for f in files.values()):
        return {hemi: np.asarray(nibabel.load(f).agg_data("pointset"), dtype=float) for hemi, f in files.items()}
    from nilearn import datasets  # another nilearn layout: go through its API

    pial = datasets.load_fsaverage("fsaverage5")["pial"]
    return {"lh": np.asarray(pial.parts["left"].coordinates), "rh": np.asarray(pial.parts["right"].coordinates)}


def subject_channels(subject: str, seed: int, grid: tuple, n_features: int,
                     channels_per_roi: int = 16) -> tuple[pd.DataFrame, dict]:
    """The channels of one subject and their generative parameters (independent of the stimuli).

    Returns
    -------
    channels : DataFrame with id, hemisphere, rois, vertex (fsaverage5 index), x, y, z (mm)
    params : dict with per-channel arrays: roi (str), retinotopic (bool), weights
        (n_channels, n_features), rf (n_channels, 3) = (x, y, sigma) in image fractions
        (zero rows for category channels), amplitude (n_channels,; the category-presence
        term, 0 for retinotopic channels), noise_jitter (n_channels,)
    """
    rng = np.random.default_rng([seed, 200, subject_index(subject)])
    surfaces = _fsaverage5()
    rows, roi_of, weights, rfs, amplitudes = [], [], [], [], []
    for hemi_index, hemi in enumerate(("lh", "rh")):
        used: set = set()
        sign = -1.0 if hemi == "lh" else 1.0
        for roi_index, spec in enumerate(ROIS):
            n = max(2, int(round(channels_per_roi * spec.laterality[hemi_index] * rng.uniform(0.8, 1.2))))
            anchor = np.array([sign * spec.anchor[0], spec.anchor[1], spec.anchor[2]]) + rng.normal(0, 3, 3)
            vertices = _pick_vertices(surfaces[hemi], anchor, n, used, rng)
            basis = _roi_basis(seed, roi_index, n_features)
            mix = basis @ rng.standard_normal((N_BASIS, n))
            mix /= np.linalg.norm(mix, axis=0, keepdims=True)
            for j, vertex in enumerate(vertices):
                rows.append(dict(id=f"{hemi}-v{vertex:05d}", hemisphere=hemi, rois=spec.labels, vertex=int(vertex),
                                 x=surfaces[hemi][vertex, 0], y=surfaces[hemi][vertex, 1],
                                 z=surfaces[hemi][vertex, 2]))
                roi_of.append(spec.name)
                weights.append(mix[:, j])
                if spec.category is None:
                    # Left hemisphere sees the right visual field and vice versa.
                    x = rng.uniform(0.5, 0.97) if hemi == "lh" else rng.uniform(0.03, 0.5)
                    rfs.append((x, rng.uniform(0.03, 0.97), rng.uniform(*spec.rf_sigma)))
                    amplitudes.append(0.0)
                else:
                    rfs.append((0.0, 0.0, 0.0))
                    amplitudes.append(rng.uniform(1.0, 2.0))
    table = pd.DataFrame(rows)
    channels = make_channel_table(len(table), rois=table["rois"], hemisphere=table["hemisphere"],
                                  vertex=table["vertex"].to_numpy(), x=table["x"].to_numpy(),
                                  y=table["y"].to_numpy(), z=table["z"].to_numpy())
    channels["id"] = table["id"].to_numpy()
    roi_of = np.array(roi_of)
    params = dict(roi=roi_of, retinotopic=np.isin(roi_of, RETINOTOPIC_ROIS), weights=np.array(weights),
                  rf=np.array(rfs), amplitude=np.array(amplitudes), noise_jitter=np.exp(rng.normal(0, 0.3, len(table))))
    return channels, params


def _pick_vertices(coords: np.ndarray, anchor: np.ndarray, n: int, used: set, rng) -> np.ndarray:
    """n unused vertices among the 4n nearest to the anchor, nearest first."""
    order = np.argsort(np.linalg.norm(coords - anchor, axis=1))
    pool = [v for v in order[: 8 * n + len(used)] if v not in used][: 4 * n]
    chosen = np.sort(rng.choice(pool, size=n, replace=False))
    used.update(int(v) for v in chosen)
    return chosen


def receptive_fields(rf: np.ndarray, grid: tuple) -> np.ndarray:
    """Gaussian receptive fields on the feature grid, shape (n_channels, H, W), each summing to 1.

    Parameters
    ----------
    rf : array of shape (n_channels, 3)
        (x, y, sigma) as fractions of the image side; cell centres are at (i + 0.5) / H.
    """
    ys = (np.arange(grid[0]) + 0.5) / grid[0]
    xs = (np.arange(grid[1]) + 0.5) / grid[1]
    d2 = (xs[None, None, :] - rf[:, 0, None, None]) ** 2 + (ys[None, :, None] - rf[:, 1, None, None]) ** 2
    g = np.exp(-d2 / (2 * rf[:, 2, None, None] ** 2))
    return g / g.sum(axis=(1, 2), keepdims=True)


def routed_projections(features: np.ndarray, routing_maps: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Routed feature term of category channels: feature weights . features averaged over the object.

    Parameters
    ----------
    features : array of shape (n_stimuli, C, H, W)
    routing_maps : array of shape (n_stimuli, n_categories, H, W)
    params : dict from :func:`subject_channels`

    Returns
    -------
    projections : array of shape (n_stimuli, n_channels), zero for retinotopic channels
    present : bool array of shape (n_stimuli, n_channels), the channel's category is in the image
    """
    n_channels = len(params["roi"])
    projections = np.zeros((features.shape[0], n_channels))
    present = np.zeros((features.shape[0], n_channels), dtype=bool)
    fixed = _fixed_rf(params)
    for spec in ROIS:
        if spec.category is None:
            continue
        cols = np.flatnonzero((params["roi"] == spec.name) & ~fixed)
        if not cols.size:
            continue
        maps = routing_maps[:, scenes.CATEGORIES.index(spec.category)]
        n, c = features.shape[:2]
        # (n, C): each stimulus's features averaged over its object (a batched matrix product)
        routed = np.matmul(features.reshape(n, c, -1), maps.reshape(n, -1, 1))[..., 0]
        projections[:, cols] = routed @ params["weights"][cols].T
        present[:, cols] = (maps.sum(axis=(1, 2)) > 0)[:, None]
    return projections, present


def noise_free_responses(features: np.ndarray, routing_maps: np.ndarray, params: dict,
                         routed_scale: np.ndarray) -> np.ndarray:
    """The generative model, before noise and z-scoring.

    Parameters
    ----------
    features : array of shape (n_stimuli, C, H, W)
    routing_maps : array of shape (n_stimuli, n_categories, H, W)
    params : dict from :func:`subject_channels`
    routed_scale : array of shape (n_channels,)
        Divides the routed term of category channels (see :func:`routed_scale`).

    Returns
    -------
    array of shape (n_stimuli, n_channels)
    """
    n, c, h, w = features.shape
    projections, present = routed_projections(features, routing_maps, params)
    out = present * (params["amplitude"] + projections / routed_scale)
    retino = np.flatnonzero(_fixed_rf(params))
    if retino.size:
        rf = receptive_fields(params["rf"][retino], (h, w)).reshape(retino.size, h * w)
        pooled = (features.reshape(n * c, h * w) @ rf.T).reshape(n, c, retino.size)  # RF-pooled features
        out[:, retino] = np.einsum("nck,kc->nk", pooled, params["weights"][retino])
    return out


def _fixed_rf(params: dict) -> np.ndarray:
    """Channels whose response is a fixed receptive field (retinotopic ones; all of them in the control)."""
    return np.asarray(params.get("fixed_rf", params["retinotopic"]), dtype=bool)


def control_params(params: dict, subject: str, seed: int) -> dict:
    """The control study's parameters: every category channel pools its features through a fixed RF.

    Category channels keep their feature weights, ROI labels and noise jitter; their routed
    term and category-presence term are replaced by ``y = sum_{c,h,w} g[h, w] f[c] X[c, h, w]``
    with a large Gaussian RF ``g`` near the image centre (centres in ``CONTROL_RF_CENTRE``,
    sd in ``CONTROL_RF_SIGMA``), drawn from a stream of its own so that the routing study's
    parameters are unchanged.  No response then depends on image content through routing:
    a fixed-RF linear model explains every channel.
    """
    control = {key: np.array(value, copy=True) for key, value in params.items()}
    category = ~np.asarray(params["retinotopic"], dtype=bool)
    rng = np.random.default_rng([seed, 250, subject_index(subject)])
    n = int(category.sum())
    control["rf"][category] = np.column_stack([rng.uniform(*CONTROL_RF_CENTRE, n), rng.uniform(*CONTROL_RF_CENTRE, n),
                                               rng.uniform(*CONTROL_RF_SIGMA, n)])
    control["amplitude"][category] = 0.0
    control["fixed_rf"] = np.ones(len(category), dtype=bool)
    return control


def trial_noise(shape: tuple, sd: np.ndarray, groups: np.ndarray, rng: np.random.Generator, model: str = "iid",
                correlation: float = 0.5, gain_sd: float = 0.5) -> np.ndarray:
    """Measurement noise of single trials, shape (n_stimuli, n_repeats, n_channels).

    Parameters
    ----------
    shape : (n_stimuli, n_repeats, n_channels)
    sd : array of shape (n_channels,)
        Each channel's noise sd, averaged (in variance) over stimuli.
    groups : array of shape (n_channels,)
        Group of each channel (its ROI): channels of a group share a noise component.
    model : {"iid", "heteroscedastic"}
        ``"iid"``: independent Gaussian noise of sd ``sd``.  ``"heteroscedastic"``: the noise of
        stimulus i is scaled by a gain ``s_i`` (log-normal with log-sd ``gain_sd``, normalised so that
        the mean of ``s_i**2`` over the stimuli is 1), and within a group a share ``correlation`` of
        the noise variance is one component shared by all its channels (trial-wise), so noise is
        correlated across channels (pairwise correlation ``correlation``).  Both keep each channel's
        mean noise variance at ``sd**2``, so the true noise ceilings are the same as under ``"iid"``.
    """
    n, k, c = shape
    if model == "iid":
        return rng.standard_normal(shape) * sd
    independent = rng.standard_normal(shape)
    codes, group_index = np.unique(np.asarray(groups), return_inverse=True)
    shared = rng.standard_normal((n, k, len(codes)))[:, :, group_index]
    gain = np.exp(gain_sd * rng.standard_normal(n))
    gain /= np.sqrt(np.mean(gain ** 2))
    noise = np.sqrt(1.0 - correlation) * independent + np.sqrt(correlation) * shared
    return noise * gain[:, None, None] * sd


def routed_scale(features: np.ndarray, routing_maps: np.ndarray, params: dict) -> np.ndarray:
    """Sd of each category channel's routed term over the scenes containing its category (else 1).

    Computed on the fixed calibration scenes, so that it does not depend on the study size.

    Returns
    -------
    array of shape (n_channels,)
    """
    projections, present = routed_projections(features, routing_maps, params)
    scale = np.ones(projections.shape[1])
    for col in np.flatnonzero(present.any(axis=0)):
        scale[col] = projections[present[:, col], col].std()
    return scale
