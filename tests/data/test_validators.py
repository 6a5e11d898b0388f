"""Every validator rejects malformed input with a typed error naming field, expectation, finding and fix."""

import numpy as np
import pandas as pd
import pytest

from cogmodels.data import (
    BrainResponses,
    Dataset,
    DatasetCard,
    Fixations,
    GazeSamples,
    Scanpath,
    SearchTrial,
    Stimuli,
    check_array,
    check_image,
    check_splits,
    check_subject_count,
    make_channel_table,
)
from cogmodels.errors import DataFormatError, ShapeError

CARD = DatasetCard("toy", "tests", "MIT", "none")


def images(n, size=8):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def responses(n=4, c=3, **kw):
    rng = np.random.default_rng(1)
    return BrainResponses(rng.standard_normal((n, c)).astype(np.float32), [f"s{i}" for i in range(n)],
                          make_channel_table(c, rois=[("V1",)] * c), **kw)


def assert_message(err, *parts):
    text = str(err.value)
    for part in parts:
        assert part in text, f"{part!r} not in message: {text}"
    assert "expected" in text and "found" in text and "Fix:" in text, text


def test_wrong_dtype_responses():
    with pytest.raises(DataFormatError) as err:
        BrainResponses(np.zeros((4, 3), dtype=np.float64), list("abcd"), make_channel_table(3))
    assert_message(err, "responses", "float32", "float64")


def test_wrong_rank_responses():
    with pytest.raises(ShapeError) as err:
        BrainResponses(np.zeros(4, dtype=np.float32), list("abcd"), make_channel_table(1))
    assert_message(err, "responses", "rank 2 or 3", "rank 1")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_responses(bad):
    y = np.zeros((4, 3), dtype=np.float32)
    y[2, 1] = bad
    with pytest.raises(DataFormatError) as err:
        BrainResponses(y, list("abcd"), make_channel_table(3))
    assert_message(err, "responses", "finite", "1 NaN/inf", "(2, 1)")


def test_wrong_image_dtype_and_rank():
    with pytest.raises(DataFormatError) as err:
        check_image(np.zeros((4, 4, 3), dtype=np.float32), "img.png")
    assert_message(err, "img.png", "uint8", "float32")
    with pytest.raises(ShapeError) as err:
        check_image(np.zeros((4, 4), dtype=np.uint8), "img.png")
    assert_message(err, "img.png", "rank 3", "rank 2")


def test_check_array_is_idempotent():
    x = np.arange(6.0).reshape(2, 3)
    once = check_array(x, "x", ndim=2, dtype="float", finite=True)
    assert check_array(once, "x", ndim=2, dtype="float", finite=True) is once


def test_stimulus_ids_do_not_match_responses():
    stim = Stimuli.from_arrays([f"s{i}" for i in range(4)], images(4))
    resp = responses()
    resp.stimulus_ids = ["s0", "s1", "s3", "s2"]  # same ids, other order
    with pytest.raises(DataFormatError) as err:
        Dataset("toy", stim, CARD, responses=resp)
    assert_message(err, "responses.stimulus_ids", "different order")
    stim = Stimuli.from_arrays(["s0", "s1", "s2", "x9"], images(4))
    with pytest.raises(DataFormatError) as err:
        Dataset("toy", stim, CARD, responses=responses())
    assert_message(err, "1 missing", "'x9'", "1 unknown", "'s3'")


def test_duplicate_ids():
    with pytest.raises(DataFormatError) as err:
        Stimuli.from_arrays(["a", "b", "a"], images(3))
    assert_message(err, "Stimuli.ids", "unique", "'a'")
    with pytest.raises(DataFormatError) as err:
        BrainResponses(np.zeros((3, 2), np.float32), ["a", "b", "a"], make_channel_table(2))
    assert_message(err, "stimulus_ids", "unique")


def fixation_table(**overrides):
    row = dict(stimulus_id="img1", subject="s1", trial=0, index=0, x=10.0, y=10.0, t_onset=0.0, duration=200.0)
    row.update(overrides)
    return pd.DataFrame([row])


def test_fixations_outside_image():
    with pytest.raises(DataFormatError) as err:
        Fixations(fixation_table(x=120.0), image_sizes={"img1": (100, 50)}, source="fix.csv")
    assert_message(err, "fix.csv", "inside the image", "x=120", "100x50", "clip=True")
    with pytest.warns(UserWarning, match="clipped 1 fixations"):
        fix = Fixations(fixation_table(x=120.0, y=-3.0), image_sizes={"img1": (100, 50)}, clip=True)
    assert 99 <= fix.table["x"].iloc[0] < 100 and fix.table["y"].iloc[0] == 0


def test_negative_durations():
    with pytest.raises(DataFormatError) as err:
        Fixations(fixation_table(duration=-5.0))
    assert_message(err, "duration", ">= 0", "1 negative")
    with pytest.raises(DataFormatError):
        Scanpath.from_arrays([1, 2], [1, 2], duration=[100, -1])


def test_missing_fixation_columns():
    with pytest.raises(DataFormatError) as err:
        Fixations(fixation_table().drop(columns=["t_onset"]), source="fix.csv")
    assert_message(err, "fix.csv", "t_onset")


