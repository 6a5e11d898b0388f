"""The Dataset returned by ``cogmodels.load_dataset`` and its card."""

from __future__ import annotations

from dataclasses import dataclass, field

from cogmodels.data.brain import BrainResponses
from cogmodels.data.checks import check_matching_ids, check_splits
from cogmodels.data.gaze import Fixations
from cogmodels.data.search import SearchTrials
from cogmodels.data.stimuli import Stimuli


@dataclass(frozen=True)
class DatasetCard:
    """What a dataset is and how to get it.

    Attributes
    ----------
    name, source, licence, citation : str
    expected_files : tuple of str
        The release layout, relative to the dataset root.
    how_to_get : str
        Where to download it and where to put it.
    terms : str
        Terms of use beyond the licence (e.g. NSD data-use agreement).
    simulated : bool
        True for built-in simulators with known ground truth.
    notes : str
        Assumptions the loader makes that the release does not record (e.g. an assumed screen geometry).
    """

    name: str
    source: str
    licence: str
    citation: str
    expected_files: tuple = ()
    how_to_get: str = ""
    terms: str = ""
    simulated: bool = False
    notes: str = ""

    def __str__(self) -> str:
        files = "\n".join(f"    {f}" for f in self.expected_files)
        notes = f"  notes:    {self.notes}\n" if self.notes else ""
        return (f"{self.name}\n  source:   {self.source}\n  licence:  {self.licence}\n"
                f"  citation: {self.citation}\n  terms:    {self.terms or '-'}\n{notes}"
                f"  files:\n{files}\n  how to get: {self.how_to_get}")


@dataclass
class Dataset:
    """Typed containers of one dataset (one subject for brain data).

    Attributes
    ----------
    name : str
    stimuli : Stimuli
    responses : BrainResponses, optional
    fixations : Fixations, optional
    trials : SearchTrials, optional
    splits : dict of str -> array of stimulus ids
    card : DatasetCard
    ground_truth : dict
        Known truth from simulators (e.g. true weights, noise ceilings).
    meta : dict
        Facts about the loaded copy (e.g. the stimuli whose files are missing).
    """

    name: str
    stimuli: Stimuli
    card: DatasetCard
    responses: BrainResponses | None = None
    fixations: Fixations | None = None
    trials: SearchTrials | None = None
    splits: dict = field(default_factory=dict)
    ground_truth: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.responses is not None:
            check_matching_ids(self.stimuli.ids, self.responses.stimulus_ids, f"{self.name}: responses.stimulus_ids")
        self.splits = check_splits(self.splits, self.stimuli.ids, f"{self.name}.splits")

    def __repr__(self) -> str:
        parts = [f"stimuli={len(self.stimuli)}"]
        if self.responses is not None:
            parts.append(f"responses={self.responses.responses.shape} ({self.responses.subject})")
        if self.fixations is not None:
            parts.append(repr(self.fixations))
        if self.trials is not None:
            parts.append(f"trials={len(self.trials)}")
        parts.append(f"splits={ {k: len(v) for k, v in self.splits.items()} }")
        return f"Dataset({self.name!r}, {', '.join(parts)})"
