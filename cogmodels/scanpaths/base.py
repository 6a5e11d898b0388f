"""The small contract every scanpath model follows (in the spirit of pysaliency).

A new model family (OAT, NevaClip, DiffEye, ...) subclasses :class:`ScanpathModel`:

- ``__init__`` only stores its parameters (sklearn style);
- ``validate_params()`` checks them without touching data (the runner calls it
  when the config is composed, before any dataset is loaded); extend it and
  call ``super().validate_params()``;
- ``_fit(fixations, stimuli)`` learns from a :class:`~cogmodels.data.Fixations`
  table (one row per fixation: stimulus_id, subject, trial, index, x, y in
  pixels with the origin top-left, t_onset and duration in ms; indices unique
  and onsets non-decreasing within each trial) and the matching
  :class:`~cogmodels.data.Stimuli`; ``fixations.to_scanpaths()`` gives one
  :class:`~cogmodels.data.Scanpath` per trial;
- ``_sample(stimulus, n, task, rng) -> list[Scanpath]`` and, where defined,
  ``_density(stimulus) -> (H, W)``.

Geometry.  Anything in degrees of visual angle (foveation, a fixation density
of ``sigma_deg``, saccade amplitudes) reads pixels per degree from
``fixations.geometry`` (a :class:`~cogmodels.data.ScreenGeometry`, set by every
loader) in ``_fit``, or from an explicit ``px_per_deg`` parameter that
overrides it; :func:`cogmodels.data.geometry.resolve_px_per_deg` does exactly
that, and raises a ConfigError naming the fix when neither is known.  Never
hard-code a px/deg default.  ``fit`` stores the geometry it saw as
``geometry_`` (None when the table has none); positions and scanpaths stay in
pixels of that screen.
"""

from __future__ import annotations

import inspect

import numpy as np

from cogmodels.data import Fixations, Scanpath, Stimuli, Stimulus, check_image
from cogmodels.errors import DataFormatError, NotFittedError, format_problem


def as_stimulus(stimulus) -> Stimulus:
    """Accept a Stimulus (one item of Stimuli) or an (H, W, 3) uint8 array."""
    if isinstance(stimulus, Stimulus):
        return stimulus
    return Stimulus("array", check_image(stimulus, "stimulus"))


class ScanpathModel:
    """Base of scanpath models.

    Subclasses implement ``_fit(fixations, stimuli)`` (when they learn anything),
    ``_sample(stimulus, n, task, rng) -> list[Scanpath]`` and, where the model
    defines one, ``_density(stimulus) -> (H, W)`` array summing to 1.
    """

    requires_fit = True

    def get_params(self) -> dict:
        """Constructor parameters by name (what ``__init__`` stored)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p not in ("self", "args", "kwargs")]
        return {name: getattr(self, name) for name in names}

    def validate_params(self) -> "ScanpathModel":
        """Check the constructor parameters without data; raise ConfigError naming the parameter.

        The runner calls this when the config is composed (before any dataset
        is loaded), and ``fit`` calls it first.  The base class checks
        nothing; subclasses extend it (``super().validate_params()`` first)
        and return ``self``.
        """
        return self

    def fit(self, fixations: Fixations, stimuli: Stimuli | None = None, **data) -> "ScanpathModel":
        """Learn from a Fixations table and the matching Stimuli (validates the parameters first).

        ``data``: what a model reads besides the table (e.g. OAT's ``objects``, DiffEye's raw ``samples``),
        passed on to ``_fit``.  Sets ``geometry_`` (``fixations.geometry``) and ``fitted_``.
        """
        self.validate_params()
        if not isinstance(fixations, Fixations):
            raise DataFormatError(format_problem("fixations", "a cogmodels.data.Fixations table",
                                                 type(fixations).__name__, "wrap the table with Fixations(...)"))
        if fixations.kind != "eye":
            raise DataFormatError(format_problem("fixations.kind", "eye fixations", repr(fixations.kind),
                                                 "scanpath models learn from eye movements, not clicks"))
        if len(fixations) == 0:
            raise DataFormatError(format_problem("fixations", "at least one fixation", "an empty table",
                                                 "check the split"))
        self.geometry_ = fixations.geometry
        self._fit(fixations, stimuli, **data)
        self.fitted_ = True
        return self

    def _fit(self, fixations, stimuli):
        pass

    def _check_fitted(self):
        if self.requires_fit and not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet. Fix: call fit(fixations, stimuli) first.")

    def sample(self, stimulus, n: int = 10, task=None, seed: int | np.random.Generator = 0) -> list[Scanpath]:
        """Draw ``n`` scanpaths on ``stimulus``; x, y in pixels, durations in ms."""
        self._check_fitted()
        stimulus = as_stimulus(stimulus)
        rng = np.random.default_rng(seed)
        return self._sample(stimulus, int(n), task, rng)

    def density(self, stimulus) -> np.ndarray:
        """Fixation probability map of shape (H, W), summing to 1."""
        self._check_fitted()
        stimulus = as_stimulus(stimulus)
        density = self._density(stimulus)
        return density / density.sum()

    def _density(self, stimulus):
        raise NotImplementedError(f"{type(self).__name__} defines no fixation density")

    def example_arrays(self, stimulus, n: int, seed) -> dict:
        """Model-specific arrays worth storing for a few example images, e.g. DiffEye's raw trajectories.

        The scanpath evaluation calls this with a copy of the generator that ``sample`` then gets, so the
        arrays describe the scored draws; it stores them as ``example_model_<key>``.  Default: none.
        """
        return {}

    def _sample(self, stimulus, n, task, rng):
        raise NotImplementedError
