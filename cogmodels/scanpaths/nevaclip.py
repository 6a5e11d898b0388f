"""NevaClip / NeVA: scanpaths from a gradient search for the fovea position that best serves a task embedding.

NeVA (Schwinn et al. 2022) and NevaClip (Zanca et al. 2023, "Contrastive
language-image pretrained models are zero-shot human scanpath predictors")
generate a scanpath one fixation at a time.  The image is foveated around a
candidate position (:mod:`cogmodels.kernels.foveation`: blurred everywhere
except under a Gaussian fovea and a decaying memory of past fixations), the
foveated image is embedded, and the loss is minus the cosine similarity with a
task embedding:

- ``objective="free_view"`` (default): the embedding of the whole, unfoveated image;
- ``objective="target"``: the embedding of a search-target image (``sample(..., task=target_image)``);
- ``objective="caption"``: the text embedding of a caption (needs CLIP's text tower: ``encoder="open_clip:RN50"``
  with ``weights=`` a local file).

Each fixation is the best position visited by ``steps`` sign-gradient steps of
``step_size`` on the fovea position in [-1, 1] coordinates, restarted from a
random position when the loss stalls (:mod:`cogmodels.scanpaths.nevaclip_search`).
The randomness of the starts makes the n scanpaths of an image differ.  All
chains (n per image, for every image of a :meth:`NevaClipModel.sample_many`
call) go through the encoder together, ``batch_size`` at a time.

Budget.  The cost is about (number of fixations) x ``steps`` x (1 + restarts
do not add steps) forward+backward passes per scanpath, at ``image_size``.
The original: open_clip RN50 at 224 px, 20 steps of 0.1.  The default here
keeps the original's search (20 steps of 0.1) with the gabor encoder (4
orientations x 3 scales) at 64 px and the filter responses blended in feature
space: 15 scanpaths on each of 200 OSIE images take about 2.5 CPU-minutes
(one thread); ``steps``, ``restarts`` and ``image_size`` trade speed for quality.

Contract.  ``fit`` is optional (``requires_fit = False``): it only learns the
scanpath lengths and fixation durations of the training data (unfitted: every
scanpath has ``n_fixations`` fixations of ``duration_ms``).  ``sample`` returns
Scanpaths in pixels of the stimulus and ms; ``density`` is the first searched
fixation's loss landscape over a grid of fovea positions (memory: the central
first fixation), z-scored over the grid and turned into a probability by
``exp(z / T)``, upsampled to the image; ``fit`` picks T from ``density_temperatures``
by the likelihood of the training fixations (``density_temperature`` before ``fit``).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, ShapeError, format_problem
from cogmodels.kernels.foveation import BLURS, NEVA_BLUR_SIGMA, check_sigma
from cogmodels.scanpaths import SCANPATH_MODELS
from cogmodels.scanpaths.base import ScanpathModel, as_stimulus
from cogmodels.scanpaths.nevaclip_encoders import OPEN_CLIP_PREFIX, make_encoder
from cogmodels.scanpaths.nevaclip_search import GaborFeatureScene, PixelScene, search_fixations

log = logging.getLogger(__name__)

OBJECTIVES = ("free_view", "target", "caption")
FIRST_FIXATIONS = ("center", "search")
#: Width of the image the original's 41-px, sigma-10 blur was defined on.
NEVA_IMAGE_SIZE = 224


def to_rgb(image, where: str = "stimulus") -> np.ndarray:
    """An (H, W, 3) uint8 image from grey (H, W) / (H, W, 1) (converted, with a log note) or opaque RGBA.

    RGBA with any transparent pixel is rejected (ShapeError) with the fix: the
    colour behind a transparent pixel is undefined, so compositing is the user's choice.
    """
    array = np.asarray(image)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 1):
        log.warning("%s: a grey image of shape %s; converted to RGB by repeating the channel", where, array.shape)
        return np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    if array.ndim == 3 and array.shape[-1] == 4:
        if array.dtype == np.uint8 and (array[..., 3] == 255).all():
            log.warning("%s: an opaque RGBA image; converted to RGB by dropping the alpha channel", where)
            return np.ascontiguousarray(array[..., :3])
        raise ShapeError(format_problem(where, "an RGB image (H, W, 3), uint8", "RGBA with transparent pixels",
                                        "composite it over a background first, e.g. "
                                        "np.asarray(Image.open(path).convert('RGB'))"))
    return image


@SCANPATH_MODELS.register("nevaclip", example={"image_size": 32, "steps": 3, "n_fixations": 3,
                                               "density_grid": (3, 4), "encoder_options": {"embed_grid": 2}})
class NevaClipModel(ScanpathModel):
    """NevaClip / NeVA (2023-24): fixations by gradient search on a foveated image's match to a task embedding.

    Parameters
    ----------
    objective : {"free_view", "target", "caption"}
        Task embedding (module docstring).  ``sample(..., task=...)`` may override it: a str is a
        caption, an (h, w, 3) uint8 array a search target, a dict {"caption": ...} or {"target": ...}.
    encoder : str
        "gabor" (default; fixed, offline), a timm backbone ("timm:<model>"), or "open_clip:<model>"
        (image and text towers; needs ``weights`` or ``encoder_options={"config": {...}}``).
    weights : str, optional
        Local weights file of the encoder (never downloaded).
    encoder_options : dict, optional
        gabor/timm: ``embed_grid`` (gabor's pooled grid side, default 4) and backbone options;
        open_clip: ``config`` (an open_clip model config; random init with ``seed``, for tests).
    caption : str, optional
        Default caption of the caption objective.
    image_size : int
        Side of the square search image (the stimulus is resized to it, whole); open_clip uses its own.
    steps : int
        Sign-gradient steps per fixation (original: 20).
    step_size : float
        Step in [-1, 1] coordinates (original: 0.1).
    restarts : int
        Random restarts per fixation at most, taken when the loss has not improved for ``patience`` steps.
    patience : int
    fovea_sigma : float
        Std of the fovea Gaussian in [-1, 1] units (> 0).
    forgetting : float in [0, 1]
        Fraction of the memory lost at each fixation (0: remember all past fixations).
    blur : {"uniform", "eccentricity"}
        Original Gaussian blur, or Geisler & Perry's eccentricity-dependent blur (needs px/deg).
    blur_sigma : float, optional
        Uniform blur std in pixels of the search image; None: 10 px scaled from 224 px to ``image_size``.
    px_per_deg : float, optional
        Of the displayed stimulus, for ``blur="eccentricity"``; None: from the fitted fixations' geometry.
    feature_foveation : bool
        gabor with the uniform blur: blend the linear filter responses instead of pixels (fast; see
        :mod:`cogmodels.scanpaths.nevaclip_search`).  False: foveate pixels, then filter.
    first_fixation : {"center", "search"}
        The first fixation at the image centre (as in the original and in most eye-tracking
        protocols), or searched with an empty memory.
    n_fixations : int
        Scanpath length before ``fit`` (after it: lengths resampled from the training scanpaths).
    duration_ms : float
        Fixation duration before ``fit`` (after it: resampled from the training fixations).
    batch_size : int
        Chains per forward pass.
    density_grid : (int, int)
        Rows and columns of fovea positions of ``density``'s landscape.
    density_temperature : float
        Temperature of ``density``, in units of the landscape's standard deviation (before ``fit``).
    density_temperatures : sequence of float
        Candidates that ``fit`` chooses from by the log-likelihood of the training fixations
        (stored as ``density_temperature_``).
    calibration_images : int
        Training images (a seeded choice) used for that choice; 0: keep ``density_temperature``.
    seed : int
        Seed of a random encoder initialisation (the samples take ``sample(..., seed=)``).
    progress : bool
        tqdm bar over fixations.
    """

    requires_fit = False

    def __init__(self, objective: str = "free_view", encoder: str = "gabor", weights=None,
                 encoder_options: dict | None = None, caption: str | None = None, image_size: int = 64,
                 steps: int = 20, step_size: float = 0.1, restarts: int = 2, patience: int = 3,
                 fovea_sigma: float = 0.15, forgetting: float = 0.1, blur: str = "uniform",
                 blur_sigma: float | None = None, px_per_deg: float | None = None, feature_foveation: bool = True,
                 first_fixation: str = "center", n_fixations: int = 10, duration_ms: float = 250.0,
                 batch_size: int = 512, density_grid=(12, 16), density_temperature: float = 0.5,
                 density_temperatures=(0.5, 1.0, 2.0, 4.0, 8.0), calibration_images: int = 16, seed: int = 0,
                 progress: bool = False):
        self.objective = objective
        self.encoder = encoder
        self.weights = weights
        self.encoder_options = encoder_options
        self.caption = caption
        self.image_size = image_size
        self.steps = steps
        self.step_size = step_size
        self.restarts = restarts
        self.patience = patience
        self.fovea_sigma = fovea_sigma
        self.forgetting = forgetting
        self.blur = blur
        self.blur_sigma = blur_sigma
        self.px_per_deg = px_per_deg
        self.feature_foveation = feature_foveation
        self.first_fixation = first_fixation
        self.n_fixations = n_fixations
        self.duration_ms = duration_ms
        self.batch_size = batch_size
        self.density_grid = density_grid
        self.density_temperature = density_temperature
        self.density_temperatures = density_temperatures
        self.calibration_images = calibration_images
        self.seed = seed
        self.progress = progress

    # -- parameters ---------------------------------------------------------------------------------
    def validate_params(self):
        """Check every parameter without data; ConfigError (WeightsUnavailableError for a missing text tower)."""
        super().validate_params()

        def need(name, ok, expected, fix):
            value = getattr(self, name)
            try:
                good = bool(ok(value))
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ConfigError(format_problem(f"nevaclip {name}", expected, repr(value),
                                                 f"set scanpath.{name}={fix}"))

        def integer(low):
            return lambda v: not isinstance(v, bool) and float(v).is_integer() and int(v) >= low

        need("objective", lambda v: v in OBJECTIVES, f"one of {OBJECTIVES}", "free_view")
        need("encoder", lambda v: isinstance(v, str) and v != "" and v != OPEN_CLIP_PREFIX,
             "'gabor', 'timm:<model>' or 'open_clip:<model>'", "gabor")
        need("encoder_options", lambda v: v is None or isinstance(v, dict), "None or a dict", "null")
        need("caption", lambda v: v is None or isinstance(v, str), "None or a string", "'a dog on a beach'")
        need("image_size", integer(16), "an integer >= 16", 64)
        need("steps", integer(1), "an integer >= 1", 20)
        need("step_size", lambda v: 0 < float(v) <= 2, "a step in (0, 2] ([-1, 1] coordinates)", 0.1)
        need("restarts", integer(0), "an integer >= 0", 2)
        need("patience", integer(1), "an integer >= 1", 3)
        check_sigma(self.fovea_sigma, "nevaclip fovea_sigma")
        need("forgetting", lambda v: 0 <= float(v) <= 1, "a fraction in [0, 1]", 0.1)
        need("blur", lambda v: v in BLURS, f"one of {BLURS}", "uniform")
        need("blur_sigma", lambda v: v is None or float(v) > 0, "None or a positive number of pixels", "null")
        need("px_per_deg", lambda v: v is None or float(v) > 0, "None (from the data) or a positive number", "null")
        need("feature_foveation", lambda v: isinstance(v, bool), "true or false", "true")
        need("first_fixation", lambda v: v in FIRST_FIXATIONS, f"one of {FIRST_FIXATIONS}", "center")
        need("n_fixations", integer(1), "an integer >= 1", 10)
        need("duration_ms", lambda v: float(v) > 0, "a positive duration in ms", 250)
        need("batch_size", integer(1), "an integer >= 1", 512)
        need("density_grid", lambda v: len(v) == 2 and all(integer(2)(k) for k in v), "two integers >= 2", "[12,16]")
        need("density_temperature", lambda v: float(v) > 0, "a positive number", 0.5)
        need("density_temperatures", lambda v: len(v) >= 1 and all(float(t) > 0 for t in v),
             "a non-empty list of positive numbers", "[0.5,1,2,4,8]")
        need("calibration_images", integer(0), "an integer >= 0", 16)
        need("seed", integer(0), "an integer >= 0", 0)
        if self.objective == "caption" and not self.encoder.startswith(OPEN_CLIP_PREFIX):
            from cogmodels.errors import WeightsUnavailableError

            raise WeightsUnavailableError(format_problem(
                "nevaclip objective='caption'", "an encoder with a text tower", f"encoder={self.encoder!r}",
                "use encoder='open_clip:RN50' with weights=/path/to/local/open_clip_RN50.safetensors "
                "(scanpath.weights=...); no weights are downloaded"))
        return self

    # -- fit ----------------------------------------------------------------------------------------
    def _fit(self, fixations, stimuli):
        table = fixations.table
        self.lengths_ = table.groupby(["stimulus_id", "subject", "trial"]).size().to_numpy()
        self.durations_ = table["duration"].to_numpy(float)
        self.durations_ = self.durations_[self.durations_ > 0] if (self.durations_ > 0).any() else None
        self.density_temperature_ = float(self.density_temperature)
        if stimuli is not None and int(self.calibration_images) > 0:
            self.density_temperature_ = self._calibrate_temperature(fixations, stimuli)

    def _calibrate_temperature(self, fixations, stimuli) -> float:
        """The candidate temperature of highest log-likelihood of the training fixations (grid cells)."""
        ids = sorted(set(fixations.table["stimulus_id"]) & set(stimuli.ids), key=str)
        if not ids:
            return float(self.density_temperature)
        rng = np.random.default_rng(self.seed)
        chosen = rng.choice(len(ids), size=min(len(ids), int(self.calibration_images)), replace=False)
        rows, cols = (int(k) for k in self.density_grid)
        temperatures = [float(t) for t in self.density_temperatures]
        loglik = np.zeros(len(temperatures))
        for k in sorted(chosen):
            stimulus = stimuli[ids[k]]
            z = self._z(self.landscape(stimulus))
            width, height = stimulus.size
            here = fixations.table[fixations.table["stimulus_id"] == ids[k]]
            r = np.clip((here["y"].to_numpy() / height * rows).astype(int), 0, rows - 1)
            c = np.clip((here["x"].to_numpy() / width * cols).astype(int), 0, cols - 1)
            for j, t in enumerate(temperatures):
                logp = (z - z.max()) / t
                logp = logp - np.log(np.exp(logp).sum())
                loglik[j] += logp[r, c].sum()
        best = temperatures[int(np.argmax(loglik))]
        log.info("nevaclip density temperature %s (log-likelihood of %d training images' fixations: %s)", best,
                 len(chosen), {t: round(float(v), 1) for t, v in zip(temperatures, loglik)})
        return best

    # -- the encoder and the scene ------------------------------------------------------------------
    def _get_encoder(self):
        if getattr(self, "_encoder", None) is None:
            self.validate_params()
            self._encoder = make_encoder(self.encoder, self.weights, self.encoder_options, int(self.image_size),
                                         int(self.seed))
            log.info("nevaclip encoder: %s", self._encoder.description)
        return self._encoder

    def _search_size(self) -> int:
        encoder = self._get_encoder()
        return int(encoder.input_size if self.encoder.startswith(OPEN_CLIP_PREFIX) else self.image_size)

    def _tensor(self, images) -> torch.Tensor:
        """uint8 (H, W, 3) images -> float (n, 3, S, S) in [0, 1], resized whole (antialiased)."""
        size = self._search_size()
        batch = [F.interpolate(torch.from_numpy(np.array(im, copy=True)).permute(2, 0, 1)[None].float() / 255,
                               size=(size, size), mode="bilinear", antialias=True, align_corners=False)
                 for im in images]
        return torch.cat(batch)

    def _task_embeddings(self, tensors, task) -> torch.Tensor:
        encoder = self._get_encoder()
        objective, payload = self.objective, None
        if isinstance(task, dict):
            key = "caption" if "caption" in task else "target" if "target" in task else None
            objective, payload = (key, task[key]) if key else (self.objective, None)
        elif isinstance(task, str) and task in OBJECTIVES:
            objective = task
        elif isinstance(task, str):
            objective, payload = "caption", task
        elif isinstance(task, np.ndarray):
            objective, payload = "target", task
        if objective == "caption":
            caption = payload if payload is not None else self.caption
            if caption is None:
                raise ConfigError(format_problem("nevaclip caption", "a caption (scanpath.caption or task=<text>)",
                                                 "None", "pass sample(..., task='a caption')"))
            return encoder.encode_text([caption]).float().expand(len(tensors), -1)
        with torch.no_grad():
            if objective == "target":
                if payload is None:
                    raise ConfigError(format_problem("nevaclip target", "a target image (task=<(h, w, 3) array>)",
                                                     "None", "pass sample(..., task=target_image)"))
                return encoder.encode_image(self._tensor([to_rgb(payload, "target")])).expand(len(tensors), -1)
            return encoder.encode_image(tensors)

    def _scene(self, images, task):
        encoder = self._get_encoder()
        tensors = self._tensor(images)
        targets = self._task_embeddings(tensors, task)
        size = tensors.shape[-1]
        blur_sigma = float(self.blur_sigma) if self.blur_sigma is not None else NEVA_BLUR_SIGMA * size / NEVA_IMAGE_SIZE
        if self.encoder == "gabor" and self.blur == "uniform" and self.feature_foveation:
            return GaborFeatureScene(encoder, tensors, targets, self.fovea_sigma, blur_sigma)
        px_per_deg = None
        if self.blur == "eccentricity":
            from cogmodels.data.geometry import resolve_px_per_deg

            display = resolve_px_per_deg(self.px_per_deg, getattr(self, "geometry_", None), "nevaclip px_per_deg")
            px_per_deg = display * size / max(im.shape[0] for im in images)
        return PixelScene(encoder, tensors, targets, self.fovea_sigma, self.blur, blur_sigma, px_per_deg)

    # -- sampling -----------------------------------------------------------------------------------
    def sample(self, stimulus, n: int = 10, task=None, seed=0) -> list[Scanpath]:
        """Draw ``n`` scanpaths on ``stimulus`` (grey or opaque RGBA arrays are converted, with a note)."""
        if isinstance(stimulus, np.ndarray):
            stimulus = to_rgb(stimulus)
        return super().sample(stimulus, n=n, task=task, seed=seed)

    def _sample(self, stimulus, n, task, rng):
        return self._run([stimulus], n, task, [rng])[0]

    def sample_many(self, stimuli, n: int = 10, task=None, seeds=None) -> list[list[Scanpath]]:
        """Scanpaths of several images in one batched search: ``[model.sample(s, n, task, seed) for s, seed in ...]``.

        Parameters
        ----------
        stimuli : sequence of Stimulus or (H, W, 3) uint8 arrays
        n : int
        task : see ``objective``; the same for every image
        seeds : sequence of int or Generator, optional
            One per image (default 0, 1, 2, ...); image i gives the same scanpaths as ``sample(stimuli[i], n,
            task, seeds[i])``.

        Returns
        -------
        list (one per image) of n Scanpaths
        """
        self._check_fitted()
        items = [as_stimulus(to_rgb(s) if isinstance(s, np.ndarray) else s) for s in stimuli]
        seeds = range(len(items)) if seeds is None else seeds
        return self._run(items, int(n), task, [np.random.default_rng(s) for s in seeds])

    def _draw_lengths(self, rng, n) -> np.ndarray:
        lengths = getattr(self, "lengths_", None)
        return rng.choice(lengths, size=n) if lengths is not None else np.full(n, int(self.n_fixations))

    def _run(self, stimuli, n, task, image_rngs) -> list[list[Scanpath]]:
        from tqdm.auto import tqdm

        lengths, chain_rngs, owner = [], [], []
        for i, rng in enumerate(image_rngs):
            lengths.append(self._draw_lengths(rng, n))
            chain_rngs += rng.spawn(n)
            owner += [i] * n
        lengths = np.concatenate(lengths).astype(int) if n else np.zeros(0, int)
        scene = self._scene([s.image for s in stimuli], task)
        owner = torch.as_tensor(owner, dtype=torch.long)
        n_chains, longest = len(chain_rngs), int(lengths.max(initial=0))
        path = torch.zeros(n_chains, longest, 2)
        counts = torch.zeros(n_chains, dtype=torch.long)
        for t in tqdm(range(longest), desc="nevaclip fixations", disable=not self.progress, unit="fixation"):
            active = np.flatnonzero(lengths > t)
            if t == 0 and self.first_fixation == "center":
                counts[active] += 1  # path[:, 0] is the centre (0, 0)
                continue
            for start in range(0, len(active), int(self.batch_size)):
                chunk = torch.as_tensor(active[start:start + int(self.batch_size)])
                best, _ = search_fixations(scene, owner[chunk], path[chunk, :t], counts[chunk],
                                           [chain_rngs[i] for i in chunk.tolist()], int(self.steps),
                                           float(self.step_size), int(self.restarts), int(self.patience),
                                           float(self.forgetting))
                path[chunk, t] = best
                counts[chunk] += 1
        out = []
        for i, stimulus in enumerate(stimuli):
            width, height = stimulus.size
            rng, paths = image_rngs[i], []
            for c in np.flatnonzero(owner.numpy() == i):
                uv = path[c, :lengths[c]].numpy().astype(float)
                x = np.clip((uv[:, 0] + 1) / 2 * width, 0, width - 1e-3)
                y = np.clip((uv[:, 1] + 1) / 2 * height, 0, height - 1e-3)
                durations = getattr(self, "durations_", None)
                duration = (rng.choice(durations, size=len(x)) if durations is not None
                            else np.full(len(x), float(self.duration_ms)))
                paths.append(Scanpath.from_arrays(x, y, duration=duration, stimulus_id=stimulus.id,
                                                  task=self._task_name(task)))
            out.append(paths)
        return out

    def _task_name(self, task) -> str:
        if isinstance(task, str) and task in OBJECTIVES:
            return {"free_view": "free_view", "target": "search_target", "caption": "caption"}[task]
        if isinstance(task, str) or (isinstance(task, dict) and "caption" in task):
            return "caption"
        if isinstance(task, np.ndarray) or (isinstance(task, dict) and "target" in task):
            return "search_target"
        return {"free_view": "free_view", "target": "search_target", "caption": "caption"}[self.objective]

    # -- density and the loss landscape --------------------------------------------------------------
    def landscape(self, stimulus, grid=None, task=None, past=None) -> np.ndarray:
        """Loss (-cos similarity) at a grid of fovea positions, shape (rows, cols).

        Parameters
        ----------
        stimulus : Stimulus or (H, W, 3) uint8 array
        grid : (rows, cols), optional
            Default ``density_grid``; positions at the centres of a rows x cols tiling of the image.
        task : optional, as in ``sample``
        past : array of shape (T, 2), optional
            Past fixations in pixels (memory); default: the central first fixation when
            ``first_fixation="center"``, else none.
        """
        stimulus = as_stimulus(to_rgb(stimulus) if isinstance(stimulus, np.ndarray) else stimulus)
        rows, cols = (int(k) for k in (grid or self.density_grid))
        scene = self._scene([stimulus.image], task)
        width, height = stimulus.size
        if past is None:
            past_uv = np.zeros((1 if self.first_fixation == "center" else 0, 2))
        else:
            past_uv = np.asarray(past, float).reshape(-1, 2) / [width, height] * 2 - 1
        ys, xs = (2 * np.arange(rows) + 1) / rows - 1, (2 * np.arange(cols) + 1) / cols - 1
        fovea = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
        k = len(fovea)
        past_t = torch.tensor(past_uv, dtype=torch.float32)[None].expand(k, -1, -1)
        counts = torch.full((k,), len(past_uv), dtype=torch.long)
        losses = []
        with torch.no_grad():
            for start in range(0, k, int(self.batch_size)):
                part = slice(start, start + int(self.batch_size))
                index = torch.zeros(len(fovea[part]), dtype=torch.long)
                state = scene.prepare(index, past_t[part], counts[part], float(self.forgetting))
                losses.append(scene.loss(state, fovea[part]))
        return torch.cat(losses).numpy().reshape(rows, cols).astype(np.float64)

    @staticmethod
    def _z(loss: np.ndarray) -> np.ndarray:
        """The landscape z-scored over its grid, sign flipped: high similarity -> high z."""
        return -(loss - loss.mean()) / (loss.std() + 1e-12)

    def _density(self, stimulus):
        z = self._z(self.landscape(stimulus))
        temperature = getattr(self, "density_temperature_", float(self.density_temperature))
        grid = np.exp((z - z.max()) / temperature)
        width, height = stimulus.size
        up = F.interpolate(torch.from_numpy(grid)[None, None], size=(height, width), mode="bilinear",
                           align_corners=False)[0, 0].numpy()
        return up / up.sum()
