"""Screen geometry: pixels <-> degrees of visual angle.

All conversions use the exact trigonometric relation between a distance on
the screen and the angle it subtends at the eye,

    angle = atan(offset / distance),

measured from the point of the screen straight ahead of the eye (the screen
centre, by assumption).  The small-angle approximation ``angle = offset /
distance`` overestimates angles by 1 % at 10 deg and 4 % at 20 deg, which
matters on wide screens, so it is not used.

A single "pixels per degree" number can only be an average, because a pixel
subtends less angle at the edge of a flat screen than at its centre.  We
report the mean over the full screen width,

    px_per_deg = width_px / (2 * degrees(atan(width_mm / (2 * distance_mm)))),

which is the convention of most eye-tracking software.  When positions must
be exact (velocities for I-VT, dispersions for I-DT), use
:meth:`ScreenGeometry.pixels_to_degrees` on each sample instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cogmodels.errors import ConfigError, DataFormatError, format_problem


@dataclass(frozen=True)
class ScreenGeometry:
    """A flat screen viewed head-on from its centre.

    Parameters
    ----------
    width_px, height_px : int
        Screen resolution in pixels.
    width_mm, height_mm : float
        Physical size of the visible screen area in millimetres.
    distance_mm : float
        Distance from the eye to the screen centre in millimetres.

    Examples
    --------
    >>> geo = ScreenGeometry.from_cm(1920, 1080, 53.0, 30.0, 60.0)
    >>> round(geo.px_per_deg, 2)
    40.29
    """

    width_px: int
    height_px: int
    width_mm: float
    height_mm: float
    distance_mm: float

    def __post_init__(self):
        for name in ("width_px", "height_px", "width_mm", "height_mm", "distance_mm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value > 0):
                raise ConfigError(format_problem(
                    f"ScreenGeometry.{name}", "a positive finite number", repr(value),
                    "give the screen resolution (px), its size (mm or cm) and the viewing distance"))

    @classmethod
    def from_cm(cls, width_px: int, height_px: int, width_cm: float, height_cm: float,
                distance_cm: float) -> "ScreenGeometry":
        """Build from sizes in centimetres."""
        return cls(int(width_px), int(height_px), 10.0 * width_cm, 10.0 * height_cm, 10.0 * distance_cm)

    @property
    def mm_per_px(self) -> tuple[float, float]:
        """Physical size of one pixel (horizontal, vertical) in millimetres."""
        return self.width_mm / self.width_px, self.height_mm / self.height_px

    @property
    def size_deg(self) -> tuple[float, float]:
        """Full screen width and height in degrees of visual angle (exact)."""
        return (2.0 * math.degrees(math.atan(self.width_mm / (2.0 * self.distance_mm))),
                2.0 * math.degrees(math.atan(self.height_mm / (2.0 * self.distance_mm))))

    @property
    def px_per_deg(self) -> float:
        """Horizontal pixels per degree, averaged over the full screen width (exact atan formula)."""
        return self.width_px / self.size_deg[0]

    @property
    def px_per_deg_xy(self) -> tuple[float, float]:
        """Pixels per degree averaged over the width and over the height."""
        width_deg, height_deg = self.size_deg
        return self.width_px / width_deg, self.height_px / height_deg

    def px_per_deg_at_center(self) -> float:
        """Horizontal pixels spanned by the central degree: 2 d tan(0.5 deg) / mm_per_px."""
        return 2.0 * self.distance_mm * math.tan(math.radians(0.5)) / self.mm_per_px[0]

    def pixels_to_degrees(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Screen pixels to degrees of visual angle from the screen centre.

        Parameters
        ----------
        x, y : array-like of shape (n_samples,)
            Pixels, origin at the top-left corner of the screen.

        Returns
        -------
        deg_x, deg_y : arrays of shape (n_samples,)
            ``atan(offset_mm / distance_mm)`` in degrees, per axis; positive
            to the right and downwards.  NaN stays NaN.
        """
        mm_x, mm_y = self.mm_per_px
        dx = (np.asarray(x, dtype=float) - self.width_px / 2.0) * mm_x
        dy = (np.asarray(y, dtype=float) - self.height_px / 2.0) * mm_y
        return np.degrees(np.arctan2(dx, self.distance_mm)), np.degrees(np.arctan2(dy, self.distance_mm))

    def degrees_to_pixels(self, deg_x, deg_y) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`pixels_to_degrees`."""
        mm_x, mm_y = self.mm_per_px
        x = self.distance_mm * np.tan(np.radians(np.asarray(deg_x, dtype=float))) / mm_x + self.width_px / 2.0
        y = self.distance_mm * np.tan(np.radians(np.asarray(deg_y, dtype=float))) / mm_y + self.height_px / 2.0
        return x, y


def resolution_from_coords(coords, where: str = "DISPLAY_COORDS") -> tuple[int, int]:
    """Screen (width, height) in pixels from EyeLink ``left top right bottom`` coordinates.

    EyeLink's convention is inclusive (``0 0 1279 1023`` is 1280 x 1024); some
    experiment software writes the width and height instead (``0 0 1920 1080``),
    so a right edge that is a round width is read as such.
    """
    try:
        left, top, right, bottom = (float(v) for v in coords)
    except (TypeError, ValueError):
        raise DataFormatError(format_problem(where, "four numbers 'left top right bottom'", repr(coords),
                                             "check the message in the recording")) from None
    width, height = right - left, bottom - top
    # Inclusive coordinates end on an odd number (1279, 1023); exclusive ones on an even width.
    width = int(round(width)) + (1 if int(round(right)) % 2 == 1 else 0)
    height = int(round(height)) + (1 if int(round(bottom)) % 2 == 1 else 0)
    if width <= 0 or height <= 0:
        raise DataFormatError(format_problem(where, "a positive screen size", f"{width} x {height} px",
                                             "check the message in the recording"))
    return width, height


def check_geometry_matches(geometry: ScreenGeometry, resolution: tuple[int, int], where: str) -> None:
    """Raise if the screen resolution recorded in a file disagrees with ``geometry``.

    A 1-pixel difference is tolerated (inclusive vs exclusive coordinates).
    """
    width, height = resolution
    if abs(width - geometry.width_px) > 1 or abs(height - geometry.height_px) > 1:
        raise DataFormatError(format_problem(
            where, f"a screen of {geometry.width_px} x {geometry.height_px} px (the given geometry)",
            f"{width} x {height} px recorded in the file",
            "pass the geometry of the screen used in this recording (width_px, height_px)"))


def check_samples_on_screen(x, y, geometry: ScreenGeometry, where: str, *, margin: float = 0.1,
                            max_fraction: float = 0.1) -> None:
    """Raise if too many gaze samples fall beyond the screen.

    Trackers legitimately report some gaze just off the screen, so only a
    large fraction of samples beyond the screen extended by ``margin`` (a
    fraction of its size on each side) is treated as a geometry mismatch.

    Parameters
    ----------
    x, y : arrays of shape (n_samples,)
        Pixels; NaN (missing) samples are ignored.
    margin : float
        Tolerance on each side, as a fraction of the screen width/height.
    max_fraction : float
        Largest accepted fraction of valid samples beyond the tolerance.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    valid = np.isfinite(x) & np.isfinite(y)
    if not valid.any():
        return
    mx, my = margin * geometry.width_px, margin * geometry.height_px
    outside = ((x < -mx) | (x > geometry.width_px + mx) | (y < -my) | (y > geometry.height_px + my)) & valid
    fraction = outside.sum() / valid.sum()
    if fraction > max_fraction:
        raise DataFormatError(format_problem(
            where, f"gaze samples on a {geometry.width_px} x {geometry.height_px} px screen "
                   f"(at most {max_fraction:.0%} beyond it, {margin:.0%} margin)",
            f"{int(outside.sum())} of {int(valid.sum())} samples ({fraction:.0%}) beyond it, "
            f"x in [{np.nanmin(x):.0f}, {np.nanmax(x):.0f}], y in [{np.nanmin(y):.0f}, {np.nanmax(y):.0f}]",
            "pass the geometry of the screen used in this recording"))


