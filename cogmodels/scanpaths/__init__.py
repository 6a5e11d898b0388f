"""Scanpath models and raw-gaze event detection.

A scanpath model implements ``fit(fixations, stimuli)`` (optional for
zero-shot models), ``sample(stimulus, n=10, task=None, seed=0) -> list[Scanpath]``
and, where defined, ``density(stimulus) -> (H, W)`` probability map.
"""

from __future__ import annotations

from cogmodels.registry import Registry

#: Models register where they are defined (``@SCANPATH_MODELS.register(name, example=...)``); the modules of
#: this folder are imported on first use; plugins: the ``cogmodels.scanpaths`` entry-point group.
SCANPATH_MODELS = Registry("scanpath model", package=__name__, entry_point_group="cogmodels.scanpaths")
