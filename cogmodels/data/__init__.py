"""Data containers and validators."""

from cogmodels.data.brain import BrainResponses, check_channels, drop_nan_channels, make_channel_table
from cogmodels.data.checks import (
    check_array,
    check_image,
    check_matching_ids,
    check_responses,
    check_splits,
    check_subject_count,
    check_unique_ids,
)
from cogmodels.data.dataset import Dataset, DatasetCard
from cogmodels.data.gaze import Fixations, GazeSamples, Scanpath, check_fixation_table
from cogmodels.data.geometry import ScreenGeometry
from cogmodels.data.search import SearchTrial, SearchTrials
from cogmodels.data.stimuli import Stimuli, Stimulus, load_image

__all__ = [
    "BrainResponses", "Dataset", "DatasetCard", "Fixations", "GazeSamples", "Scanpath", "ScreenGeometry",
    "SearchTrial", "SearchTrials", "Stimuli", "Stimulus", "check_array", "check_channels", "check_fixation_table",
    "check_image", "check_matching_ids", "check_responses", "check_splits", "check_subject_count",
    "check_unique_ids", "drop_nan_channels", "load_image", "make_channel_table",
]
