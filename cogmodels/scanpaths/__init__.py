"""Scanpath models and raw-gaze event detection.

A scanpath model implements ``fit(fixations, stimuli)`` (optional for
zero-shot models), ``sample(stimulus, n=10, task=None, seed=0) -> list[Scanpath]``
and, where defined, ``density(stimulus) -> (H, W)`` probability map.
"""

from __future__ import annotations

from cogmodels.registry import Registry

SCANPATH_MODELS = Registry("scanpath model")
SCANPATH_MODELS.register("uniform", "cogmodels.scanpaths.baselines:UniformModel")
SCANPATH_MODELS.register("center_bias", "cogmodels.scanpaths.baselines:CenterBiasModel")
SCANPATH_MODELS.register("density_sampling", "cogmodels.scanpaths.baselines:DensitySamplingModel")
SCANPATH_MODELS.register("another_human", "cogmodels.scanpaths.baselines:AnotherHumanModel")
