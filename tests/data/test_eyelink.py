"""EyeLink ASC parser and screen geometry: small hand-written files and the real shared recordings."""

import math

import numpy as np
import pytest

from cogmodels.data.eyelink import px_per_deg_from_saccades, read_asc
from cogmodels.data.geometry import ScreenGeometry, check_samples_on_screen, resolution_from_coords
from cogmodels.errors import ConfigError, DataFormatError

MONO = """\
** CONVERTED FROM test.edf
** DATE: today
**
MSG\t1000 DISPLAY_COORDS 0 0 1279 1023
MSG\t1001 !CAL calibration
\t  -65     6   -72     7
MSG\t1005 TRIALID t1
START\t1010 \tLEFT\tSAMPLES\tEVENTS
PRESCALER\t1
SAMPLES\tGAZE\tLEFT\tRATE\t 500.00\tTRACKING\tCR\tFILTER\t2
EVENTS\tGAZE\tLEFT\tRATE\t 500.00\tTRACKING\tCR\tFILTER\t2
1010\t  100.0\t  200.0\t  800.0\t...
SFIX L   1012
1012\t  101.0\t  201.0\t  801.0\t...
MSG\t1013 -4 SYNCTIME
1014\t   .\t   .\t    0.0\t...
SBLINK L 1014
EBLINK L 1014\t1014\t2
1016\t  102.0\t  202.0\t  802.0\t...
EFIX L   1012\t1016\t6\t  101.5\t  201.5\t    801
MSG\t1017 TRIALID t2
1018\t  300.0\t  400.0\t  900.0\t...
SSACC L  1018
1020\t  350.0\t  420.0\t  900.0\t...
ESACC L  1018\t1020\t4\t  300.0\t  400.0\t  350.0\t  420.0\t   1.50\t    250
END\t1021 \tSAMPLES\tEVENTS\tRES\t  40.00\t  42.00
"""

BINO = """\
MSG\t2000 GAZE_COORDS 0.00 0.00 1920.00 1080.00
START\t2000 \tLEFT\tRIGHT\tSAMPLES\tEVENTS
SAMPLES\tGAZE\tLEFT\tRIGHT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2
2000\t  10.0\t  20.0\t  300.0\t  12.0\t  22.0\t  310.0\t.....
2001\t   .\t   .\t    0.0\t  13.0\t  23.0\t  311.0\t.C...
2002\t  11.0\t  21.0\t  301.0\t   .\t   .\t    0.0\t...C.
END\t2003 \tSAMPLES\tEVENTS\tRES\t  47.75\t  45.92
"""


