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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cogmodels.errors import ConfigError, DataFormatError, format_problem


@dataclass(frozen=True)
class ScreenGeometry:
    """The screen the gaze coordinates refer to: its size in pixels and, where known, its angular resolution.

    Two ways to build one:

    - from the physical setup (size in mm or cm and viewing distance): all
      conversions use the exact ``atan`` relation (module docstring), and
      ``px_per_deg`` is computed;
    - from pixels per degree alone (``px_per_deg=``, or
      :meth:`from_px_per_deg`), when the release states only that: the
      conversions are then linear, ``deg = (px - centre) / px_per_deg``.

    A geometry with neither knows only the screen size; asking it for degrees
    raises :class:`~cogmodels.errors.ConfigError` naming what to add.

    Every loader sets one on :class:`~cogmodels.data.Fixations` and
    :class:`~cogmodels.data.GazeSamples` (``.geometry``).  Metrics and models
    that need a screen size (MultiMatch, ScanMatch, grid strings) or degrees
    (fixation densities, velocity thresholds, foveation) read it from the data
    or take it as an explicit argument; no module keeps a px/deg default.

    Parameters
    ----------
    width_px, height_px : int
        Screen resolution in pixels, in the units of the gaze coordinates
        (the "screen" of data recorded in image pixels is the image area).
    width_mm, height_mm : float, optional
        Physical size of the visible screen area in millimetres (both or neither).
    distance_mm : float, optional
        Distance from the eye to the screen centre in millimetres.
    px_per_deg : float, optional
        Pixels per degree of visual angle.  Computed from the physical size
        and distance when those are given (a value given as well must agree
        within 1 %); otherwise as given, or None (unknown).
    source : str
        Where the numbers come from (e.g. "assumed: the release records no
        geometry"); stated in run provenance, ignored by ``==``.

    Examples
    --------
    >>> geo = ScreenGeometry.from_cm(1920, 1080, 53.0, 30.0, 60.0)
    >>> round(geo.px_per_deg, 2)
    40.29
    >>> ScreenGeometry(width_px=800, height_px=600, px_per_deg=24.0).size_deg
    (33.333333333333336, 25.0)
    """

    width_px: int
    height_px: int
    width_mm: float | None = None
    height_mm: float | None = None
    distance_mm: float | None = None
    px_per_deg: float | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self):
        for name in ("width_px", "height_px", "width_mm", "height_mm", "distance_mm", "px_per_deg"):
            value = getattr(self, name)
            if value is None and name not in ("width_px", "height_px"):
                continue
            if not (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
                    and math.isfinite(value) and value > 0):
                raise ConfigError(format_problem(
                    f"ScreenGeometry.{name}", "a positive finite number", repr(value),
                    "give the screen resolution (px) and either its size (mm or cm) with the viewing distance, "
                    "or px_per_deg"))
        if (self.width_mm is None) != (self.height_mm is None):
            raise ConfigError(format_problem(
                "ScreenGeometry.width_mm / height_mm", "both or neither",
                f"width_mm={self.width_mm!r}, height_mm={self.height_mm!r}", "give the full visible screen size"))
        object.__setattr__(self, "width_px", int(self.width_px))
        object.__setattr__(self, "height_px", int(self.height_px))
        if self.is_physical:
            computed = self.width_px / self.size_deg[0]
            if self.px_per_deg is not None and abs(self.px_per_deg - computed) > 0.01 * computed:
                raise ConfigError(format_problem(
                    "ScreenGeometry.px_per_deg", f"{computed:.3f} px/deg (from the size and distance given)",
                    f"{self.px_per_deg!r}", "give either the physical size and distance, or px_per_deg"))
            object.__setattr__(self, "px_per_deg", float(computed))
        elif self.px_per_deg is not None:
            object.__setattr__(self, "px_per_deg", float(self.px_per_deg))

    @classmethod
    def from_cm(cls, width_px: int, height_px: int, width_cm: float, height_cm: float,
                distance_cm: float, source: str = "") -> "ScreenGeometry":
        """Build from sizes in centimetres."""
        return cls(int(width_px), int(height_px), 10.0 * width_cm, 10.0 * height_cm, 10.0 * distance_cm,
                   source=source)

    @classmethod
    def from_px_per_deg(cls, width_px: int, height_px: int, px_per_deg: float, *, distance_mm: float | None = None,
                        source: str = "") -> "ScreenGeometry":
        """Build from the resolution and pixels per degree alone (linear conversions)."""
        return cls(width_px, height_px, distance_mm=distance_mm, px_per_deg=px_per_deg, source=source)

    def with_px_per_deg(self, px_per_deg: float, source: str = "") -> "ScreenGeometry":
        """The same screen size with another px/deg (the physical size is dropped: it would disagree)."""
        return ScreenGeometry(self.width_px, self.height_px, distance_mm=self.distance_mm, px_per_deg=px_per_deg,
                              source=source or self.source)

    # -- what is known ---------------------------------------------------------------------------
    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) in pixels: the ``screen_size`` of the scanpath metrics."""
        return self.width_px, self.height_px

    @property
    def is_physical(self) -> bool:
        """True when the physical size and the viewing distance are known (exact atan conversions)."""
        return self.width_mm is not None and self.distance_mm is not None

    @property
    def has_degrees(self) -> bool:
        """True when pixels can be converted to degrees (physical setup or px_per_deg known)."""
        return self.px_per_deg is not None

    def require_px_per_deg(self, where: str = "screen geometry") -> float:
        """``px_per_deg``, or a :class:`ConfigError` naming ``where`` when it is unknown."""
        if self.px_per_deg is None:
            raise ConfigError(format_problem(
                f"{where} px_per_deg", "a screen geometry with pixels per degree (or size and viewing distance)",
                f"{self.width_px} x {self.height_px} px with no angular resolution ({self.source or 'no source'})",
                "pass px_per_deg=... explicitly, or load the data with its geometry"))
        return self.px_per_deg

    def describe(self) -> str:
        """One line for logs and provenance, e.g. ``800 x 600 px, 24 px/deg (assumed ...)``."""
        parts = [f"{self.width_px} x {self.height_px} px"]
        parts.append(f"{self.px_per_deg:g} px/deg" if self.px_per_deg is not None else "px/deg unknown")
        if self.is_physical:
            parts.append(f"{self.width_mm:g} x {self.height_mm:g} mm at {self.distance_mm:g} mm")
        elif self.distance_mm is not None:
            parts.append(f"viewing distance {self.distance_mm:g} mm")
        return ", ".join(parts) + (f" ({self.source})" if self.source else "")

    def to_dict(self) -> dict:
        """Plain fields (for provenance JSON)."""
        return {name: getattr(self, name) for name in
                ("width_px", "height_px", "width_mm", "height_mm", "distance_mm", "px_per_deg", "source")}

    # -- conversions -----------------------------------------------------------------------------
    @property
    def mm_per_px(self) -> tuple[float, float]:
        """Physical size of one pixel (horizontal, vertical) in millimetres."""
        if self.width_mm is None:
            raise ConfigError(format_problem("ScreenGeometry.width_mm", "the physical screen size",
                                             "None (built from px_per_deg)", "give width_mm and height_mm"))
        return self.width_mm / self.width_px, self.height_mm / self.height_px

    @property
    def size_deg(self) -> tuple[float, float]:
        """Full screen width and height in degrees of visual angle (exact; linear without a physical size)."""
        if self.is_physical:
            return (2.0 * math.degrees(math.atan(self.width_mm / (2.0 * self.distance_mm))),
                    2.0 * math.degrees(math.atan(self.height_mm / (2.0 * self.distance_mm))))
        ppd = self.require_px_per_deg("ScreenGeometry.size_deg")
        return self.width_px / ppd, self.height_px / ppd

    @property
    def px_per_deg_xy(self) -> tuple[float, float]:
        """Pixels per degree averaged over the width and over the height."""
        width_deg, height_deg = self.size_deg
        return self.width_px / width_deg, self.height_px / height_deg

    def px_per_deg_at_center(self) -> float:
        """Horizontal pixels spanned by the central degree: 2 d tan(0.5 deg) / mm_per_px (px_per_deg if linear)."""
        if not self.is_physical:
            return self.require_px_per_deg("ScreenGeometry.px_per_deg_at_center")
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
            ``atan(offset_mm / distance_mm)`` in degrees, per axis (linear
            ``offset_px / px_per_deg`` without a physical size); positive to
            the right and downwards.  NaN stays NaN.
        """
        dx_px = np.asarray(x, dtype=float) - self.width_px / 2.0
        dy_px = np.asarray(y, dtype=float) - self.height_px / 2.0
        if not self.is_physical:
            ppd = self.require_px_per_deg("ScreenGeometry.pixels_to_degrees")
            return dx_px / ppd, dy_px / ppd
        mm_x, mm_y = self.mm_per_px
        return (np.degrees(np.arctan2(dx_px * mm_x, self.distance_mm)),
                np.degrees(np.arctan2(dy_px * mm_y, self.distance_mm)))

    def degrees_to_pixels(self, deg_x, deg_y) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`pixels_to_degrees`."""
        deg_x, deg_y = np.asarray(deg_x, dtype=float), np.asarray(deg_y, dtype=float)
        if not self.is_physical:
            ppd = self.require_px_per_deg("ScreenGeometry.degrees_to_pixels")
            return deg_x * ppd + self.width_px / 2.0, deg_y * ppd + self.height_px / 2.0
        mm_x, mm_y = self.mm_per_px
        x = self.distance_mm * np.tan(np.radians(deg_x)) / mm_x + self.width_px / 2.0
        y = self.distance_mm * np.tan(np.radians(deg_y)) / mm_y + self.height_px / 2.0
        return x, y


def as_screen_size(screen, where: str = "screen_size"):
    """``(width, height)`` in pixels from a ScreenGeometry, or ``screen`` unchanged (validated by the caller)."""
    return screen.size_px if isinstance(screen, ScreenGeometry) else screen


def resolve_px_per_deg(px_per_deg=None, geometry: "ScreenGeometry | None" = None, where: str = "px_per_deg") -> float:
    """Pixels per degree from an explicit number, else from a geometry; a ConfigError when neither gives one.

    The one place where "explicit argument, else the data's geometry" is decided, so that no caller
    keeps a default of its own.
    """
    if isinstance(px_per_deg, ScreenGeometry):
        px_per_deg, geometry = None, px_per_deg
    if px_per_deg is not None:
        if not (isinstance(px_per_deg, (int, float, np.integer, np.floating)) and math.isfinite(px_per_deg)
                and px_per_deg > 0):
            raise ConfigError(format_problem(where, "a positive number of pixels per degree", repr(px_per_deg),
                                             "measure it from the screen geometry"))
        return float(px_per_deg)
    if geometry is None:
        raise ConfigError(format_problem(where, "pixels per degree: px_per_deg=... or a ScreenGeometry",
                                         "neither", "pass px_per_deg=..., or geometry=data.geometry "
                                                    "(every loader sets Fixations.geometry)"))
    return geometry.require_px_per_deg(where)


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


def recorded_geometry(block: dict, px_per_deg: float | None, source: str, where: str) -> ScreenGeometry | None:
    """An EyeLink block's screen: the size from its GAZE_COORDS (else DISPLAY_COORDS), with the tracker's px/deg.

    ``block`` holds ``gaze_coords`` / ``display_coords`` ("left top right bottom" strings or None); None
    when neither was recorded.  ``source`` says where ``px_per_deg`` came from (e.g. "END RES").
    """
    for name in ("gaze_coords", "display_coords"):
        if block.get(name) is not None:
            width, height = resolution_from_coords(block[name], f"{where} {name.upper()}")
            return ScreenGeometry(width, height, px_per_deg=px_per_deg,
                                  source=f"{name.upper()} of the recording; px/deg: {source}")
    return None


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
