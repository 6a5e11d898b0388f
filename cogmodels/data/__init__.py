"""Data containers and validators."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names, for type checkers and IDEs; at run time they load on first use (below)
    from cogmodels.data.brain import BrainResponses, check_channels, drop_nan_channels, make_channel_table
    from cogmodels.data.checks import (check_array, check_image, check_matching_ids, check_responses, check_splits,
                                       check_subject_count, check_unique_ids)
    from cogmodels.data.dataset import Dataset, DatasetCard
    from cogmodels.data.gaze import Fixations, GazeSamples, Scanpath, check_fixation_table
    from cogmodels.data.geometry import ScreenGeometry
    from cogmodels.data.search import SearchTrial, SearchTrials
    from cogmodels.data.stimuli import Stimuli, Stimulus, load_image

# Names are imported from their module on first use (PEP 562), so that importing one submodule (e.g.
# cogmodels.data.checks, which the encoders use) does not import pandas through the others.
_MODULE_OF = {
    "BrainResponses": "brain", "check_channels": "brain", "drop_nan_channels": "brain", "make_channel_table": "brain",
    "check_array": "checks", "check_image": "checks", "check_matching_ids": "checks", "check_responses": "checks",
    "check_splits": "checks", "check_subject_count": "checks", "check_unique_ids": "checks",
    "Dataset": "dataset", "DatasetCard": "dataset",
    "Fixations": "gaze", "GazeSamples": "gaze", "Scanpath": "gaze", "check_fixation_table": "gaze",
    "ScreenGeometry": "geometry",
    "SearchTrial": "search", "SearchTrials": "search",
    "Stimuli": "stimuli", "Stimulus": "stimuli", "load_image": "stimuli",
}


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_MODULE_OF))


__all__ = [
    "BrainResponses", "Dataset", "DatasetCard", "Fixations", "GazeSamples", "Scanpath", "ScreenGeometry",
    "SearchTrial", "SearchTrials", "Stimuli", "Stimulus", "check_array", "check_channels", "check_fixation_table",
    "check_image", "check_matching_ids", "check_responses", "check_splits", "check_subject_count",
    "check_unique_ids", "drop_nan_channels", "load_image", "make_channel_table",
]
