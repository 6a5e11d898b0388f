"""NSD-like simulated fMRI study with known ground truth.

The simulator mimics the structure of the Natural Scenes Dataset (Allen et al.
2022) at a small scale, so that brain encoders can be checked against a known
answer:

* **Shared images.** Every subject sees the same procedurally drawn scenes
  (:mod:`cogmodels.datasets.nsd_sim_scenes`): 1-3 face-, body-, place- or
  word-like objects on noise or gradient backgrounds.
* **Generating features.** The scenes go through a fixed backbone (by default
  the Gabor filter bank, layer ``"complex"``: a coarse grid of orientation x
  scale energies), standardised per feature channel with statistics of a
  fixed calibration set of scenes.
* **Retinotopic ROIs** (V1, V2, V3). A channel's response is a fixed Gaussian
  receptive field over the feature grid (size V1 < V2 < V3, contralateral
  visual field) times per-channel feature weights:
  ``y = sum_{c,h,w} g[h, w] f[c] X[c, h, w]``. A fixed-RF linear model can
  explain it entirely.
* **Category ROIs** (FFA faces, EBA bodies, PPA places, VWFA words). The
  response *routes* the features of wherever the ROI's category is in the
  image: ``y = present * (a + f . sum_{h,w} m[h, w] X[:, h, w] / s)`` with
  ``m`` the normalised visible mask of the category's objects on the feature
  grid (the true routing map), ``a`` a category-presence amplitude and ``s`` a
  fixed scale.  The map moves with the object, so no fixed spatial receptive
  field captures it.
* **Subjects** share the ROI "functions" (each ROI's feature weights are mixes
  of a few ROI-level basis vectors) and differ in their channels: counts,
  fsaverage5 vertices, receptive fields and mixing weights.
* **Noise.** Each stimulus is seen ``n_repeats`` times (3, as in NSD) with
  Gaussian noise whose sd is ``noise[roi]`` times the channel's signal sd (with
  a per-channel jitter).  Single trials are z-scored per channel as NSD betas
  are; ``responses`` is the mean over repeats and ``repeats`` holds the trials.
* **Control mode** (``mode="control"``): every category channel pools its
  features through a fixed, large, central Gaussian receptive field instead
  of routing (no presence term): ``y = sum_{c,h,w} g[h, w] f[c] X[c, h, w]``.
  Channels, feature weights, noise and true ceilings are those of the routing
  study; only the category channels' generative function changes.  An encoder
  whose advantage comes from routing must lose it here.
* **Noise models.** ``noise_model="iid"`` (default) as above;
  ``"heteroscedastic"``: the noise sd varies across stimuli (a log-normal
  gain, log-sd ``noise_gain_sd``) and a share ``noise_correlation`` of the
  noise variance is shared by the channels of an ROI (correlated noise).  Each
  channel's mean noise variance, hence its true ceiling, is unchanged.
* **True noise ceilings** use the NSD definition (Allen et al. 2022):
  ``NC = ncsnr**2 / (ncsnr**2 + 1/k)``, ``ncsnr = signal sd / noise sd`` with the
  true variances and ``k`` = repeats averaged, as a fraction (x100 for percent),
  the same definition as :func:`cogmodels.metrics.brain.noise_ceiling`.

The generating features are ``ground_truth["features"]`` (standardised with
``feature_mean`` / ``feature_sd``); ``cogmodels.create_backbone("gabor",
image_size=image_size)`` recomputes them from the stimuli (the Gabor bank's
default image_size of 128 would resample the scenes).

Example
-------
>>> ds = cogmodels.load_dataset("nsd_sim", subject="subj01")          # doctest: +SKIP
>>> ds.responses.responses.shape, ds.ground_truth["noise_ceiling"].shape  # doctest: +SKIP
>>> everyone = load_all(n_train=200, n_test=50)   # dict subject -> Dataset, images shared  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cogmodels.data import BrainResponses, Dataset, DatasetCard, Stimuli
from cogmodels.datasets import DATASETS
from cogmodels.datasets import nsd_sim_scenes as scenes
from cogmodels.datasets.nsd_sim_model import (  # noqa: F401  (re-exported: the model's public names)
    CATEGORY_ROIS, MODES, N_BASIS, NOISE_MODELS, RETINOTOPIC_ROIS, ROI_NAMES, ROIS, SUBJECTS, RoiSpec,
    control_params, noise_free_responses, receptive_fields, routed_projections, routed_scale, subject_channels,
    subject_index, trial_noise)
from cogmodels.errors import ConfigError, format_problem

logger = logging.getLogger(__name__)

N_CALIBRATION = 128  # scenes that fix feature standardisation and routed-term scales


CARD = DatasetCard(
    name="nsd_sim",
    source="built-in simulator (cogmodels.datasets.nsd_sim); no files",
    licence="MIT (generated data)",
    citation=("Simulates the structure of the Natural Scenes Dataset: Allen et al. (2022), Nature Neuroscience 25, "
              "116-126; noise ceiling definition from the same paper."),
    expected_files=(),
    how_to_get="nothing to download: cogmodels.load_dataset('nsd_sim', subject='subj01')",
    terms="",
    simulated=True,
)


def list_subjects() -> list[str]:
    """The simulated subjects."""
    return list(SUBJECTS)


def load(root=None, subject: str = "subj01", n_train: int = 1000, n_test: int = 200, image_size: int = 96,
         noise: float | dict = 1.0, n_repeats: int = 3, channels_per_roi: int = 16, seed: int = 0,
         backbone="gabor", layer: str = "complex", progress: bool = True, cache_dir=None, mode: str = "routing",
         noise_model: str = "iid", noise_correlation: float = 0.5, noise_gain_sd: float = 0.5,
         rois=None) -> Dataset:
    """Simulate one subject of the NSD-like study.

    Parameters
    ----------
    root : None
        Unused: the simulator reads no files.
    subject : str
        One of :func:`list_subjects`.
    n_train, n_test : int
        Number of training and test scenes (shared by all subjects).
    image_size : int
        Side of the square scenes in pixels.
    noise : float or dict of str -> float
        Noise sd relative to the signal sd, for every ROI or per ROI name
        (ROIs missing from the dict get 1.0).  0 gives noise-free repeats.
    n_repeats : int
        Presentations per stimulus (NSD: 3).
    channels_per_roi : int
        Mean number of channels per ROI and hemisphere (about 14 x this in all).
    seed : int
        Seed of the whole study: scenes, ROI functions, subjects' channels, noise.
    backbone : str or Backbone
        Backbone of the generating features (name for ``cogmodels.create_backbone``).
    layer : str
        Spatial layer of that backbone.
    progress : bool
        Show progress bars while drawing scenes and extracting features.
    cache_dir : path, optional
        A feature cache folder (:class:`cogmodels.io.FeatureCache`): the
        generating features are extracted once and memory-mapped from there
        afterwards.  Runs pass their own ``cache_dir``, so the simulator and the
        encoders share one entry and a second run does no backbone pass.
    mode : {"routing", "control"}
        ``"control"``: category channels pool through fixed receptive fields (no routing).
    noise_model : {"iid", "heteroscedastic"}
        Independent Gaussian trial noise, or noise whose sd varies across stimuli and that is
        correlated across the channels of an ROI (same mean noise variance, same true ceilings).
    noise_correlation : float in [0, 1)
        Heteroscedastic model: share of the noise variance common to an ROI's channels.
    noise_gain_sd : float >= 0
        Heteroscedastic model: log-sd of the per-stimulus noise gain.
    rois : list of str, optional
        Keep only the channels labelled with one of these ROIs (e.g. the category ROIs
        ``["FFA", "EBA", "PPA", "VWFA"]``).  The whole study is simulated first, so the kept
        channels have exactly the responses, noise and ground truth they have in the full study.

    Returns
    -------
    Dataset
        ``responses`` (BrainResponses; responses of shape (n_stimuli, n_channels)
        = mean over repeats, ``repeats`` of shape (n_stimuli, n_repeats,
        n_channels)), splits ``train`` / ``test``, and ``ground_truth`` (see
        :func:`simulate_subject`).
    """
    return load_all(root, subjects=[subject], n_train=n_train, n_test=n_test, image_size=image_size, noise=noise,
                    n_repeats=n_repeats, channels_per_roi=channels_per_roi, seed=seed, backbone=backbone,
                    layer=layer, progress=progress, cache_dir=cache_dir, mode=mode, noise_model=noise_model,
                    noise_correlation=noise_correlation, noise_gain_sd=noise_gain_sd, rois=rois)[subject]


def load_all(root=None, subjects=None, **options) -> dict[str, Dataset]:
    """Simulate several subjects at the cost of one: scenes and features are computed once.

    Parameters
    ----------
    subjects : list of str, optional
        Default: all of :func:`list_subjects`.
    **options
        As for :func:`load`.

    Returns
    -------
    dict of subject -> Dataset, all with the same Stimuli object.
    """
    subjects = list(SUBJECTS if subjects is None else subjects)
    for subject in subjects:
        subject_index(subject)
    if root is not None:
        logger.info("nsd_sim: root=%s is ignored (the simulator reads no files)", root)
    config = _config(**options)
    study = _study(config)
    return {subject: simulate_subject(study, subject, config) for subject in subjects}


# --------------------------------------------------------------------------- configuration

def _config(n_train=1000, n_test=200, image_size=96, noise=1.0, n_repeats=3, channels_per_roi=16, seed=0,
            backbone="gabor", layer="complex", progress=True, cache_dir=None, mode="routing", noise_model="iid",
            noise_correlation=0.5, noise_gain_sd=0.5, rois=None) -> dict:
    counts = dict(n_train=(n_train, 1), n_test=(n_test, 1), image_size=(image_size, 32), n_repeats=(n_repeats, 1),
                  channels_per_roi=(channels_per_roi, 1), seed=(seed, 0))
    config = {name: _check_count(name, value, low) for name, (value, low) in counts.items()}
    if config["n_train"] + config["n_test"] < 20:
        raise ConfigError(format_problem("nsd_sim options n_train + n_test", "at least 20 scenes",
                                         f"{n_train + n_test}", "draw more scenes so that every category appears"))
    for name, value, choices in (("mode", mode, MODES), ("noise_model", noise_model, NOISE_MODELS)):
        if value not in choices:
            raise ConfigError(format_problem(f"nsd_sim option {name}", f"one of {list(choices)}", repr(value),
                                             f"pass {name}={choices[0]!r} or {choices[1]!r}"))
    for name, value, high in (("noise_correlation", noise_correlation, 1.0), ("noise_gain_sd", noise_gain_sd, 5.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not 0.0 <= float(value) < high:
            raise ConfigError(format_problem(f"nsd_sim option {name}", f"a number in [0, {high:g})", repr(value),
                                             f"pass e.g. {name}=0.5"))
    return dict(config, noise=_noise_levels(noise), backbone=backbone, layer=layer, progress=bool(progress),
                cache_dir=cache_dir, mode=mode, noise_model=noise_model, noise_correlation=float(noise_correlation),
                noise_gain_sd=float(noise_gain_sd), rois=_roi_selection(rois))


def _roi_selection(rois) -> tuple | None:
    """The ROIs whose channels are kept (None: all); names must be nsd_sim ROI labels."""
    if rois is None:
        return None
    names = (rois,) if isinstance(rois, str) else tuple(rois)
    known = set(ROI_NAMES)
    unknown = [name for name in names if name not in known]
    if not names or unknown:
        raise ConfigError(format_problem("nsd_sim option rois", f"a non-empty list of ROI names among "
                                         f"{sorted(known)}", repr(rois), "pass e.g. rois=[FFA, EBA, PPA, VWFA]"))
    return names


def _check_count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(format_problem(f"nsd_sim option {name}", f"an integer >= {low}", repr(value),
                                         f"pass an integer {name} >= {low}"))
    return int(value)


def _noise_levels(noise) -> dict:
    """Noise sd relative to signal sd, per ROI name."""
    if isinstance(noise, dict):
        unknown = sorted(set(noise) - set(ROI_NAMES))
        if unknown:
            raise ConfigError(format_problem("nsd_sim option noise", f"ROI names among {list(ROI_NAMES)}",
                                             f"unknown {unknown}", "fix the keys of the noise dict"))
        levels = {roi: float(noise.get(roi, 1.0)) for roi in ROI_NAMES}
    else:
        levels = {roi: float(noise) for roi in ROI_NAMES}
    bad = {roi: v for roi, v in levels.items() if not np.isfinite(v) or v < 0}
    if bad:
        raise ConfigError(format_problem("nsd_sim option noise", "finite values >= 0", f"{bad}",
                                         "pass e.g. noise=1.0 (noise sd equal to the signal sd)"))
    return levels


# --------------------------------------------------------------------------- the shared study

@dataclass
class Study:
    """What all subjects share: scenes, generating features and routing maps.

    Attributes
    ----------
    stimuli : Stimuli, n_stimuli = n_train + n_test (train first)
    features : FeatureMap
        Standardised generating features, values of shape (n_stimuli, C, H, W).
    routing_maps : float32 array of shape (n_stimuli, n_categories, H, W)
    objects : DataFrame, one row per object
    labels : int8 array of shape (n_stimuli, S, S), visible object index or -1
    feature_mean, feature_sd : arrays of shape (C,), the standardisation (calibration scenes)
    calibration_features : array of shape (N_CALIBRATION, C, H, W), standardised
    calibration_maps : array of shape (N_CALIBRATION, n_categories, H, W)
    n_train : int
    """

    stimuli: Stimuli
    features: object
    routing_maps: np.ndarray
    objects: pd.DataFrame
    labels: np.ndarray
    feature_mean: np.ndarray
    feature_sd: np.ndarray
    calibration_features: np.ndarray
    calibration_maps: np.ndarray
    n_train: int


_STUDY_CACHE: dict = {}  # the last study, and the calibration of each (size, seed, features)
_CALIBRATION_CACHE: dict = {}


def clear_cache() -> None:
    """Forget the studies kept in memory (the next load recomputes scenes and features)."""
    _STUDY_CACHE.clear()
    _CALIBRATION_CACHE.clear()


def _study(config: dict) -> Study:
    """Draw the scenes and compute their features once per configuration (kept in memory)."""
    from cogmodels.backbones.base import FeatureMap

    backbone = _backbone(config)
    key = (config["n_train"], config["n_test"], config["image_size"], config["seed"],
           backbone.fingerprint(config["layer"]))
    if key in _STUDY_CACHE:
        return _STUDY_CACHE[key]
    size, seed = config["image_size"], config["seed"]
    drawn = (scenes.draw_scenes(config["n_train"], size, seed, "train", progress=config["progress"])
             + scenes.draw_scenes(config["n_test"], size, seed, "test", progress=config["progress"]))
    ids = [f"train-{i:05d}" for i in range(config["n_train"])] + [f"test-{i:05d}" for i in range(config["n_test"])]
    calibration = _calibration(backbone, config)
    logger.info("nsd_sim: extracting %s/%s features of %d scenes", backbone.name, config["layer"], len(drawn))
    stimuli = Stimuli.from_arrays(ids, [s.image for s in drawn])
    raw = _extract(backbone, stimuli, config)
    features = ((raw - calibration["mean"]) / calibration["sd"]).astype(np.float32)
    grid = features.shape[2:]
    study = Study(
        stimuli=stimuli,
        features=FeatureMap(features, "spatial"),
        routing_maps=np.stack([scenes.category_maps(s, grid) for s in drawn]),
        objects=_object_table(ids, drawn),
        labels=np.stack([s.labels for s in drawn]),
        feature_mean=calibration["mean"].ravel(), feature_sd=calibration["sd"].ravel(),
        calibration_features=calibration["features"], calibration_maps=calibration["maps"],
        n_train=config["n_train"])
    for array in (study.features.values, study.routing_maps, study.labels):
        array.flags.writeable = False  # shared by every subject's Dataset
    _STUDY_CACHE.clear()  # keep one study in memory
    _STUDY_CACHE[key] = study
    return study


def _backbone(config: dict):
    from cogmodels.backbones import create as create_backbone

    backbone = config["backbone"]
    if isinstance(backbone, str):
        # The Gabor bank filters the scenes at their own size (no resampling).
        options = {"image_size": config["image_size"]} if backbone == "gabor" else {}
        backbone = create_backbone(backbone, **options)
    return backbone


def _calibration(backbone, config: dict) -> dict:
    """Feature standardisation and routed-term scales come from a fixed set of scenes, whatever n_train."""
    key = (config["image_size"], config["seed"], backbone.fingerprint(config["layer"]))
    if key not in _CALIBRATION_CACHE:
        drawn = scenes.draw_scenes(N_CALIBRATION, config["image_size"], config["seed"], "calibration")
        ids = [f"calibration-{i:05d}" for i in range(len(drawn))]
        raw = _extract(backbone, Stimuli.from_arrays(ids, [s.image for s in drawn]), dict(config, progress=False))
        mean = raw.mean(axis=(0, 2, 3), keepdims=True)
        sd = raw.std(axis=(0, 2, 3), keepdims=True) + 1e-6
        _CALIBRATION_CACHE[key] = dict(
            mean=mean, sd=sd, features=((raw - mean) / sd).astype(np.float32),
            maps=np.stack([scenes.category_maps(s, raw.shape[2:]) for s in drawn]))
    return _CALIBRATION_CACHE[key]


def _extract(backbone, stimuli: Stimuli, config: dict) -> np.ndarray:
    """Generating features of shape (n_stimuli, C, H, W), through the feature cache when one is given."""
    layer, progress = config["layer"], config["progress"]
    if config["cache_dir"] is not None:
        from cogmodels.io import FeatureCache

        fmap = FeatureCache(config["cache_dir"]).features(backbone, stimuli, [layer], batch_size=64,
                                                          progress=progress)[layer]
    else:
        fmap = backbone.extract(stimuli, layers=[layer], batch_size=64, progress=progress)[layer]
    if fmap.kind != "spatial" and fmap.kind != "tokens":
        raise ConfigError(format_problem(f"nsd_sim option layer={layer!r}", "a spatial layer (feature grid)",
                                         f"a {fmap.kind} layer", "choose a spatial layer, e.g. 'complex' of gabor"))
    return fmap.as_spatial().astype(np.float64)


def _object_table(ids: list, drawn: list) -> pd.DataFrame:
    rows = []
    for sid, scene in zip(ids, drawn):
        for k, (category, box) in enumerate(zip(scene.categories, scene.boxes)):
            rows.append(dict(stimulus_id=sid, object=k, category=category, x0=box[0], y0=box[1], x1=box[2],
                             y1=box[3], visible_px=int((scene.labels == k).sum())))
    return pd.DataFrame(rows)


def simulate_subject(study: Study, subject: str, config: dict) -> Dataset:
    """Responses and ground truth of one subject on the shared study.

    ``ground_truth`` keys: ``noise_free`` (n_stimuli, n_channels, z-scored like the
    trials), ``noise_ceiling`` and ``ncsnr`` (n_channels,), ``signal_sd`` / ``noise_sd``
    (n_channels,, z-scored units), ``n_repeats``, ``routing_maps`` (n_stimuli, 4, H, W)
    with ``routing_rois`` / ``categories`` naming axis 1, ``objects`` (DataFrame:
    stimulus_id, object, category, x0, y0, x1, y1 in pixels, visible_px),
    ``object_labels`` (n_stimuli, S, S), ``mode``, ``rf`` (DataFrame of fixed-RF channels, the retinotopic ones
    (all channels in the control mode):
    id, roi, x, y, sigma as fractions of the image side), ``channel_roi`` (n_channels,),
    ``feature_weights`` (n_channels, C), ``presence_amplitude`` (n_channels,),
    ``features`` (FeatureMap), ``feature_layer``, ``feature_mean`` / ``feature_sd`` (C,).
    """
    channels, params = subject_channels(subject, config["seed"], study.features.grid, study.features.n_features,
                                        config["channels_per_roi"])
    if config["mode"] == "control":
        params = control_params(params, subject, config["seed"])
    scale = routed_scale(study.calibration_features, study.calibration_maps, params)
    clean = noise_free_responses(study.features.values, study.routing_maps, params, scale)
    signal_sd = clean.std(axis=0)
    if np.any(signal_sd <= 0):
        raise ConfigError(format_problem("nsd_sim", "every channel to vary across stimuli",
                                         f"{int((signal_sd <= 0).sum())} constant channels",
                                         "draw more scenes (n_train + n_test) so that every category appears"))
    relative = np.array([config["noise"][roi] for roi in params["roi"]]) * params["noise_jitter"]
    noise_rng = np.random.default_rng([config["seed"], 300, subject_index(subject)])
    k = config["n_repeats"]
    trials = clean[:, None, :] + trial_noise((clean.shape[0], k, clean.shape[1]), relative * signal_sd,
                                             params["roi"], noise_rng, config["noise_model"],
                                             config["noise_correlation"], config["noise_gain_sd"])
    # z-score single trials per channel (NSD betas are z-scored per session), and the truth with them.
    mean, sd = trials.mean(axis=(0, 1)), trials.std(axis=(0, 1))
    trials = (trials - mean) / sd
    responses = BrainResponses(
        responses=trials.mean(axis=1).astype(np.float32), stimulus_ids=study.stimuli.ids, channels=channels,
        subject=subject, modality="fmri", repeats=trials.astype(np.float32),
        meta=dict(simulated=True, n_repeats=k, noise=dict(config["noise"]), mode=config["mode"],
                  noise_model=config["noise_model"]))
    ncsnr = np.divide(1.0, relative, out=np.full(relative.shape, np.inf), where=relative > 0)
    ground_truth = dict(
        noise_free=((clean - mean) / sd).astype(np.float32), noise_ceiling=true_noise_ceiling(ncsnr, k),
        ncsnr=ncsnr, signal_sd=signal_sd / sd, noise_sd=relative * signal_sd / sd, n_repeats=k, mode=config["mode"],
        **_study_truth(study, config), **_channel_truth(channels, params))
    if config["rois"] is not None:
        responses, ground_truth = _keep_rois(responses, ground_truth, config["rois"])
    ids = study.stimuli.ids
    splits = {"train": ids[: study.n_train], "test": ids[study.n_train:]}
    return Dataset(name="nsd_sim", stimuli=study.stimuli, card=CARD, responses=responses, splits=splits,
                   ground_truth=ground_truth)


PER_CHANNEL_TRUTH = ("noise_ceiling", "ncsnr", "signal_sd", "noise_sd", "channel_roi", "feature_weights",
                     "presence_amplitude")


def _keep_rois(responses: BrainResponses, truth: dict, rois: tuple) -> tuple[BrainResponses, dict]:
    """Responses and per-channel ground truth restricted to the channels of ``rois`` (order kept)."""
    keep = np.zeros(responses.n_channels, dtype=bool)
    for roi in rois:
        keep |= responses.roi_mask(roi)
    kept_ids = set(responses.channels["id"][keep])
    truth = dict(truth, noise_free=truth["noise_free"][:, keep],
                 rf=truth["rf"][truth["rf"]["id"].isin(kept_ids)].reset_index(drop=True),
                 **{key: np.asarray(truth[key])[keep] for key in PER_CHANNEL_TRUTH})
    return responses.subset(channels=keep), truth


def true_noise_ceiling(ncsnr: np.ndarray, n_averaged: int) -> np.ndarray:
    """NSD noise ceiling (Allen et al. 2022) as a fraction: ncsnr^2 / (ncsnr^2 + 1/k); 1 where noise-free."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(ncsnr), 1.0, ncsnr ** 2 / (ncsnr ** 2 + 1.0 / n_averaged))


def _study_truth(study: Study, config: dict) -> dict:
    return dict(routing_maps=study.routing_maps, routing_rois=CATEGORY_ROIS, categories=scenes.CATEGORIES,
                objects=study.objects, object_labels=study.labels, features=study.features,
                feature_layer=config["layer"], feature_mean=study.feature_mean, feature_sd=study.feature_sd)


def _channel_truth(channels, params: dict) -> dict:
    retino = np.asarray(params.get("fixed_rf", params["retinotopic"]), dtype=bool)
    rf = pd.DataFrame({"id": channels["id"][retino].to_numpy(), "roi": params["roi"][retino],
                       "x": params["rf"][retino, 0], "y": params["rf"][retino, 1], "sigma": params["rf"][retino, 2]})
    return dict(rf=rf, channel_roi=params["roi"], feature_weights=params["weights"].astype(np.float32),
                presence_amplitude=params["amplitude"])


def write_example(root) -> dict:
    """A small, fast configuration of the simulator (it reads no files; features are cached under ``root``)."""
    return {"n_train": 24, "n_test": 8, "image_size": 64, "channels_per_roi": 2, "progress": False,
            "cache_dir": root}


DATASETS.register("nsd_sim", load, example=write_example, description=__doc__)