def px_per_deg_from_saccades(events: pd.DataFrame, min_amplitude: float = 1.0) -> float:
    """Estimate pixels per degree from the tracker's saccades: median(pixel length / amplitude).

    The tracker computes each saccade's amplitude in degrees with its own
    (position-dependent) resolution, so the ratio recovers that resolution
    for recordings whose END line (RES) is missing.  Saccades shorter than
    ``min_amplitude`` degrees are left out, since their amplitudes are
    rounded to 0.01 deg.

    Parameters
    ----------
    events : DataFrame with columns type, x_start, y_start, x_end, y_end, amplitude

    Returns
    -------
    float
    """
    sacc = events[events["type"] == "saccade"]
    length = np.hypot(sacc["x_end"] - sacc["x_start"], sacc["y_end"] - sacc["y_start"]).to_numpy(float)
    amplitude = sacc["amplitude"].to_numpy(float)
    usable = np.isfinite(length) & np.isfinite(amplitude) & (amplitude >= min_amplitude) & (amplitude < 90)
    if not usable.any():
        raise DataFormatError(format_problem("events", f"saccades of at least {min_amplitude} deg with start, end "
                                                       "and amplitude", f"{len(sacc)} saccades, none usable",
                                             "pass the screen geometry instead"))
    return float(np.median(length[usable] / amplitude[usable]))
