"""BIDS iEEG reader: the simulator's dataset reads back; bad input gets typed errors; the shared real SEEG
recording reads, preprocesses (bipolar, high gamma) and round-trips through BIDS."""

import shutil

import numpy as np
import pandas as pd
import pytest

from cogmodels.datasets import bids_ieeg
from cogmodels.datasets.bids_ieeg_preprocess import Preprocessing, high_gamma, preprocess, rereference
from cogmodels.errors import DataFormatError


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    root = tmp_path_factory.mktemp("bids_ieeg")
    return bids_ieeg.write_example(root)


def test_the_example_loads_as_binned_seeg_responses(example):
    ds = bids_ieeg.load(**example)
    responses = ds.responses
    assert responses.modality == "seeg" and responses.responses.ndim == 3
    assert responses.responses.shape == (16, 5, 8)  # 5 shafts of 2 contacts -> 5 bipolar pairs; 8 bins
    assert list(responses.channels["id"])[:2] == ["V1-V2", "L1-L2"]
    assert np.isfinite(responses.channels[["x", "y", "z"]].to_numpy()).all()
    assert len(ds.meta["captions"]) == 16 and ds.meta["bad_channels"] == []


def _copy(example, tmp_path):
    root = tmp_path / "bids"
    shutil.copytree(example["root"], root)
    return root, {**example, "root": root}


def test_bad_channels_are_excluded_and_reported(example, tmp_path):
    root, options = _copy(example, tmp_path)
    (channels_file,) = root.rglob("*_channels.tsv")
    table = pd.read_csv(channels_file, sep="\t")
    table.loc[table["name"] == "V1", "status"] = "bad"
    table.to_csv(channels_file, sep="\t", index=False, na_rep="n/a")
    ds = bids_ieeg.load(**options)
    assert ds.meta["bad_channels"] == ["V1"]
    assert "V1-V2" not in list(ds.responses.channels["id"])


def test_an_electrode_without_a_channel_is_a_typed_error(example, tmp_path):
    root, options = _copy(example, tmp_path)
    (electrodes_file,) = root.rglob("*_electrodes.tsv")
    with open(electrodes_file, "a") as handle:
        handle.write("Z9\t0.01\t0.02\t0.03\tn/a\n")
    with pytest.raises(DataFormatError, match="electrode.*with no channel.*Z9"):
        bids_ieeg.load(**options)


def test_an_event_outside_the_recording_is_a_typed_error(example, tmp_path):
    root, options = _copy(example, tmp_path)
    (events_file,) = root.rglob("*_events.tsv")
    table = pd.read_csv(events_file, sep="\t")
    table.loc[3, "onset"] = 1e4
    table.to_csv(events_file, sep="\t", index=False, na_rep="n/a")
    with pytest.raises(DataFormatError, match="events.tsv onset.*outside"):
        bids_ieeg.load(**options)


def test_a_sampling_rate_too_low_for_the_band_is_a_typed_error(example):
    with pytest.raises(DataFormatError, match="Nyquist"):
        bids_ieeg.load(**{**example, "high_gamma_band": (70.0, 250.0)})


def test_epochs_over_the_edge_are_dropped_and_counted(example):
    with pytest.warns(UserWarning, match="epochs overlap a recording edge"):
        ds = bids_ieeg.load(**{**example, "tmin": -3.5})
    assert ds.meta["n_dropped_epochs"] >= 1
    assert ds.responses.responses.shape[0] == 16 - ds.meta["n_dropped_epochs"]


# -- the shared real recording --------------------------------------------------------------
@pytest.fixture(scope="module")
def real_raw():
    from cogmodels.datasets import shared_data_root

    folder = shared_data_root() / "seeg_sample"
    if not (folder / "sample_seeg.edf").is_file():
        pytest.skip(f"shared SEEG sample not found at {folder} (set COGMODELS_SHARED_DATA)")
    import mne

    raw = mne.io.read_raw_edf(folder / "sample_seeg.edf", preload=True, verbose="error")
    electrodes = pd.read_csv(folder / "sample_seeg_electrodes.tsv", sep="\t")
    raw.set_channel_types({n: ("seeg" if n in set(electrodes["name"]) else "ecg" if n.startswith("EKG") else "misc")
                           for n in raw.ch_names}, verbose="error")
    positions = {r.name: np.array([r.x, r.y, r.z]) / 1000 for r in electrodes.itertuples()}
    raw.set_montage(mne.channels.make_dig_montage(positions, coord_frame="mni_tal"), verbose="error")
    return raw, electrodes


@pytest.mark.shared_data
def test_real_recording_round_trips_through_bids(real_raw, tmp_path):
    import mne_bids

    raw, electrodes = real_raw
    path = mne_bids.BIDSPath(subject="01", task="rest", datatype="ieeg", root=tmp_path)
    mne_bids.write_raw_bids(raw, path, format="EDF", allow_preload=True, montage=raw.get_montage(), verbose="error")
    back = bids_ieeg.read_recording(tmp_path, "01", task="rest")
    assert back.raw.get_channel_types() == raw.get_channel_types()
    assert back.raw.info["sfreq"] == 1000.0 and back.raw.n_times == raw.n_times
    got = back.raw.get_montage().get_positions()["ch_pos"]
    for name, x, y, z in electrodes[["name", "x", "y", "z"]].itertuples(index=False):
        np.testing.assert_allclose(np.asarray(got[name]) * 1000, [x, y, z], atol=1e-3)
    assert list(back.raw.annotations.description) == list(raw.annotations.description)
    np.testing.assert_allclose(back.raw.annotations.onset, raw.annotations.onset, atol=1e-3)
    np.testing.assert_allclose(back.raw.get_data(picks="seeg")[:, :2000], raw.get_data(picks="seeg")[:, :2000],
                               atol=2e-6, rtol=1e-3)  # EDF stores 16-bit samples


@pytest.mark.shared_data
def test_real_recording_bipolar_and_high_gamma(real_raw):
    raw, _ = real_raw
    names = [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t == "seeg"]
    data = raw.get_data(picks=names)
    bipolar, pairs, _ = rereference(data, names, "bipolar")
    assert "L'1-L'2" in pairs and len(pairs) < len(names)
    i = pairs.index("L'1-L'2")
    np.testing.assert_allclose(bipolar[i], data[names.index("L'1")] - data[names.index("L'2")])
    envelope = high_gamma(bipolar[:4], 1000.0)
    assert envelope.shape == bipolar[:4].shape and (envelope > 0).all()
    # the envelope is slow: almost all of its power lies below the high-gamma band it was taken from
    power = np.abs(np.fft.rfft(envelope - envelope.mean(1, keepdims=True))) ** 2
    freqs = np.fft.rfftfreq(envelope.shape[1], 1 / 1000)
    assert power[:, freqs < 70].sum() > 0.9 * power.sum()
    out, out_names, _, report = preprocess(data, 1000.0, names, Preprocessing(reference="laplacian"))
    assert out_names == names and report["options"]["reference"] == "laplacian"
    assert np.all(out.std(1) <= 1 + 1e-9) and np.all(out.std(1) > 0.1)  # z-scored, then clipped (real artefacts)
    assert np.abs(out).max() <= 8 * 1.4826 * np.abs(out).max(1).max()  # bounded by the stated threshold