def test_empty_split():
    with pytest.raises(DataFormatError) as err:
        check_splits({"train": ["a"], "test": []}, ["a", "b"])
    assert_message(err, "splits['test']", "at least one", "empty")


def test_split_with_unknown_ids_and_overlap():
    with pytest.raises(DataFormatError) as err:
        check_splits({"train": ["a", "zz"]}, ["a", "b"])
    assert_message(err, "unknown", "'zz'")
    with pytest.raises(DataFormatError) as err:
        check_splits({"train": ["a", "b"], "test": ["b"]}, ["a", "b"])
    assert_message(err, "disjoint", "1 shared")


def test_mismatched_subject_counts():
    with pytest.raises(DataFormatError) as err:
        check_subject_count(["s1", "s2", "s2"], 3, "fixations.subject")
    assert_message(err, "fixations.subject", "3 subjects", "2")
    with pytest.raises(DataFormatError) as err:
        check_subject_count(["s1", "s3"], ["s1", "s2"], "responses")
    assert_message(err, "responses", "['s1', 's2']", "['s1', 's3']")


def test_channel_table_rows_must_match():
    with pytest.raises(ShapeError) as err:
        BrainResponses(np.zeros((4, 3), np.float32), list("abcd"), make_channel_table(2))
    assert_message(err, "channels", "3 rows", "2 rows")


def test_repeats_shape():
    with pytest.raises(ShapeError) as err:
        responses(repeats=np.zeros((4, 2, 5), np.float32))
    assert_message(err, "repeats", "(4, n_repeats, 3)", "(4, 2, 5)")


def test_gaze_samples_bad_time_axis():
    with pytest.raises(DataFormatError) as err:
        GazeSamples(t=[0, 2, 1], x=[0, 0, 0], y=[0, 0, 0], sampling_rate=500)
    assert_message(err, "GazeSamples.t", "increasing")
    with pytest.raises(ShapeError):
        GazeSamples(t=[0, 1], x=[0, 0, 0], y=[0, 0, 0], sampling_rate=500)


def test_search_trial_mask():
    img = images(1, 16)[0]
    with pytest.raises(ShapeError) as err:
        SearchTrial(img, img[:4, :4], np.ones((8, 8), bool), set_size=4, id="t1")
    assert_message(err, "SearchTrial(t1).target_mask", "(16, 16)", "(8, 8)")
    with pytest.raises(DataFormatError):
        SearchTrial(img, img[:4, :4], np.zeros((16, 16), bool), set_size=4, id="t1")


def test_errors_are_also_builtin_types():
    """Typed errors subclass ValueError so generic handlers keep working."""
    with pytest.raises(ValueError):
        check_splits({"train": []}, ["a"])


# -- issue 7 audit --------------------------------------------------------------------
def _names_all(message, *parts):
    for part in (*parts, "expected", "found", "Fix:"):
        assert part in message, (part, message)


def test_channel_table_rois_as_a_plain_string_is_one_label_not_its_characters():
    table = pd.DataFrame({"id": ["a", "b", "c"], "hemisphere": ["lh", "rh", "lh"],
                          "rois": ["V1", ("V2", "early"), ["FFA"]]})
    responses = BrainResponses(np.zeros((4, 3), np.float32), list("wxyz"), table)
    assert responses.roi_names() == ["FFA", "V1", "V2", "early"]
    assert list(responses.channels["rois"]) == [("V1",), ("V2", "early"), ("FFA",)]
    assert responses.roi_mask("V1").tolist() == [True, False, False]
    assert list(table["rois"]) == ["V1", ("V2", "early"), ["FFA"]]  # the caller's table is left as it was
    assert list(make_channel_table(2, rois=["V1", ("V2",)])["rois"]) == [("V1",), ("V2",)]


def test_channel_table_rois_that_are_not_names_are_rejected():
    table = pd.DataFrame({"id": ["a", "b"], "hemisphere": ["lh", "rh"], "rois": [("V1",), 7]})
    with pytest.raises(DataFormatError) as err:
        BrainResponses(np.zeros((4, 2), np.float32), list("wxyz"), table)
    _names_all(str(err.value), "channels.rois[1]", "tuple of names", "7 (int)")


@pytest.mark.parametrize("value, kwargs, error, parts", [
    (np.zeros((30, 0)), dict(non_empty=True), ShapeError, ("non-empty", "shape (30, 0)")),
    (np.ones((3, 2)) + 1j, dict(dtype="number"), DataFormatError, ("real values", "complex", "np.real")),
    (np.full((3, 2), 1e200), dict(dtype="number", max_abs=3.4e38), DataFormatError,
     ("|x| <= 3.4e+38", "up to 1e+200", "rescale")),
])
def test_check_array_refuses_empty_complex_and_overflowing_input(value, kwargs, error, parts):
    with pytest.raises(error) as err:
        check_array(value, "X", **kwargs)
    _names_all(str(err.value), "X:", *parts)
    check_array(np.ones((3, 2)), "X", dtype="number", non_empty=True, max_abs=3.4e38)  # fine input passes
