"""Preprocessing steps on synthetic signals: each step does what it says, and bad input is a typed error."""

import numpy as np
import pytest

from cogmodels.datasets.bids_ieeg_preprocess import (
    Preprocessing, check_band, despike, epoch_bins, high_gamma, parse_contact, preprocess, rereference)
from cogmodels.errors import DataFormatError


def test_contact_names_give_shafts():
    assert parse_contact("L'12") == ("L'", 12)
    assert parse_contact("A1") == ("A", 1)
    assert parse_contact("EKG") is None


def test_bipolar_pairs_consecutive_contacts_on_a_shaft():
    names = ["A1", "A2", "A3", "B'1", "B'2"]
    data = np.arange(5, dtype=float)[:, None] * np.ones((1, 10))
    out, new, pos = rereference(data, names, "bipolar", np.arange(15, dtype=float).reshape(5, 3))
    assert new == ["A1-A2", "A2-A3", "B'1-B'2"]
    np.testing.assert_allclose(out[:, 0], [-1, -1, -1])
    np.testing.assert_allclose(pos[0], [1.5, 2.5, 3.5])


def test_laplacian_and_average():
    names = ["A1", "A2", "A3"]
    data = np.array([[1.0], [5.0], [3.0]])
    lap, _, _ = rereference(data, names, "laplacian")
    np.testing.assert_allclose(lap[:, 0], [1 - 5, 5 - 2, 3 - 5])
    car, _, _ = rereference(data, names, "average")
    np.testing.assert_allclose(car.sum(0), 0, atol=1e-12)


def test_a_band_above_nyquist_is_a_typed_error():
    with pytest.raises(DataFormatError, match="Nyquist"):
        check_band(200.0, (70, 150), "preprocessing.high_gamma_band")
    with pytest.raises(DataFormatError, match="sampling rate above 300"):
        preprocess(np.zeros((2, 1000)), 200.0, ["A1", "A2"], Preprocessing(reference="none"))


def test_high_gamma_follows_the_amplitude_of_a_modulated_carrier():
    sfreq, rng = 500.0, np.random.default_rng(0)
    t = np.arange(0, 20, 1 / sfreq)
    envelope = 1 + 0.8 * (np.sin(2 * np.pi * 0.5 * t) > 0)
    carrier = np.fft.irfft(np.where((np.fft.rfftfreq(t.size, 1 / sfreq) > 75) & (np.fft.rfftfreq(t.size, 1 / sfreq)
                                    < 145), 1, 0) * np.exp(2j * np.pi * rng.random(t.size // 2 + 1)), t.size)
    hg = high_gamma((envelope * carrier)[None], sfreq)[0]
    inner = slice(500, -500)
    assert np.corrcoef(hg[inner], envelope[inner])[0, 1] > 0.5
    shuffled = high_gamma((rng.permutation(envelope) * carrier)[None], sfreq)[0]  # control
    assert abs(np.corrcoef(shuffled[inner], envelope[inner])[0, 1]) < 0.2


def test_despike_clips_beyond_the_stated_threshold():
    data = np.random.default_rng(1).standard_normal((1, 1000))
    data[0, 10] = 50
    out, n = despike(data, threshold=6.0)
    assert n == 1 and out[0, 10] < 10 and np.array_equal(out[0, :10], data[0, :10])


def test_epochs_average_windows_and_edges_are_dropped_with_a_count():
    sfreq = 100.0
    data = np.tile(np.arange(1000, dtype=float), (2, 1))  # value = sample index
    with pytest.warns(UserWarning, match="2 of 3 epochs overlap a recording edge"):
        epochs, times, kept, dropped = epoch_bins(data, sfreq, [0.5, 5.0, 9.5], tmin=-1.0, tmax=1.0, bin_width=0.5)
    assert dropped == 2 and kept.tolist() == [1]
    np.testing.assert_allclose(times, [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_allclose(epochs[0, 0], [424.5, 474.5, 524.5, 574.5])  # means of 50-sample windows


def test_events_outside_the_recording_are_a_typed_error():
    with pytest.raises(DataFormatError, match="outside"):
        epoch_bins(np.zeros((1, 1000)), 100.0, [2.0, 12.0])


def test_the_bins_reach_tmax_with_a_shorter_last_bin():
    sfreq = 100.0
    data = np.tile(np.arange(1000, dtype=float), (1, 1))  # value = sample index
    epochs, times, kept, _ = epoch_bins(data, sfreq, [5.0], tmin=-2.0, tmax=4.5, bin_width=0.2)
    assert times.size == 33 and times[0] == pytest.approx(-1.9) and times[-1] == pytest.approx(4.45)
    assert epochs[0, 0, 0] == pytest.approx(np.mean(np.arange(300, 320)))  # -2.0 to -1.8 s around 5.0 s
    assert epochs[0, 0, -1] == pytest.approx(np.mean(np.arange(940, 950)))  # 4.4 to 4.5 s: 10 samples
    # a remainder under half a bin is left out: -2.0 to 4.45 s is 32 whole bins + 0.05 s
    _, times, _, _ = epoch_bins(data, sfreq, [5.0], tmin=-2.0, tmax=4.45, bin_width=0.2)
    assert times.size == 32 and times[-1] == pytest.approx(4.3)
