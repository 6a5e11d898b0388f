"""Metrics take the screen and px/deg from a ScreenGeometry; off-screen fixations in MultiMatch are not silent."""

import warnings

import numpy as np
import pytest

from cogmodels.data import Scanpath, ScreenGeometry
from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.metrics import gaze, saliency

SCREEN = ScreenGeometry(width_px=800, height_px=600, px_per_deg=24.0)


def path(points, durations=None):
    x, y = np.asarray(points, dtype=float).T
    return Scanpath.from_arrays(x, y, duration=np.full(len(x), 200.0) if durations is None else durations)


ON = path([(100, 100), (300, 120), (500, 400)])
FAR = path([(100, 100), (3000, 120), (500, 400)])  # 2200 px beyond the right edge


def test_a_geometry_is_a_screen_size():
    other = path([(120, 90), (320, 140), (480, 380)])
    np.testing.assert_array_equal(gaze.multimatch(ON, other, SCREEN), gaze.multimatch(ON, other, (800, 600)))
    assert gaze.scanmatch(ON, other, SCREEN) == gaze.scanmatch(ON, other, (800, 600))
    assert gaze.edit_distance(ON, other, SCREEN) == gaze.edit_distance(ON, other, (800, 600))
    assert gaze.sequence_score(ON, other, SCREEN) == gaze.sequence_score(ON, other, (800, 600))


def test_off_screen_fixations_raise_by_default_naming_the_scanpath():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataFormatError, match=r"multimatch a/b: expected fixations on the 800 x 600 px screen.*"
                                                  r"found 1 fixation\(s\) in 1 scanpath\(s\) beyond the screen, "
                                                  r"first in b\[1\] at x=3000, y=120.*Fix: pass the screen the "
                                                  r"coordinates refer to.*off_screen='clip'"):
            gaze.multimatch([ON, ON], [ON, FAR], SCREEN)


def test_off_screen_clip_warns_and_stays_in_range():
    # The silent result this replaces: position similarity far below 0 (the audit saw -3.7).
    with pytest.warns(UserWarning, match=r"multimatch: clipped 1 fixation\(s\) in 1 scanpath\(s\)"):
        clipped = gaze.multimatch(ON, FAR, SCREEN, off_screen="clip")
    assert ((clipped >= 0) & (clipped <= 1)).all()
    inside = path([(100, 100), (800, 120), (500, 400)])  # what clipping does to FAR
    np.testing.assert_array_equal(clipped, gaze.multimatch(ON, inside, SCREEN))
    with pytest.raises(ConfigError, match=r"off_screen: expected \"raise\" or \"clip\", found 'ignore'"):
        gaze.multimatch(ON, FAR, SCREEN, off_screen="ignore")


def test_fixations_on_the_edge_are_on_the_screen():
    edge = path([(0, 0), (800, 600), (0, 600)])
    assert np.isfinite(gaze.multimatch(edge, ON, SCREEN)).all()


def test_fixation_density_needs_px_per_deg_or_a_geometry():
    xy = [[40.0, 30.0]]
    np.testing.assert_array_equal(saliency.fixation_density(xy, (80, 60), 1.0, geometry=SCREEN),
                                  saliency.fixation_density(xy, (80, 60), 1.0, 24.0))
    with pytest.raises(ConfigError, match=r"fixation_density px_per_deg: expected .*found neither.*Fix: pass"):
        saliency.fixation_density(xy, (80, 60), 1.0)
    with pytest.raises(ConfigError, match=r"px_per_deg: expected .*found 800 x 600 px with no angular resolution"):
        saliency.fixation_density(xy, (80, 60), 1.0, geometry=ScreenGeometry(800, 600))


def test_foveation_needs_px_per_deg_or_a_geometry():
    from cogmodels.backbones.foveation import foveate

    image = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    np.testing.assert_array_equal(foveate(image, (10, 10), geometry=ScreenGeometry(48, 32, px_per_deg=8.0)),
                                  foveate(image, (10, 10), px_per_deg=8.0))
    with pytest.raises(ConfigError, match=r"foveate px_per_deg: expected .*found neither.*Fix: pass px_per_deg"):
        foveate(image, (10, 10))


def test_plot_scanpaths_draws_a_blank_canvas_as_the_screen():
    import matplotlib

    matplotlib.use("Agg")
    from cogmodels.viz.gaze import plot_scanpaths

    figure = plot_scanpaths(None, [ON], screen=SCREEN)
    ax = figure.axes[0]
    assert sorted(ax.get_xlim()) == [0.0, 800.0] and sorted(ax.get_ylim()) == [0.0, 600.0]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # y down, as on a screen
