"""ScreenGeometry from px/deg or the physical set-up; Fixations/GazeSamples carry it; trial order is checked."""

import math

import numpy as np
import pandas as pd
import pytest

from cogmodels.data import Fixations, GazeSamples, Scanpath, ScreenGeometry
from cogmodels.data.geometry import resolve_px_per_deg
from cogmodels.errors import ConfigError, DataFormatError

COLUMNS = ["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"]


def table(rows):
    return pd.DataFrame(rows, columns=COLUMNS)


GOOD = [("a", "s1", 0, 0, 10.0, 10.0, 0.0, 200.0), ("a", "s1", 0, 1, 50.0, 20.0, 200.0, 300.0),
        ("a", "s2", 0, 0, 30.0, 30.0, 0.0, 250.0), ("a", "s2", 0, 1, 31.0, 31.0, 250.0, 100.0)]


# -- ScreenGeometry ----------------------------------------------------------------------------------------
def test_geometry_from_px_per_deg_alone_converts_linearly():
    geo = ScreenGeometry(width_px=800, height_px=600, px_per_deg=24.0)
    assert geo == ScreenGeometry.from_px_per_deg(800, 600, 24.0, source="other words")  # source is not compared
    assert geo.size_px == (800, 600) and geo.has_degrees and not geo.is_physical
    assert geo.size_deg == pytest.approx((800 / 24, 600 / 24))
    deg_x, deg_y = geo.pixels_to_degrees([400 + 48, 400], [300, 300 - 24])
    np.testing.assert_allclose(deg_x, [2.0, 0.0]) and np.testing.assert_allclose(deg_y, [0.0, -1.0])
    back = geo.degrees_to_pixels(deg_x, deg_y)
    np.testing.assert_allclose(back, [[448, 400], [300, 276]])


def test_geometry_from_the_physical_setup_computes_px_per_deg_exactly():
    geo = ScreenGeometry(1000, 500, 400.0, 200.0, 500.0)  # positional, as before
    assert geo.is_physical and geo.px_per_deg == pytest.approx(1000 / (2 * math.degrees(math.atan(0.4))))
    assert ScreenGeometry(1000, 500, 400.0, 200.0, 500.0, px_per_deg=geo.px_per_deg * 1.005) == geo
    with pytest.raises(ConfigError, match=r"px_per_deg: expected .*from the size and distance.*found .*Fix: give"):
        ScreenGeometry(1000, 500, 400.0, 200.0, 500.0, px_per_deg=24.0)


def test_geometry_without_degrees_says_what_to_add():
    geo = ScreenGeometry(1920, 1080, source="web app")
    assert not geo.has_degrees and geo.size_px == (1920, 1080)
    with pytest.raises(ConfigError, match=r"px_per_deg: expected .*found 1920 x 1080 px .*web app.*Fix: pass"):
        geo.pixels_to_degrees([0], [0])
    with pytest.raises(ConfigError, match="width_mm / height_mm: expected both or neither"):
        ScreenGeometry(800, 600, width_mm=300.0)
    with pytest.raises(ConfigError, match=r"ScreenGeometry.px_per_deg: expected a positive finite number, found -1"):
        ScreenGeometry(800, 600, px_per_deg=-1)


def test_resolve_px_per_deg_explicit_then_geometry_never_a_default():
    geo = ScreenGeometry(800, 600, px_per_deg=24.0)
    assert resolve_px_per_deg(30.0, geo) == 30.0
    assert resolve_px_per_deg(None, geo) == 24.0 and resolve_px_per_deg(geo) == 24.0
    with pytest.raises(ConfigError, match=r"my_model px_per_deg: expected .*found neither.*Fix: pass px_per_deg"):
        resolve_px_per_deg(None, None, "my_model px_per_deg")


# -- containers carry it -----------------------------------------------------------------------------------
def test_fixations_carry_the_geometry_through_subset_and_scanpaths():
    geo = ScreenGeometry(100, 80, px_per_deg=10.0)
    fix = Fixations(table(GOOD), geometry=geo)
    assert fix.subset(subjects=["s1"]).geometry is geo and fix.require_geometry() is geo
    assert len(fix.to_scanpaths()) == 2
    again = Fixations.from_scanpaths(fix.to_scanpaths(), geometry=geo)
    assert again.geometry is geo and len(again) == len(fix)
    with pytest.raises(ConfigError, match=r"fixations.geometry: expected .*found None.*Fix: build Fixations"):
        Fixations(table(GOOD)).require_geometry()
    with pytest.raises(ConfigError, match=r"fixations.geometry: expected a cogmodels.data.ScreenGeometry.*found tuple"):
        Fixations(table(GOOD), geometry=(100, 80))


def test_gaze_samples_take_px_per_deg_from_their_geometry():
    geo = ScreenGeometry(100, 80, px_per_deg=10.0)
    samples = GazeSamples(np.arange(3.0), np.zeros(3), np.zeros(3), 1000.0, geometry=geo)
    assert samples.px_per_deg == 10.0 and samples.geometry is geo
    with pytest.raises(ConfigError, match=r"GazeSamples.px_per_deg: expected 10 \(from the geometry\), found 30"):
        GazeSamples(np.arange(3.0), np.zeros(3), np.zeros(3), 1000.0, px_per_deg=30.0, geometry=geo)


# -- bad inputs: trial order -------------------------------------------------------------------------------
def test_duplicate_fixation_index_within_a_trial_is_rejected():
    rows = GOOD + [("a", "s1", 0, 1, 60.0, 20.0, 500.0, 100.0)]
    with pytest.raises(DataFormatError, match=r"my.csv.index: expected unique fixation indices within each trial.*"
                                              r"found 1 repeated index.*index 1 twice in trial \('a', 's1', 0\).*"
                                              r"Fix: drop duplicated rows"):
        Fixations(table(rows), source="my.csv")
    # The same index in another trial, subject or image is fine.
    assert len(Fixations(table(GOOD + [("a", "s1", 1, 1, 60.0, 20.0, 0.0, 100.0)]))) == 5


def test_decreasing_onset_within_a_trial_is_rejected():
    rows = [r if r[3] != 1 or r[1] != "s2" else (*r[:6], -50.0, r[7]) for r in GOOD]
    with pytest.raises(DataFormatError, match=r"my.csv.t_onset: expected onsets that never decrease in index order.*"
                                              r"found 1 decrease\(s\); first in trial \('a', 's2', 0\): "
                                              r"index 0 at 0 ms, "
                                              r"then index 1 at -50 ms.*Fix: renumber `index` in time order"):
        Fixations(table(rows), source="my.csv")
    # Rows out of order in the file are fine: order is by index, and equal onsets are allowed.
    shuffled = table(GOOD).iloc[[3, 1, 0, 2]]
    assert [len(s) for s in Fixations(shuffled).to_scanpaths()] == [2, 2]
    ties = [(*r[:6], 0.0, r[7]) for r in GOOD]
    assert len(Fixations(table(ties))) == 4


def test_scanpaths_from_fixations_are_ordered_by_index():
    shuffled = table(GOOD).iloc[[1, 0, 3, 2]]
    first = Fixations(shuffled).to_scanpaths()[0]
    assert isinstance(first, Scanpath) and list(first.t_onset) == [0.0, 200.0]
