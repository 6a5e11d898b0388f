"""BIDS iEEG (SEEG/ECoG) read through MNE and mne-bids: high-gamma responses to image events in time bins.

Reads any BIDS iEEG recording MNE can open (EDF, BrainVision, FIF, ...) with
its ``channels.tsv`` (types, ``status=bad``), ``electrodes.tsv`` (coordinates)
and ``events.tsv`` (onsets; ``stim_file`` and optional ``caption`` columns name
what was shown), preprocesses it (:mod:`cogmodels.datasets.bids_ieeg_preprocess`:
re-referencing, notch/band filters, high-gamma envelope, z-scoring, despiking)
and cuts epochs around the event onsets (default -2.0 to +4.5 s) averaged over
200 ms windows: a ``BrainResponses`` of shape (n_events, n_electrodes, n_times).

Reported, never silent: bad channels of ``channels.tsv`` (excluded;
``meta["bad_channels"]``), epochs that overlap a recording edge (dropped, with a
warning; ``meta["n_dropped_epochs"]``), clipped samples of despiking.  Typed
errors: an event outside the recording, an electrode of ``electrodes.tsv`` with
no channel in the recording, a band above the Nyquist frequency.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import BrainResponses, Dataset, DatasetCard, Stimuli, make_channel_table
from cogmodels.datasets import DATASETS
from cogmodels.datasets.bids_ieeg_preprocess import Preprocessing, epoch_bins, parse_contact, preprocess
from cogmodels.errors import DataFormatError, format_problem

log = logging.getLogger(__name__)

IEEG_TYPES = ("seeg", "ecog", "dbs")
DATA_EXTENSIONS = (".edf", ".vhdr", ".fif", ".set", ".bdf", ".nwb", ".mefd")

CARD = DatasetCard(
    name="bids_ieeg",
    source="any BIDS iEEG dataset (https://bids-specification.readthedocs.io, iEEG: Holdgraf et al. 2019), "
           "e.g. from OpenNeuro; read with mne-bids (Appelhoff et al. 2019)",
    licence="that of the dataset (see its dataset_description.json)",
    citation="Subramaniam et al. 2024, ICML, 'Revealing Vision-Language Integration in the Brain with Multimodal "
             "Networks' (the analysis); Holdgraf et al. 2019, Sci. Data 6:102 (iEEG-BIDS)",
    expected_files=("dataset_description.json", "sub-<label>/[ses-<label>/]ieeg/sub-<label>_task-<label>_ieeg.<edf|vhdr|fif>",
                    "sub-<label>/.../*_channels.tsv", "sub-<label>/.../*_electrodes.tsv (+ coordsystem.json)",
                    "sub-<label>/.../*_events.tsv with columns onset, stim_file (and caption)",
                    "stimuli/<stim_file images> (paths in stim_file are relative to the dataset root)"),
    how_to_get="point root at a BIDS iEEG dataset folder; a small example: cogmodels.datasets.seeg_sim writes one",
)


@dataclass
class IEEGRecording:
    """One BIDS iEEG recording as read from disk.

    Attributes
    ----------
    raw : mne.io.BaseRaw (preloaded), channel types and bads set from channels.tsv, montage from electrodes.tsv
    channels : DataFrame, the channels.tsv table
    electrodes : DataFrame or None, the electrodes.tsv table
    events : DataFrame or None, the events.tsv table
    path : Path of the data file
    """

    raw: object
    channels: pd.DataFrame
    electrodes: pd.DataFrame | None
    events: pd.DataFrame | None
    path: Path


def _sidecar(bids_path, suffix: str):
    """The sidecar file of ``bids_path`` with this suffix (walks up the BIDS inheritance: task/run entities dropped)."""
    import mne_bids

    candidate = bids_path.copy().update(suffix=suffix, extension=".tsv", check=False)
    if candidate.fpath.is_file():
        return candidate.fpath
    matches = mne_bids.find_matching_paths(bids_path.root, subjects=bids_path.subject, sessions=bids_path.session,
                                           datatypes="ieeg", suffixes=suffix, extensions=".tsv")
    return matches[0].fpath if matches else None


def find_recording(root, subject: str, session=None, task=None, run=None):
    """The BIDSPath of one iEEG recording; DataFormatError naming the root and pattern when none or several match."""
    import mne_bids

    root = Path(root)
    if not (root / "dataset_description.json").is_file():
        raise DataFormatError(format_problem(str(root), "a BIDS dataset root (dataset_description.json)",
                                             "no dataset_description.json", "point root at the BIDS folder"))
    matches = [p for p in mne_bids.find_matching_paths(root, subjects=subject, sessions=session, tasks=task, runs=run,
                                                       datatypes="ieeg", suffixes="ieeg")
               if p.extension in DATA_EXTENSIONS]
    if len(matches) != 1:
        pattern = f"sub-{subject}" + (f"_ses-{session}" if session else "") + (f"_task-{task}" if task else "") + \
            (f"_run-{run}" if run else "") + "*_ieeg.<edf|vhdr|fif|...>"
        found = "no such file" if not matches else f"{len(matches)} recordings: {[m.basename for m in matches][:4]}"
        raise DataFormatError(format_problem(f"{root}/sub-{subject}", f"one recording {pattern}", found,
                                             "give subject, session, task and run so that one recording matches"))
    return matches[0]


def read_recording(root, subject: str = "01", session=None, task=None, run=None) -> IEEGRecording:
    """Read one recording and its sidecars (checks electrodes.tsv names against the recording's channels)."""
    import mne_bids

    bids_path = find_recording(root, subject, session, task, run)
    channels_file, electrodes_file = _sidecar(bids_path, "channels"), _sidecar(bids_path, "electrodes")
    events_file = bids_path.copy().update(suffix="events", extension=".tsv", check=False).fpath
    channels = pd.read_csv(channels_file, sep="\t", na_values="n/a", keep_default_na=False) if channels_file else None
    if channels is None or "name" not in channels.columns:
        raise DataFormatError(format_problem(str(channels_file or f"{bids_path.basename} channels.tsv"),
                                             "a channels.tsv with columns name, type, status",
                                             "no such file" if channels is None else f"columns {list(channels.columns)}",
                                             "write the dataset with mne_bids.write_raw_bids"))
    electrodes = None
    if electrodes_file is not None:
        electrodes = pd.read_csv(electrodes_file, sep="\t", na_values="n/a", keep_default_na=False)
        orphans = sorted(set(electrodes["name"].astype(str)) - set(channels["name"].astype(str)))
        if orphans:
            raise DataFormatError(format_problem(
                f"{electrodes_file} name", "every electrode named as a channel of the recording (channels.tsv)",
                f"{len(orphans)} electrode(s) with no channel, e.g. {orphans[:3]}",
                "rename them to match the channel names, or remove those rows"))
    raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    raw.load_data(verbose="error")
    events = pd.read_csv(events_file, sep="\t", na_values="n/a", keep_default_na=False) if events_file.is_file() \
        else None
    return IEEGRecording(raw=raw, channels=channels, electrodes=electrodes, events=events, path=Path(bids_path.fpath))


def picked_channels(recording: IEEGRecording) -> tuple[list[str], list[str], np.ndarray]:
    """Good iEEG contacts, bad ones (reported), and contact positions in mm (NaN where unknown)."""
    raw = recording.raw
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    ieeg = [n for n in raw.ch_names if types[n] in IEEG_TYPES]
    bads = [n for n in ieeg if n in set(raw.info["bads"])]
    good = [n for n in ieeg if n not in set(bads)]
    if not good:
        raise DataFormatError(format_problem(f"{recording.path.name} channels", f"good channels of type {IEEG_TYPES}",
                                             f"none ({len(bads)} bad, types {sorted(set(types.values()))})",
                                             "set type seeg/ecog and status good in channels.tsv"))
    montage = raw.get_montage()
    positions = np.full((len(good), 3), np.nan)
    if montage is not None:
        ch_pos = montage.get_positions()["ch_pos"]
        for i, name in enumerate(good):
            if name in ch_pos:
                positions[i] = 1000.0 * np.asarray(ch_pos[name])  # m -> mm
    return good, bads, positions


def event_table(recording: IEEGRecording, trial_type: str | None = None) -> pd.DataFrame:
    """The events that show a stimulus: rows of events.tsv with a stim_file (and the given trial_type)."""
    events, where = recording.events, f"{recording.path.name} events.tsv"
    if events is None or "onset" not in events.columns or "stim_file" not in events.columns:
        raise DataFormatError(format_problem(where, "an events.tsv with columns onset and stim_file",
                                             "no such file" if events is None else f"columns {list(events.columns)}",
                                             "list each image event with its onset (s) and stim_file"))
    rows = events["stim_file"].notna()
    if trial_type is not None:
        if "trial_type" not in events.columns:
            raise DataFormatError(format_problem(f"{where} trial_type", f"a trial_type column (trial_type={trial_type!r})",
                                                 "no such column", "set trial_type=null"))
        rows &= events["trial_type"].astype(str) == str(trial_type)
    if not rows.any():
        raise DataFormatError(format_problem(where, "at least one event with a stim_file", "none",
                                             "check trial_type and the stim_file column"))
    return events[rows].reset_index(drop=True)


def responses_from_recording(recording: IEEGRecording, events: pd.DataFrame, preprocessing: Preprocessing,
                             tmin: float = -2.0, tmax: float = 4.5, bin_width: float = 0.2, subject: str = "01"):
    """Preprocess and epoch one recording.

    Returns
    -------
    responses : float32 array of shape (n_kept, n_electrodes, n_times)
    times : array of shape (n_times,)
    kept : indices of the kept rows of ``events``
    channels : DataFrame (id, hemisphere, rois = (shaft,), x, y, z in mm)
    report : dict (bad channels, dropped epochs, clipped samples, preprocessing options)
    """
    good, bads, positions = picked_channels(recording)
    if bads:
        log.warning("%s: %d bad channel(s) from channels.tsv excluded: %s", recording.path.name, len(bads), bads)
    raw = recording.raw
    data = raw.get_data(picks=good)
    data, names, positions, report = preprocess(data, raw.info["sfreq"], good, preprocessing, positions)
    epochs, times, kept, n_dropped = epoch_bins(data, raw.info["sfreq"], events["onset"].to_numpy(float), tmin,
                                                tmax, bin_width, where=f"{recording.path.name} events.tsv onset")
    shafts = [(parse_contact(n.split("-")[0]) or (n, 0))[0] for n in names]
    hemisphere = ["" if not np.isfinite(x) else ("lh" if x < 0 else "rh") for x in positions[:, 0]]
    channels = make_channel_table(len(names), rois=[(s,) for s in shafts], hemisphere=hemisphere,
                                  x=positions[:, 0], y=positions[:, 1], z=positions[:, 2])
    channels["id"] = names
    report.update(bad_channels=bads, n_dropped_epochs=n_dropped, n_events=int(len(events)), subject=subject)
    return epochs, times, kept, channels, report


def load(root=None, subject: str = "01", session=None, task=None, run=None, reference: str = "bipolar",
         notch_freqs=(50.0, 100.0, 150.0), band=None, high_gamma: bool = True, high_gamma_band=(70.0, 150.0),
         n_subbands: int = 4, zscore: bool = True, despike_threshold=8.0, tmin: float = -2.0, tmax: float = 4.5,
         bin_width: float = 0.2, trial_type=None, test_fraction: float = 0.2) -> Dataset:
    """Load one subject's recording of a BIDS iEEG dataset as binned high-gamma responses to image events.

    Parameters
    ----------
    root : path of the BIDS dataset
    subject, session, task, run : BIDS entities selecting one recording
    reference : {"none", "average", "bipolar", "laplacian"}
    notch_freqs : list of float (Hz), empty for none
    band : (low, high) Hz band-pass, or None
    high_gamma : bool
    high_gamma_band : (low, high) Hz
    n_subbands : int
    zscore : bool
    despike_threshold : float (robust SDs) or None
    tmin, tmax, bin_width : epoch window and bin width (s)
    trial_type : str, optional
        Keep only events of this trial_type (default: every event with a stim_file).
    test_fraction : float
        The last events (in time order) form the test split.

    Returns
    -------
    Dataset with ``stimuli`` (one per kept event, id ``"<row>_<stim_file stem>"``), ``responses``
    (modality "seeg", (n_events, n_electrodes, n_times), ``times`` in s), ``splits`` (train/test
    in time order) and ``meta`` (captions, onsets, bad channels, dropped epochs, preprocessing report).
    """
    if root is None:
        raise DataFormatError(format_problem("bids_ieeg root", "the path of a BIDS iEEG dataset", "None",
                                             "pass root=/path/to/bids"))
    recording = read_recording(root, subject, session, task, run)
    events = event_table(recording, trial_type)
    options = Preprocessing(reference=reference, notch_freqs=list(notch_freqs or []),
                            band=None if band is None else tuple(band), high_gamma=bool(high_gamma),
                            high_gamma_band=tuple(high_gamma_band), n_subbands=int(n_subbands), zscore=bool(zscore),
                            despike_threshold=despike_threshold)
    epochs, times, kept, channels, report = responses_from_recording(recording, events, options, tmin, tmax,
                                                                     bin_width, subject)
    events = events.iloc[kept].reset_index(drop=True)
    paths = [Path(root) / str(f) for f in events["stim_file"]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataFormatError(format_problem("events.tsv stim_file", "image files under the dataset root",
                                             f"{len(missing)} missing, e.g. {missing[:2]}",
                                             "put the stimuli under <root>/ as named in stim_file"))
    ids = [f"{int(i):04d}_{Path(str(f)).stem}" for i, f in zip(kept, events["stim_file"])]
    captions = [str(c) for c in events["caption"]] if "caption" in events.columns else [""] * len(ids)
    responses = BrainResponses(responses=epochs, stimulus_ids=ids, channels=channels, subject=f"sub-{subject}",
                               modality="seeg", times=times, meta={"captions": captions})
    n_test = max(1, int(round(test_fraction * len(ids)))) if len(ids) > 1 else 0
    splits = {"train": ids[:len(ids) - n_test], "test": ids[len(ids) - n_test:]} if n_test else {"train": ids}
    meta = {"captions": captions, "onsets": events["onset"].to_numpy(float).tolist(), "recording": str(recording.path),
            **report}
    log.info("bids_ieeg sub-%s: %d events x %d electrodes x %d bins; %d bad channel(s), %d epoch(s) dropped",
             subject, *epochs.shape, len(report["bad_channels"]), report["n_dropped_epochs"])
    return Dataset(name="bids_ieeg", stimuli=Stimuli.from_paths(ids, paths), responses=responses, splits=splits,
                   card=CARD, meta=meta)


def write_example(root: Path) -> dict:
    """A tiny BIDS iEEG dataset (one subject, 8 contacts, 16 image events) written by the SEEG simulator."""
    from cogmodels.datasets.seeg_sim import write_dataset

    write_dataset(Path(root) / "bids", n_subjects=1, n_events=16, n_per_class=2, sfreq=400.0, n_pretrain=4, seed=0)
    return {"root": Path(root) / "bids", "subject": "01", "reference": "bipolar", "high_gamma_band": (70.0, 150.0),
            "tmin": -0.4, "tmax": 1.2, "bin_width": 0.2}


DATASETS.register("bids_ieeg", load, example=write_example, description=__doc__)
