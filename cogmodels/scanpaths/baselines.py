"""Baseline scanpath models: uniform, fitted centre bias, density sampling and "another human".

They bound what a scanpath model must beat.  "Another human" gives the
leave-one-subject-out human consistency reported beside every model as its ceiling.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

from cogmodels.data import Fixations, Scanpath
from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.scanpaths import SCANPATH_MODELS
from cogmodels.scanpaths.base import ScanpathModel

GRID = 64  # resolution of image-independent densities, in normalised image coordinates


def _scanpath_statistics(fixations: Fixations) -> tuple[np.ndarray, np.ndarray]:
    """Empirical scanpath lengths (n_scanpaths,) and fixation durations (n_fixations,)."""
    lengths = fixations.table.groupby(["stimulus_id", "subject", "trial"]).size().to_numpy()
    return lengths, fixations.table["duration"].to_numpy(float)


def _draw_scanpath(xy: np.ndarray, durations: np.ndarray, stimulus_id, rng) -> Scanpath:
    duration = rng.choice(durations, size=len(xy))
    return Scanpath.from_arrays(xy[:, 0], xy[:, 1], duration=duration, stimulus_id=stimulus_id, task="free_view")


def _sample_from_map(density: np.ndarray, n: int, rng) -> np.ndarray:
    """Draw n (x, y) pixel positions from an (H, W) map, uniformly jittered inside each pixel."""
    flat = density.ravel() / density.sum()
    cells = rng.choice(flat.size, size=n, p=flat)
    y, x = np.divmod(cells, density.shape[1])
    return np.stack([x + rng.random(n), y + rng.random(n)], axis=1)


def _resize_density(grid_density: np.ndarray, height: int, width: int) -> np.ndarray:
    resized = zoom(grid_density, (height / grid_density.shape[0], width / grid_density.shape[1]), order=1)
    resized = np.clip(resized, 1e-12, None)
    return resized / resized.sum()


def fixation_histogram(x, y, height: int, width: int) -> np.ndarray:
    """Counts of fixations per pixel, shape (height, width); positions are floored and clipped."""
    rows = np.clip(np.asarray(y, int), 0, height - 1)
    cols = np.clip(np.asarray(x, int), 0, width - 1)
    hist = np.zeros((height, width))
    np.add.at(hist, (rows, cols), 1.0)
    return hist


@SCANPATH_MODELS.register("uniform", example={})
class UniformModel(ScanpathModel):
    """Fixations uniform over the image; scanpath lengths and durations from the training data."""

    def _fit(self, fixations, stimuli):
        self.lengths_, self.durations_ = _scanpath_statistics(fixations)

    def _sample(self, stimulus, n, task, rng):
        width, height = stimulus.size
        out = []
        for _ in range(n):
            k = int(rng.choice(self.lengths_))
            xy = rng.random((k, 2)) * [width, height]
            out.append(_draw_scanpath(xy, self.durations_, stimulus.id, rng))
        return out

    def _density(self, stimulus):
        width, height = stimulus.size
        return np.full((height, width), 1.0 / (width * height))


@SCANPATH_MODELS.register("center_bias", example={"bandwidths": (0.05, 0.1)})
class CenterBiasModel(ScanpathModel):
    """Image-independent fixation density: a Gaussian KDE of all training fixations in normalised coordinates.

    The KDE bandwidth (in units of the image size) is chosen from ``bandwidths``
    by the log-likelihood of half of the training images under a KDE of the
    other half (split seeded by ``seed``).
    """

    def __init__(self, bandwidths=(0.02, 0.04, 0.06, 0.1, 0.15), seed: int = 0):
        self.bandwidths = bandwidths
        self.seed = seed

    def _normalised_positions(self, fixations):
        table = fixations.table
        sizes = fixations.image_sizes
        missing = sorted(set(table["stimulus_id"]) - set(sizes))
        if missing:
            raise DataFormatError(format_problem("fixations.image_sizes", "the size of every fixated image",
                                                 f"{len(missing)} images without a size, e.g. {missing[:3]}",
                                                 "load fixations through a dataset loader, which records image sizes"))
        width = table["stimulus_id"].map(lambda s: sizes[s][0]).to_numpy(float)
        height = table["stimulus_id"].map(lambda s: sizes[s][1]).to_numpy(float)
        return table["x"].to_numpy() / width, table["y"].to_numpy() / height

    @staticmethod
    def _kde(u, v, bandwidth):
        hist = fixation_histogram(u * GRID, v * GRID, GRID, GRID)
        density = gaussian_filter(hist, bandwidth * GRID, mode="constant") + 1e-6 * hist.sum() / GRID**2
        return density / density.sum()

    def _fit(self, fixations, stimuli):
        u, v = self._normalised_positions(fixations)
        images = fixations.table["stimulus_id"].to_numpy()
        rng = np.random.default_rng(self.seed)
        unique = np.unique(images)
        half = np.isin(images, rng.choice(unique, size=max(1, len(unique) // 2), replace=False))
        if half.all() or not half.any():  # a single image: fall back to a split by fixation
            half = rng.random(len(u)) < 0.5
        scores = []
        for bw in self.bandwidths:
            kde = self._kde(u[half], v[half], bw)
            rows = np.clip((v[~half] * GRID).astype(int), 0, GRID - 1)
            cols = np.clip((u[~half] * GRID).astype(int), 0, GRID - 1)
            scores.append(np.log(kde[rows, cols]).mean())
        self.bandwidth_ = float(self.bandwidths[int(np.argmax(scores))])
        self.grid_density_ = self._kde(u, v, self.bandwidth_)
        self.lengths_, self.durations_ = _scanpath_statistics(fixations)

    def _density(self, stimulus):
        width, height = stimulus.size
        return _resize_density(self.grid_density_, height, width)

    def _sample(self, stimulus, n, task, rng):
        density = self._density(stimulus)
        return [_draw_scanpath(_sample_from_map(density, int(rng.choice(self.lengths_)), rng),
                               self.durations_, stimulus.id, rng) for _ in range(n)]


@SCANPATH_MODELS.register("density_sampling", example={"gammas": (1.0,), "weights": (0.5,)})
class DensitySamplingModel(ScanpathModel):
    """Fixations drawn i.i.d. from an image-dependent density: a bottom-up saliency map mixed with the centre bias.

    The saliency map is the Gabor filter-bank energy (each channel divided by its
    mean over the image, so rare orientations stand out, as in Itti & Koch's
    normalisation), blurred and raised to ``gamma``.  The mixture weight and
    ``gamma`` are fitted by maximum likelihood of the training fixations.
    """

    def __init__(self, gammas=(0.5, 1.0, 2.0, 4.0), weights=(0.0, 0.25, 0.5, 0.75), blur_frac: float = 0.03,
                 seed: int = 0):
        self.gammas = gammas
        self.weights = weights
        self.blur_frac = blur_frac
        self.seed = seed

    def _saliency(self, image: np.ndarray) -> np.ndarray:
        """Normalised Gabor energy map on the GRID, shape (GRID, GRID)."""
        if not hasattr(self, "_backbone"):
            from cogmodels.backbones import create

            self._backbone = create("gabor")
        fmap = self._backbone.extract([image], progress=False)["complex"].as_spatial()[0]
        energy = (fmap / (fmap.mean(axis=(1, 2), keepdims=True) + 1e-8)).mean(axis=0)
        energy = zoom(energy, (GRID / energy.shape[0], GRID / energy.shape[1]), order=1)
        energy = gaussian_filter(np.clip(energy, 0, None), self.blur_frac * GRID)
        return energy / (energy.max() + 1e-12)

    def _mixture(self, saliency, gamma, weight):
        s = saliency ** gamma
        s = s / s.sum()
        return weight * s + (1 - weight) * self.center_bias_.grid_density_

    def _fit(self, fixations, stimuli):
        if stimuli is None:
            raise ConfigError("DensitySamplingModel.fit needs the stimuli (its density depends on the image). "
                              "Fix: call fit(fixations, stimuli).")
        self.center_bias_ = CenterBiasModel(seed=self.seed).fit(fixations)
        u, v = self.center_bias_._normalised_positions(fixations)
        table = fixations.table
        ids = table["stimulus_id"].to_numpy()
        loglik = np.zeros((len(self.gammas), len(self.weights)))
        for sid in np.unique(ids):
            if sid not in stimuli.ids:
                continue
            sal = self._saliency(stimuli[sid].image)
            here = ids == sid
            rows = np.clip((v[here] * GRID).astype(int), 0, GRID - 1)
            cols = np.clip((u[here] * GRID).astype(int), 0, GRID - 1)
            for i, g in enumerate(self.gammas):
                for j, w in enumerate(self.weights):
                    loglik[i, j] += np.log(self._mixture(sal, g, w)[rows, cols]).sum()
        i, j = np.unravel_index(np.argmax(loglik), loglik.shape)
        self.gamma_, self.weight_ = float(self.gammas[i]), float(self.weights[j])
        self.lengths_, self.durations_ = self.center_bias_.lengths_, self.center_bias_.durations_

    def _density(self, stimulus):
        width, height = stimulus.size
        return _resize_density(self._mixture(self._saliency(stimulus.image), self.gamma_, self.weight_), height, width)

    def _sample(self, stimulus, n, task, rng):
        density = self._density(stimulus)
        return [_draw_scanpath(_sample_from_map(density, int(rng.choice(self.lengths_)), rng),
                               self.durations_, stimulus.id, rng) for _ in range(n)]


@SCANPATH_MODELS.register("another_human", example={})
class AnotherHumanModel(ScanpathModel):
    """"Another human": the scanpaths of other observers of the same image.

    Used leave-one-subject-out: ``sample(..., exclude_subject=s)`` returns
    scanpaths of subjects other than ``s``, and ``density(..., exclude_subject=s)``
    is their Gaussian fixation density (sigma ``sigma_deg`` degrees).  This is
    the human-consistency ceiling reported beside every model.

    Parameters
    ----------
    sigma_deg : float
        Sigma of the density, in degrees of visual angle.
    px_per_deg : float, optional
        Pixels per degree; None (default): from the fitted fixations' geometry
        (``fixations.geometry.px_per_deg``), stored as ``px_per_deg_``.
    uniform_mix : float in [0, 1)
        Weight of a uniform map mixed into the density (keeps it positive).
    """

    def __init__(self, sigma_deg: float = 1.0, px_per_deg: float | None = None, uniform_mix: float = 0.01):
        self.sigma_deg = sigma_deg
        self.px_per_deg = px_per_deg
        self.uniform_mix = uniform_mix

    def validate_params(self):
        super().validate_params()
        checks = {"sigma_deg": (self.sigma_deg, "a positive number of degrees", lambda v: v > 0),
                  "px_per_deg": (self.px_per_deg, "None (from the data's geometry) or a positive number",
                                 lambda v: v is None or v > 0),
                  "uniform_mix": (self.uniform_mix, "a number in [0, 1)", lambda v: 0 <= v < 1)}
        for name, (value, expected, ok) in checks.items():
            try:
                good = (value is None or np.isfinite(float(value))) and ok(value)
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ConfigError(format_problem(f"another_human {name}", expected, repr(value),
                                                 f"set scanpath.{name} accordingly"))
        return self

    def _fit(self, fixations, stimuli):
        from cogmodels.data.geometry import resolve_px_per_deg

        self.px_per_deg_ = resolve_px_per_deg(self.px_per_deg, fixations.geometry, "another_human px_per_deg")
        self.scanpaths_ = {}
        for sp in fixations.to_scanpaths():
            self.scanpaths_.setdefault(sp.stimulus_id, []).append(sp)

    def _others(self, stimulus, exclude_subject):
        paths = self.scanpaths_.get(stimulus.id)
        if paths is None:
            raise DataFormatError(format_problem("stimulus.id", "an image seen by the fitted observers",
                                                 repr(stimulus.id), "fit on fixations that include this image"))
        others = [sp for sp in paths if exclude_subject is None or sp.subject != str(exclude_subject)]
        if not others:
            raise DataFormatError(format_problem(f"stimulus {stimulus.id!r}", "at least one other observer",
                                                 f"only subject {exclude_subject!r}", "use images with >= 2 observers"))
        return others

    def sample(self, stimulus, n=10, task=None, seed=0, exclude_subject=None):
        self._check_fitted()
        from cogmodels.scanpaths.base import as_stimulus

        others = self._others(as_stimulus(stimulus), exclude_subject)
        rng = np.random.default_rng(seed)
        return [others[i] for i in rng.choice(len(others), size=n, replace=n > len(others))]

    def density(self, stimulus, exclude_subject=None):
        self._check_fitted()
        from cogmodels.metrics.saliency import fixation_density
        from cogmodels.scanpaths.base import as_stimulus

        stimulus = as_stimulus(stimulus)
        others = self._others(stimulus, exclude_subject)
        xy = np.concatenate([sp.xy for sp in others])
        density = fixation_density(xy, stimulus.size, sigma_deg=self.sigma_deg, px_per_deg=self.px_per_deg_)
        return (1 - self.uniform_mix) * density + self.uniform_mix / density.size
