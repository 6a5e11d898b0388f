"""DiffEye: diffusion over raw gaze trajectories conditioned on the image (NeurIPS 2025), written from the paper.

A denoising diffusion model generates fixed-length raw gaze trajectories ((x, y)
at ``sampling_rate`` Hz for ``duration_ms``), conditioned on the image's patch
features from any registered backbone (default: the fixed ``gabor`` bank, no
weights) through the Corresponding Positional Embedding: at each trajectory
step the feature under the current gaze position is sampled bilinearly and
added (:mod:`cogmodels.scanpaths.diffeye_network`, which also holds the
classifier-free guidance and the DDPM / DDIM samplers).

Training data (:mod:`cogmodels.scanpaths.diffeye_trajectories`).  Raw
trajectories where the dataset has them (``fit(..., samples={stimulus_id:
[GazeSamples, ...]})``, put on the model's clock, with ``unequal_length`` and
``blinks`` policies); otherwise trajectories synthesised from each training
scanpath (main-sequence saccades, fixational drift and jitter; the synthesis is
stated in ``training_data_``).

Outputs.  ``sample_trajectories`` gives trajectories in pixels;
``sample(stimulus, n, seed)`` runs the platform's event detection
(``event_detection``: I-VT or I-DT, :mod:`cogmodels.scanpaths.events`) on each
and returns Scanpaths in pixels and ms (a trajectory in which no fixation is
detected becomes one fixation at its median position over the whole window,
with a warning giving the count); ``density(stimulus)`` is the Gaussian-smoothed
(``density_sigma_deg``) density of all gaze samples of ``density_samples``
trajectories (dwell time), mixed with 1 % uniform.

Budget.  ``budget`` ("tiny" 0.02, "small" 0.25, "default" 1, "large" 3, or a
positive number) multiplies the training epochs and the trajectories behind
``density``: it scales fit and density time together.  The network runs on the
GPU when one is present (``device="auto"``).  Checkpoints: see
:mod:`cogmodels.scanpaths.diffeye_training`.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.scanpaths import SCANPATH_MODELS
from cogmodels.scanpaths._threads import torch_threads
from cogmodels.scanpaths.base import ScanpathModel, as_stimulus
from cogmodels.scanpaths.diffeye_network import DiffEyeDenoiser, Diffusion
from cogmodels.scanpaths.diffeye_params import BUDGETS, SAMPLERS, check_diffeye_params
from cogmodels.scanpaths.diffeye_trajectories import (SynthesisOptions, check_trajectories,
                                                      density_from_trajectories, synthesize_trajectory,
                                                      to_gaze_samples, trajectories_from_samples)
from cogmodels.scanpaths.diffeye_training import CHECKPOINT_FORMAT, prefixed, read_checkpoint, sampling_weights, train

log = logging.getLogger(__name__)
# parameters that change neither the trained network nor the training data (a checkpoint serves them all)
_SAMPLING_ONLY = ("sampler", "ddim_steps", "ddim_eta", "guidance_scale", "event_detection", "ivt_threshold",
                  "density_samples", "density_sigma_deg", "checkpoint_dir", "device", "n_threads", "progress")


@SCANPATH_MODELS.register("diffeye", example={
    "budget": 0.5, "epochs": 2, "d_model": 32, "n_heads": 2, "n_layers": 1, "dim_feedforward": 64,
    "sampling_rate": 30.0, "duration_ms": 800.0, "n_diffusion_steps": 50, "ddim_steps": 4, "density_samples": 4,
    "backbone_options": {"image_size": 32, "pool": 4}, "progress": False})
class DiffEyeModel(ScanpathModel):
    """DiffEye (NeurIPS 2025): diffusion over raw gaze trajectories with the Corresponding Positional Embedding.

    Parameters
    ----------
    backbone : str
        Registered backbone giving the patch features (default ``gabor``: fixed, no weights).
    backbone_options : dict, optional
        Keyword arguments of the backbone (e.g. ``{"image_size": 128, "pool": 16}``).
    layer : str, optional
        Backbone layer; default the backbone's first default layer.
    sampling_rate : float
        Hz of the trajectories.
    duration_ms : float
        Trajectory window; ``n_steps = duration_ms * sampling_rate / 1000`` must be a multiple of ``patch``.
    patch, d_model, n_heads, n_layers, dim_feedforward, dropout, memory_grid
        Denoiser size (:class:`~cogmodels.scanpaths.diffeye_network.DiffEyeDenoiser`).
    n_diffusion_steps : int
        T of the cosine schedule (DDPM runs all of them).
    sampler : {"ddim", "ddpm"}
    ddim_steps : int
    ddim_eta : float in [0, 1]
        DDIM noise: 0 deterministic DDIM, 1 (default) the DDPM posterior variance on the coarse schedule.
        Measured on OSIE (15 epochs, 3 test images, 15 samples): deterministic DDIM-50 drifts to the image
        borders (NSS -0.26, sequence score 0.023), eta = 1 matches DDPM-1000 (NSS 0.48 vs 0.44, sequence
        score 0.059 vs 0.055).
    guidance_scale : float
        Classifier-free guidance weight w >= 0 (0: conditional model alone).
    p_uncond : float
        Probability of dropping the image condition in training.
    epochs, batch_size, lr, weight_decay
        AdamW with warm-up and cosine decay; ``epochs`` is multiplied by the budget.
    ema_decay : float in [0, 1)
        Exponential moving average of the weights (with warm-up), used for sampling; 0: the raw weights.
    budget : str or float
        "tiny", "small", "default", "large" or a positive factor (see the module docstring).
    jitter_deg, drift_deg : float
        Fixational noise of synthesised trajectories (:class:`SynthesisOptions`).
    unequal_length : {"crop", "resample", "raise"}
    blinks : {"raise", "interpolate"}
        Policies for raw recordings (:func:`trajectories_from_samples`).
    event_detection : {"ivt", "idt"}
        Fixations of generated trajectories (:mod:`cogmodels.scanpaths.events`; I-DT at its 1 deg default).
    ivt_threshold : float
        I-VT velocity threshold (deg/s), default the platform's 30.  On trajectories synthesised from the
        fixations of 30 OSIE train images (4,190 fixations) a lower threshold recovers more of them (recall 0.84
        at 30, 0.90 at 20 deg/s: at 60 Hz a saccade under about 1 deg never reaches 30 deg/s between samples),
        but generated trajectories are noisier: on 20 OSIE *train* images (default network, 15 samples each)
        thresholds 15 / 20 / 25 / 30 / 40 deg/s gave 12.8 / 12.9 / 12.0 / 10.9 / 8.6 fixations per 3 s
        (humans 9.4) and sequence scores 0.060 / 0.063 / 0.066 / 0.069 / 0.070, so 30 is kept.
    px_per_deg : float, optional
        Overrides the fitted fixations' geometry (None: from the data).
    density_samples : int
        Trajectories behind ``density`` (times the budget).
    density_sigma_deg : float
    checkpoint_dir : str, optional
    device : str
        "auto" (CUDA when available, else CPU), "cpu", "cuda", ...
    n_threads : int or None
        Torch CPU threads while fitting and sampling (restored afterwards); None: torch's setting.
    seed : int
        Seeds the initialisation (stated), the synthesis, the training draws and ``density``.
    progress : bool
    """

    def __init__(self, backbone: str = "gabor", backbone_options: dict | None = None, layer: str | None = None,
                 sampling_rate: float = 60.0, duration_ms: float = 3000.0, patch: int = 6, d_model: int = 64,
                 n_heads: int = 4, n_layers: int = 3, dim_feedforward: int = 128, dropout: float = 0.0,
                 memory_grid: int = 4,
                 n_diffusion_steps: int = 1000, sampler: str = "ddim", ddim_steps: int = 50, ddim_eta: float = 1.0,
                 guidance_scale: float = 1.0, p_uncond: float = 0.1, epochs: int = 30, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-4, ema_decay: float = 0.999, budget="default",
                 jitter_deg: float = 0.03, drift_deg: float = 0.25, unequal_length: str = "crop",
                 blinks: str = "raise", event_detection: str = "ivt", ivt_threshold: float = 30.0,
                 px_per_deg: float | None = None, density_samples: int = 45,
                 density_sigma_deg: float = 1.0, checkpoint_dir: str | None = None, device: str = "auto",
                 n_threads: int | None = None, seed: int = 0, progress: bool = True):
        self.backbone = backbone
        self.backbone_options = backbone_options
        self.layer = layer
        self.sampling_rate = sampling_rate
        self.duration_ms = duration_ms
        self.patch = patch
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout
        self.memory_grid = memory_grid
        self.n_diffusion_steps = n_diffusion_steps
        self.sampler = sampler
        self.ddim_steps = ddim_steps
        self.ddim_eta = ddim_eta
        self.guidance_scale = guidance_scale
        self.p_uncond = p_uncond
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.budget = budget
        self.jitter_deg = jitter_deg
        self.drift_deg = drift_deg
        self.unequal_length = unequal_length
        self.blinks = blinks
        self.event_detection = event_detection
        self.ivt_threshold = ivt_threshold
        self.px_per_deg = px_per_deg
        self.density_samples = density_samples
        self.density_sigma_deg = density_sigma_deg
        self.checkpoint_dir = checkpoint_dir
        self.device = device
        self.n_threads = n_threads
        self.seed = seed
        self.progress = progress

    # -- parameters -----------------------------------------------------------------------------
    def budget_factor(self) -> float:
        return float(BUDGETS[self.budget]) if isinstance(self.budget, str) else float(self.budget)

    def n_epochs(self) -> int:
        return max(1, int(round(self.epochs * self.budget_factor())))

    @property
    def n_steps(self) -> int:
        """Samples per trajectory."""
        return int(round(float(self.duration_ms) * float(self.sampling_rate) / 1000.0))

    def validate_params(self) -> "DiffEyeModel":
        """Raise ConfigError (field ``scanpath.<name>``) for a bad constructor parameter; called at compose time."""
        super().validate_params()
        check_diffeye_params(self)
        return self

    # -- helpers --------------------------------------------------------------------------------
    def _threads(self):
        """Torch CPU threads set to ``n_threads`` for the duration (see the parameter)."""
        return torch_threads(self.n_threads)

    def _device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _backbone(self):
        if getattr(self, "_backbone_cache", None) is None:
            from cogmodels.backbones import create as create_backbone

            options = dict(self.backbone_options or {})
            if self.layer is not None:
                options["layers"] = [self.layer]
            self._backbone_cache = create_backbone(self.backbone, **options)
        return self._backbone_cache

    def _features(self, images) -> np.ndarray:
        """Raw patch features of a list of images, shape (n, C, h, w)."""
        backbone = self._backbone()
        layer = self.layer or backbone.layers[0]
        fmap = backbone.extract(images, [layer], progress=self.progress and len(images) > 16)[layer]
        if fmap.kind == "vector":
            raise ConfigError(format_problem(f"scanpath.layer ({self.backbone})", "a spatial or token layer",
                                             f"layer {layer!r} is a pooled vector", "pick a layer with a grid"))
        return fmap.as_spatial().astype(np.float32)

    def _stimulus_features(self, stimulus) -> torch.Tensor:
        """Standardised features (1, C, h, w) of one stimulus, kept for the last stimulus: ``sample`` and
        ``density`` of the same image (and a second sampler on it) extract them once."""
        image = np.ascontiguousarray(stimulus.image)
        key = (stimulus.id, image.shape, hashlib.sha1(image.tobytes()).hexdigest())
        cached = getattr(self, "_feature_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, self._standardised(self._features([image])).float())
            self._feature_cache = cached
        return cached[1]

    def _standardised(self, raw: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((raw - self.feature_mean_[None, :, None, None])
                                / self.feature_std_[None, :, None, None])

    def _synthesis(self) -> SynthesisOptions:
        return SynthesisOptions(float(self.sampling_rate), self.n_steps, float(self.px_per_deg_),
                                float(self.jitter_deg), float(self.drift_deg))

    def _network(self, n_features: int) -> DiffEyeDenoiser:
        torch.manual_seed(int(self.seed))  # seeded random initialisation (stated in the results)
        return DiffEyeDenoiser(n_features, self.n_steps, self.d_model, self.n_heads, self.n_layers,
                               self.dim_feedforward, self.dropout, self.patch, self.memory_grid)

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, fixations, stimuli=None, samples: dict | None = None) -> "DiffEyeModel":
        """Learn from a Fixations table and its Stimuli, or from raw gaze.

        Parameters
        ----------
        fixations : Fixations
            Training scanpaths (synthesised into trajectories when ``samples`` is None) and the geometry.
        stimuli : Stimuli
            The images of the training stimulus ids.
        samples : dict of stimulus_id -> list of GazeSamples, optional
            Raw recordings: the model trains on these instead of synthesised trajectories.
        """
        self.validate_params()
        if stimuli is None:
            raise ConfigError("DiffEyeModel.fit needs the stimuli (it is conditioned on the image). "
                              "Fix: call fit(fixations, stimuli).")
        with self._threads():
            return super().fit(fixations, stimuli, samples=samples)

    def _training_trajectories(self, fixations, stimuli, samples):
        """Pixel trajectories (n, n_steps, 2), their stimulus ids (n,) and a description of their source."""
        if samples is not None:
            trajs, ids, notes = [], [], []
            for sid, recordings in samples.items():
                arr, note = trajectories_from_samples(recordings, self.n_steps, float(self.sampling_rate),
                                                      unequal_length=self.unequal_length, blinks=self.blinks,
                                                      where=f"samples[{sid!r}]")
                trajs.append(arr)
                ids += [str(sid)] * len(arr)
                notes += note
            return (check_trajectories(np.concatenate(trajs)), np.asarray(ids),
                    "raw gaze trajectories" + (f" ({'; '.join(notes)})" if notes else ""))
        rng = np.random.default_rng([int(self.seed), 7])
        options = self._synthesis()
        trajs, ids = [], []
        for sp in fixations.to_scanpaths():
            size = stimuli[sp.stimulus_id].size
            trajs.append(synthesize_trajectory(sp, options, rng, size)[0])
            ids.append(sp.stimulus_id)
        return np.stack(trajs), np.asarray(ids), options.describe()

    def _fit(self, fixations, stimuli, samples=None):
        from cogmodels.data.geometry import resolve_px_per_deg

        self._feature_cache = None  # its features are standardised by this fit's statistics

        self.px_per_deg_ = resolve_px_per_deg(self.px_per_deg, fixations.geometry, "diffeye px_per_deg")
        known = set(stimuli.ids)
        wanted = set(fixations.stimulus_ids) if samples is None else set(map(str, samples))
        missing = sorted(wanted - known)
        if missing:
            raise DataFormatError(format_problem("stimuli", "the image of every training stimulus id",
                                                 f"{len(missing)} ids without an image, e.g. {missing[:3]}",
                                                 "pass the Stimuli of the training split"))
        trajectories, ids, self.training_data_ = self._training_trajectories(fixations, stimuli, samples)
        image_ids = sorted(set(ids))
        row = {sid: i for i, sid in enumerate(image_ids)}
        sizes = np.array([stimuli[sid].size for sid in image_ids], float)
        raw = self._features([stimuli[sid].image for sid in image_ids])
        self.feature_mean_ = raw.mean(axis=(0, 2, 3)).astype(np.float32)
        self.feature_std_ = (raw.std(axis=(0, 2, 3)) + 1e-6).astype(np.float32)
        index = np.array([row[s] for s in ids])
        normalised = trajectories / sizes[index][:, None, :] * 2.0 - 1.0
        device = self._device()
        self.network_ = self._network(raw.shape[1]).to(device)
        self.diffusion_ = Diffusion(self.n_diffusion_steps)
        fingerprint = hashlib.sha256(np.ascontiguousarray(normalised, np.float32).tobytes()
                                     + "|".join(image_ids).encode()).hexdigest()
        params = {k: v for k, v in self.get_params().items() if k not in _SAMPLING_ONLY}
        config = {"format": CHECKPOINT_FORMAT, "model": "diffeye", "params": params, "data": fingerprint,
                  "training_data": self.training_data_}
        fitted = {"feature_mean": self.feature_mean_, "feature_std": self.feature_std_,
                  "px_per_deg": np.array([self.px_per_deg_], np.float64)}
        log.info("DiffEye: %d trajectories of %d steps on %d images; %s; device %s", len(normalised), self.n_steps,
                 len(image_ids), self.training_data_, device)
        self.history_ = train(self, self.network_, self.diffusion_,
                              torch.from_numpy(normalised.astype(np.float32)), torch.from_numpy(index),
                              self._standardised(raw).float(), config, fitted, device)
        self.network_.eval()

    def _after_epoch(self, epoch: int) -> None:
        """Hook run after each (checkpointed) epoch; tests interrupt training here."""

    @classmethod
    def from_checkpoint(cls, checkpoint_dir, **sampling) -> "DiffEyeModel":
        """A fitted model from a checkpoint folder (its last saved epoch); ``sampling``: sampling-only params."""
        saved = read_checkpoint(checkpoint_dir)
        if saved is None:
            raise DataFormatError(format_problem(str(checkpoint_dir), "a DiffEye checkpoint folder "
                                                 "(config.json, state.safetensors)", "missing files",
                                                 "fit with checkpoint_dir=... first"))
        config, tensors = saved
        unknown = sorted(set(sampling) - set(_SAMPLING_ONLY))
        if unknown:
            raise ConfigError(format_problem("from_checkpoint parameters", f"sampling-only parameters "
                                             f"{list(_SAMPLING_ONLY)}", repr(unknown), "refit to change the others"))
        model = cls(**{**config["params"], "checkpoint_dir": str(checkpoint_dir), "progress": False, **sampling})
        model.validate_params()
        fitted = prefixed(tensors, "fitted.")
        model.feature_mean_, model.feature_std_ = fitted["feature_mean"].numpy(), fitted["feature_std"].numpy()
        model.px_per_deg_ = float(fitted["px_per_deg"][0])
        model.network_ = model._network(len(model.feature_mean_)).to(model._device())
        model.network_.load_state_dict(sampling_weights(tensors))
        model.network_.eval()
        model.diffusion_ = Diffusion(model.n_diffusion_steps)
        model.history_, model.training_data_ = list(config["history"]), config.get("training_data", "")
        model.geometry_, model.fitted_ = None, True
        return model

    # -- sampling -------------------------------------------------------------------------------
    def sample_trajectories(self, stimulus, n: int = 10, seed=0, sampler: str | None = None,
                            steps: int | None = None) -> np.ndarray:
        """Generated gaze trajectories in pixels, shape (n, n_steps, 2); time of sample k: k / sampling_rate s.

        ``sampler`` ("ddim"/"ddpm") and ``steps`` (DDIM steps) override the parameters for this call.
        """
        self._check_fitted()
        stimulus = as_stimulus(stimulus)
        sampler = sampler or self.sampler
        if sampler not in SAMPLERS:
            raise ConfigError(format_problem("sampler", f"one of {SAMPLERS}", repr(sampler), "use 'ddim'"))
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2 ** 62)))
        device = next(self.network_.parameters()).device
        features = self._stimulus_features(stimulus).to(device)
        shape = (int(n), self.n_steps, 2)
        with self._threads(), torch.no_grad():
            feats = features.expand(int(n), -1, -1, -1)
            if sampler == "ddpm":
                x = self.diffusion_.sample_ddpm(self.network_, feats, shape, generator, float(self.guidance_scale))
            else:
                x = self.diffusion_.sample_ddim(self.network_, feats, shape, generator,
                                                int(steps or self.ddim_steps), float(self.guidance_scale),
                                                float(self.ddim_eta))
        width, height = stimulus.size
        xy = (x.double().cpu().numpy() + 1.0) / 2.0 * np.array([width, height], float)
        return np.clip(xy, 0.0, np.array([width, height], float) - 1e-3)

    def to_scanpaths(self, trajectories: np.ndarray, stimulus_id=None) -> list[Scanpath]:
        """Fixations of pixel trajectories (n, n_steps, 2) by the platform's event detection, as Scanpaths."""
        from cogmodels.scanpaths.events import detect_idt, detect_ivt

        if self.event_detection == "ivt":
            def detect(samples):
                return detect_ivt(samples, threshold=float(self.ivt_threshold), px_per_deg=self.px_per_deg_)
        else:
            def detect(samples):
                return detect_idt(samples, px_per_deg=self.px_per_deg_)
        out, empty = [], 0
        for k, traj in enumerate(check_trajectories(trajectories, "generated trajectories")):
            table = detect(to_gaze_samples(traj, float(self.sampling_rate), self.px_per_deg_, trial=str(k))).table
            if len(table) == 0:
                empty += 1
                median = np.median(traj, axis=0)
                out.append(Scanpath.from_arrays([median[0]], [median[1]], [0.0], [self.n_steps * 1000.0
                                                                                    / self.sampling_rate],
                                                stimulus_id=stimulus_id, task="free_view"))
                continue
            out.append(Scanpath.from_arrays(table["x"], table["y"], table["t_onset"], table["duration"],
                                            stimulus_id=stimulus_id, task="free_view"))
        if empty:
            warnings.warn(f"DiffEye: no fixation detected in {empty} of {len(out)} generated trajectories; each "
                          f"became one fixation at its median position over the whole window", stacklevel=3)
        return out

    def _sample(self, stimulus, n, task, rng):
        return self.to_scanpaths(self.sample_trajectories(stimulus, n, rng), stimulus.id)

    def example_arrays(self, stimulus, n: int, seed) -> dict:
        """The raw trajectories behind ``sample(stimulus, n, seed=seed)`` (same seed, same draws):
        ``{"trajectory": (n, n_steps, 2) pixels}``; the scanpath evaluation stores them for its example images."""
        return {"trajectory": self.sample_trajectories(as_stimulus(stimulus), n, seed)}

    def _density(self, stimulus):
        n = max(1, int(round(self.density_samples * self.budget_factor())))
        trajectories = self.sample_trajectories(stimulus, n, seed=int(self.seed))
        return density_from_trajectories(trajectories, stimulus.size, float(self.density_sigma_deg) * self.px_per_deg_)

    def checkpoint_files(self) -> list[Path]:
        """The files of this model's checkpoint (empty without ``checkpoint_dir``)."""
        if self.checkpoint_dir is None:
            return []
        from cogmodels.scanpaths.diffeye_training import CONFIG_FILE, STATE_FILE

        return [Path(self.checkpoint_dir) / CONFIG_FILE, Path(self.checkpoint_dir) / STATE_FILE]