def write(tmp_path, text, name="rec.asc"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_monocular_samples_events_messages_and_trials(tmp_path):
    rec = read_asc(write(tmp_path, MONO))
    assert [(s.eye, s.trial, len(s)) for s in rec] == [("L", "t1", 4), ("L", "t2", 2)]
    first, second = rec
    assert first.sampling_rate == 500.0 and first.px_per_deg == pytest.approx(41.0)  # mean of END RES
    np.testing.assert_array_equal(first.t, [1010, 1012, 1014, 1016])
    np.testing.assert_array_equal(first.missing, [False, False, True, False])
    np.testing.assert_allclose(first.pupil, [800, 801, 0, 802])
    fix = first.events.query("type == 'fixation'").iloc[0]
    assert (fix.t_start, fix.t_end, fix.duration, fix.x, fix.y, fix.pupil) == (1012, 1016, 6, 101.5, 201.5, 801)
    assert first.events["type"].tolist() == ["blink", "fixation"]
    sacc = second.events.iloc[0]
    assert (sacc.type, sacc.x_start, sacc.y_end, sacc.amplitude, sacc.peak_velocity) == ("saccade", 300, 420, 1.5, 250)
    sync = rec.messages.query("text == 'SYNCTIME'").iloc[0]
    assert (sync.t, sync.offset, sync.trial) == (1013, -4, "t1")
    cal = rec.messages.query("text.str.startswith('!CAL')", engine="python").iloc[0]
    assert cal.text.endswith("-65     6   -72     7")  # continuation line appended to its message
    assert rec.meta["n_unknown_lines"] == 0 and rec.meta["header"][0] == "CONVERTED FROM test.edf"
    assert rec.blocks.loc[0, "complete"] and rec.meta["display_coords"] == ["0", "0", "1279", "1023"]


def test_without_trial_pattern_one_segment_per_block(tmp_path):
    rec = read_asc(write(tmp_path, MONO), trial_pattern=None)
    assert len(rec) == 1 and len(rec[0]) == 6 and rec[0].trial is None
    custom = read_asc(write(tmp_path, MONO), trial_pattern=r"SYNC(TIME)")
    assert [s.trial for s in custom] == [None, "TIME"]


def test_binocular_gives_one_segment_per_eye(tmp_path):
    rec = read_asc(write(tmp_path, BINO), trial_pattern=None)
    left, right = rec.select(eye="L")[0], rec.select(eye="R")[0]
    np.testing.assert_array_equal(left.x, [10, np.nan, 11])
    np.testing.assert_array_equal(right.y, [22, 23, np.nan])
    assert left.sampling_rate == right.sampling_rate == 1000.0


def test_unknown_lines_are_counted_and_warned(tmp_path):
    text = MONO.replace("PRESCALER\t1\n", "PRESCALER\t1\nFOO bar\nWHATEVER 12\n")
    with pytest.warns(UserWarning, match="skipped 2 unknown line"):
        rec = read_asc(write(tmp_path, text))
    assert rec.meta["n_unknown_lines"] == 2 and rec.meta["unknown_examples"][0][1] == "FOO bar"


def test_file_cut_mid_line_partial_parse_or_strict_error(tmp_path):
    cut = MONO[:MONO.index("1020\t")] + "1020\t  35"
    path = write(tmp_path, cut)
    with pytest.warns(UserWarning) as caught:
        rec = read_asc(path)
    messages = " ".join(str(w.message) for w in caught)
    assert "without END" in messages and "malformed line" in messages
    assert rec.meta["n_malformed_lines"] == 1 and rec.meta["malformed_examples"][0][2] == "truncated"
    assert rec.blocks.loc[0, "complete"] == False  # noqa: E712 (numpy bool)
    assert sum(len(s) for s in rec) == 5 and rec[0].meta["complete"] is False
    with pytest.raises(DataFormatError, match="ends mid-line"):
        read_asc(path, strict=True)


def test_garbled_sample_line_is_counted(tmp_path):
    path = write(tmp_path, MONO.replace("1016\t  102.0\t  202.0", "1016\t  1x2.0\t  202.0"))
    with pytest.warns(UserWarning, match="skipped 1 malformed line"):
        rec = read_asc(path)
    assert rec.meta["malformed_examples"][0][0] == MONO.splitlines().index(
        next(line for line in MONO.splitlines() if line.startswith("1016"))) + 1
    assert [len(s) for s in rec] == [3, 2]
    with pytest.raises(DataFormatError, match="malformed line"):
        read_asc(path, strict=True)


def test_start_without_end(tmp_path):
    path = write(tmp_path, MONO.replace("END\t1021 \tSAMPLES\tEVENTS\tRES\t  40.00\t  42.00\n", ""))
    with pytest.warns(UserWarning, match="without END"):
        rec = read_asc(path)
    assert rec.meta["n_incomplete_blocks"] == 1 and rec[0].px_per_deg is None
    with pytest.raises(DataFormatError, match="every START closed by an END"):
        read_asc(path, strict=True)


def test_non_increasing_times_and_missing_file(tmp_path):
    text = MONO.replace("1016\t  102.0", "1011\t  102.0")
    with pytest.raises(DataFormatError, match="strictly increasing"):
        read_asc(write(tmp_path, text))
    with pytest.raises(DataFormatError, match="no such file"):
        read_asc(tmp_path / "absent.asc")


def test_geometry_checks_against_recording(tmp_path):
    good = ScreenGeometry.from_cm(1280, 1024, 37.5, 30.0, 60.0)
    rec = read_asc(write(tmp_path, MONO), geometry=good)
    assert rec[0].px_per_deg == pytest.approx(good.px_per_deg)
    wrong = ScreenGeometry.from_cm(1920, 1080, 53.0, 30.0, 60.0)
    with pytest.raises(DataFormatError, match="DISPLAY_COORDS.*1920 x 1080.*1280 x 1024"):
        read_asc(write(tmp_path, MONO), geometry=wrong)
    with pytest.raises(DataFormatError, match="GAZE_COORDS"):
        read_asc(write(tmp_path, BINO), geometry=good)


def test_exact_pixel_to_degree_conversion():
    geo = ScreenGeometry(width_px=1000, height_px=500, width_mm=400.0, height_mm=200.0, distance_mm=500.0)
    deg_x, deg_y = geo.pixels_to_degrees([500, 1000, 0], [250, 500, 0])
    np.testing.assert_allclose(deg_x, [0, math.degrees(math.atan(200 / 500)), -math.degrees(math.atan(200 / 500))])
    np.testing.assert_allclose(deg_y, [0, math.degrees(math.atan(100 / 500)), -math.degrees(math.atan(100 / 500))])
    x, y = geo.degrees_to_pixels(deg_x, deg_y)
    np.testing.assert_allclose(x, [500, 1000, 0]) and np.testing.assert_allclose(y, [250, 500, 0])
    full = 2 * math.degrees(math.atan(200 / 500))
    assert geo.px_per_deg == pytest.approx(1000 / full)
    small_angle = 1000 / math.degrees(400 / 500)  # what the small-angle formula would give
    assert geo.px_per_deg > small_angle * 1.04
    assert geo.px_per_deg_at_center() == pytest.approx(2 * 500 * math.tan(math.radians(0.5)) / 0.4)
    with pytest.raises(ConfigError, match="distance_mm"):
        ScreenGeometry(1000, 500, 400.0, 200.0, 0.0)


def test_resolution_and_samples_beyond_screen():
    assert resolution_from_coords(["0", "0", "1279", "1023"]) == (1280, 1024)
    assert resolution_from_coords(["0.00", "0.00", "1920.00", "1080.00"]) == (1920, 1080)
    geo = ScreenGeometry(800, 600, 400.0, 300.0, 600.0)
    x = np.array([10.0, 400, 790, np.nan])
    check_samples_on_screen(x, x / 2, geo, "ok")
    with pytest.raises(DataFormatError, match="beyond it"):
        check_samples_on_screen(x * 2.4, x, geo, "rec.asc")


# -- real recordings -----------------------------------------------------------------------------------

def count_lines(path, prefix):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return sum(line.startswith(prefix) for line in handle)


def count_samples(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return sum(line[:1].isdigit() for line in handle)


@pytest.mark.shared_data
@pytest.mark.parametrize("name, rate, eyes", [
    ("eyelink_monocular_example.asc", 1000.0, {"L"}),
    ("eyelink_monocular_2khz_example.asc", 2000.0, {"L"}),
    ("eyelink_binocular_example.asc", 1000.0, {"L", "R"}),
    ("eyelink_monocular_no_dummy_example.asc", 500.0, {"L"}),
])
def test_real_recordings(raw_gaze, name, rate, eyes, recwarn):
    path = raw_gaze / name
    rec = read_asc(path)
    assert {s.eye for s in rec} == eyes and {s.sampling_rate for s in rec} == {rate}
    n_samples = count_samples(path)
    assert sum(len(s) for s in rec) == n_samples * len(eyes)
    for kind, prefix in (("fixation", "EFIX"), ("saccade", "ESACC"), ("blink", "EBLINK")):
        assert (rec.events["type"] == kind).sum() == count_lines(path, prefix)
        assert sum((s.events["type"] == kind).sum() for s in rec) == count_lines(path, prefix)
    assert len(rec.messages) == count_lines(path, "MSG")
    assert rec.meta["n_unknown_lines"] == 0 and rec.meta["n_malformed_lines"] == 0
    if rate == 2000.0:
        assert np.any(rec[0].t % 1 == 0.5)  # half-millisecond time stamps
    if len(eyes) == 2:
        missing = {s.eye: int(sum(x.missing.sum() for x in rec.select(eye=s.eye))) for s in rec}
        assert missing["L"] > 0 and missing["R"] > 0  # the blinks, as NaN


@pytest.mark.shared_data
def test_real_recording_without_end_is_a_documented_partial_parse(raw_gaze):
    with pytest.warns(UserWarning, match="without END"):
        rec = read_asc(raw_gaze / "eyelink_monocular_no_dummy_example.asc")
    assert rec.meta["n_incomplete_blocks"] == 1 and rec[0].px_per_deg is None
    assert rec.meta["display_coords"] == ["0", "0", "1919", "1079"]
    assert any("ÄÖÜ" in text for text in rec.messages["text"])
    ppd = px_per_deg_from_saccades(rec.events)
    sacc = rec.events.query("type == 'saccade' and amplitude < 90 and amplitude >= 1").iloc[0]
    assert ppd == pytest.approx(np.hypot(sacc.x_end - sacc.x_start, sacc.y_end - sacc.y_start) / sacc.amplitude)
    with pytest.raises(DataFormatError, match="DISPLAY_COORDS"), pytest.warns(UserWarning, match="without END"):
        read_asc(raw_gaze / "eyelink_monocular_no_dummy_example.asc",
                 geometry=ScreenGeometry.from_cm(1280, 1024, 37.5, 30.0, 60.0))


def test_every_segment_carries_a_geometry(tmp_path):
    rec = read_asc(write(tmp_path, MONO))
    assert all(s.geometry.size_px == (1280, 1024) for s in rec)  # from the recording's coordinates
    assert rec[0].geometry.px_per_deg == pytest.approx(41.0) and "END RES" in rec[0].geometry.source
    given = ScreenGeometry.from_cm(1280, 1024, 37.5, 30.0, 60.0)
    assert all(s.geometry is given for s in read_asc(write(tmp_path, MONO), geometry=given))
    from cogmodels.scanpaths.events import detect_idt

    assert detect_idt(list(rec)).geometry == rec[0].geometry  # detected fixations keep the screen
