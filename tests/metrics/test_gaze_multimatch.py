"""MultiMatch: hand-computed cases, properties, edge cases, and agreement with multimatch-gaze."""

import functools
import warnings

import numpy as np
import pytest

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, DataFormatError, ShapeError
from cogmodels.kernels import multimatch as multimatch_kernel
from cogmodels.metrics import _multimatch, gaze

SCREEN = (800, 600)  # diagonal exactly 1000 px
GROUPING = {"direction_deg": 45.0, "duration_ms": 300.0, "amplitude_px": 147.0}


def path(points, durations):
    x, y = np.asarray(points, dtype=float).T
    return Scanpath.from_arrays(x=x, y=y, duration=np.asarray(durations, dtype=float))


def random_path(rng, n):
    """Saccades of 20-300 px, half of them short, turning a little or a lot (every simplification rule fires).

    Steps that would leave the screen turn back towards its centre. Continuous values: no exact ties.
    """
    xy = [np.array([400.0, 300.0])]
    heading = rng.uniform(0, 2 * np.pi)
    for _ in range(n - 1):
        heading += rng.uniform(-1, 1) if rng.random() < 0.5 else rng.uniform(0, 2 * np.pi)
        step = rng.uniform(20, 140) if rng.random() < 0.5 else rng.uniform(160, 300)
        point = xy[-1] + step * np.array([np.cos(heading), np.sin(heading)])
        if not (0 <= point[0] < SCREEN[0] and 0 <= point[1] < SCREEN[1]):  # turn back towards the centre
            heading = np.arctan2(300 - xy[-1][1], 400 - xy[-1][0]) + rng.uniform(-0.3, 0.3)
            point = xy[-1] + step * np.array([np.cos(heading), np.sin(heading)])
        xy.append(point)
    return path(xy, rng.choice([100.0, 200.0, 400.0, 500.0], n))


def grid_path(rng, n):
    """Fixations on a 100 px grid: saccades repeat, so equally short alignment paths (exact ties) are common."""
    return path(np.column_stack([rng.integers(0, 8, n), rng.integers(0, 6, n)]) * 100.0,
                rng.choice([100.0, 200.0, 400.0], n))


def repeated_path(rng, n, jitter=False):
    """Repeats of four 100 px saccades (ties nearly everywhere), kept on the screen.

    With ``jitter``, each coordinate moves by up to 4 ulps: the tied costs are
    then equal only up to rounding.
    """
    moves = np.array([[100.0, 0.0], [0.0, 100.0], [-100.0, 0.0], [100.0, 100.0]])
    xy = [np.array([300.0, 300.0])]
    for move in moves[rng.integers(0, 4, n - 1)]:
        xy.append(np.clip(xy[-1] + move, 100, np.subtract(SCREEN, 100)))
    xy = np.array(xy)
    if jitter:
        xy += rng.integers(-4, 5, xy.shape) * np.spacing(xy)
    return path(xy, rng.choice([100.0, 200.0, 400.0], n))


L_PATH = path([(0, 0), (100, 0), (100, 100)], [200, 300, 400])


# -- hand-computed values --------------------------------------------------------------------------------
def test_identical_scanpaths_score_one():
    rng = np.random.default_rng(1)
    for p in [L_PATH] + [random_path(rng, n) for n in (2, 5, 9)]:
        np.testing.assert_allclose(gaze.multimatch(p, p, SCREEN), np.ones(5), rtol=0, atol=1e-15)
        np.testing.assert_allclose(gaze.multimatch(p, p, SCREEN, grouping=GROUPING), np.ones(5), atol=1e-15)


def test_shift_changes_position_only():
    shifted = path([(50, 0), (150, 0), (150, 100)], [200, 300, 400])
    # Both aligned pairs have start points 50 px apart: position = 1 - 50 / 1000.
    np.testing.assert_allclose(gaze.multimatch(L_PATH, shifted, SCREEN), [1, 1, 1, 0.95, 1], atol=1e-15)


def test_longer_first_saccade():
    other = path([(0, 0), (200, 0), (200, 100)], [200, 300, 400])
    # vector |(200,0)-(100,0)| = 100 and 0 -> median 50 / (2 * 1000); length 100, 0 -> 50 / 1000;
    # position (0,0)-(0,0) = 0 and (200,0)-(100,0) = 100 -> 50 / 1000.
    np.testing.assert_allclose(gaze.multimatch(L_PATH, other, SCREEN), [0.975, 1, 0.95, 0.95, 1], atol=1e-15)


def test_duration_and_direction():
    slower = path([(0, 0), (100, 0), (100, 100)], [400, 300, 400])
    # |200 - 400| / 400 = 0.5 and 0 -> median 0.25; the last fixation's duration is not compared.
    np.testing.assert_allclose(gaze.multimatch(L_PATH, slower, SCREEN)[4], 0.75, atol=1e-15)
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    turned = path([(0, 0), (100 * c, 100 * s), (100 * c, 100 * s + 100)], [200, 300, 400])
    # angle differences 10 and 0 degrees -> median 5 degrees / 180.
    assert gaze.multimatch(L_PATH, turned, SCREEN)[1] == pytest.approx(1 - 5 / 180, abs=1e-12)


def test_one_saccade_pairs_are_defined():
    """Two fixations each (the peer returns NaN here; the comparison of the single pair is well defined)."""
    a = path([(0, 0), (100, 0)], [200, 50])
    b = path([(0, 0), (0, 100)], [100, 50])
    expected = [1 - np.sqrt(2) * 100 / 2000, 0.5, 1.0, 1.0, 0.5]
    np.testing.assert_allclose(gaze.multimatch(a, b, SCREEN), expected, atol=1e-15)


def test_zero_durations_are_identical():
    a = path([(0, 0), (100, 0), (100, 100)], [0, 0, 0])
    assert gaze.multimatch(a, a, SCREEN)[4] == 1.0  # 0 ms vs 0 ms: the peer gives 0/0 = NaN here


def test_roughly_symmetric_on_continuous_data():
    rng = np.random.default_rng(2)
    a = [random_path(rng, n) for n in rng.integers(2, 12, 50)]
    b = [random_path(rng, n) for n in rng.integers(2, 12, 50)]
    np.testing.assert_allclose(gaze.multimatch(a, b, SCREEN), gaze.multimatch(b, a, SCREEN), atol=1e-12)


def test_batch_equals_single_pairs():
    rng = np.random.default_rng(3)
    a = [random_path(rng, n) for n in rng.integers(2, 25, 30)]
    b = [random_path(rng, n) for n in rng.integers(2, 25, 30)]
    batch = gaze.multimatch(a, b, SCREEN, grouping=GROUPING)
    singles = np.stack([gaze.multimatch(p, q, SCREEN, grouping=GROUPING) for p, q in zip(a, b)])
    np.testing.assert_array_equal(batch, singles)
    assert np.all((batch >= 0) & (batch <= 1))


def test_arrays_with_durations_are_accepted():
    array = np.array([[0, 0, 200], [100, 0, 300], [100, 100, 400]], dtype=float)
    np.testing.assert_array_equal(gaze.multimatch(array, array, SCREEN), np.ones(5))
    with pytest.raises(ShapeError, match="duration"):
        gaze.multimatch(array[:, :2], array[:, :2], SCREEN)


# -- simplification ----------------------------------------------------------------------------------------
def saccades_of(*paths):
    """The saccades of Scanpath objects, packed as gaze.multimatch packs them."""
    def joined(name):
        return np.concatenate([getattr(p, name) for p in paths])
    return _multimatch.Saccades.from_fixations(joined("x"), joined("y"), joined("duration"),
                                               np.array([len(p) for p in paths]))


def test_simplification_merges_short_saccades_with_peer_quirks():
    """Three short saccades turning by 90 degrees, short fixations (all ms):

    amplitude pass: s0 + s1 merge; the last saccade folds back, and the
    previous output becomes input s1 + s2 (quirk (a)), starting at s0's start;
    durations [110, 120, 140]. A second iteration keeps the lone saccade.
    """
    p = path([(100, 100), (160, 100), (160, 170), (80, 170)], [110, 120, 130, 140])
    out = _multimatch.simplify(saccades_of(p), 45.0, 300.0, 147.0)
    assert out.count.tolist() == [1]
    np.testing.assert_array_equal([out.start_x[0], out.start_y[0]], [100, 100])
    np.testing.assert_array_equal([out.dx[0], out.dy[0]], [-80, 70])
    assert out.amplitude[0] == np.sqrt(80 ** 2 + 70 ** 2)
    # The peer's duration list [110, 140]: one entry per saccade, then the last entry.
    assert out.duration.tolist() == [110] and out.last_duration.tolist() == [140]
    assert out.duration_count.tolist() == [2]


def test_direction_merge_needs_short_middle_fixation():
    straight = [(0, 0), (200, 0), (400, 10), (400, 300)]
    for middle, merged in ((100.0, True), (300.0, False)):  # strict: 300 ms is not below 300 ms
        p = path(straight, [500, middle, 500, 500])
        out = _multimatch.simplify(saccades_of(p), 45.0, 300.0, 147.0)
        assert out.count[0] == (2 if merged else 3)


def test_simplify_many_paths_equals_one_at_a_time():
    """Paths converge after different numbers of iterations; the batch keeps each path's own result, in order."""
    rng = np.random.default_rng(8)
    paths = [random_path(rng, n) for n in rng.integers(2, 30, 60)]
    batch = _multimatch.simplify(saccades_of(*paths), 45.0, 300.0, 147.0)
    alone = _multimatch.Saccades.concatenate([_multimatch.simplify(saccades_of(p), 45.0, 300.0, 147.0)
                                              for p in paths])
    for name in _multimatch.Saccades.PER_SACCADE + _multimatch.Saccades.PER_PATH:
        np.testing.assert_array_equal(getattr(batch, name), getattr(alone, name), err_msg=name)


def test_greedy_merges_matches_a_left_to_right_scan():
    rng = np.random.default_rng(9)
    mergeable = rng.random(500) < 0.6
    mergeable[rng.choice(500, 40, replace=False)] = False      # path ends
    expected, k = [], 0
    while k < len(mergeable):                                  # the peer's scan: merge, then jump past both
        if mergeable[k]:
            expected.append(k)
            k += 2
        else:
            k += 1
    assert _multimatch.greedy_merges(mergeable).tolist() == expected


@pytest.mark.parametrize("direction_deg", [0.0, 10.0, 45.0, 90.0, 135.0, 180.0, 200.0])
def test_direction_test_equals_the_arccos_test(direction_deg):
    """The cosine shortcut gives the peer's degrees(arccos(cosine)) < threshold, also next to the threshold."""
    rng = np.random.default_rng(10)
    boundary = np.cos(np.radians(direction_deg))
    ulps = [boundary]
    for _ in range(200):                                       # every float within 200 ulps of the boundary
        ulps = [np.nextafter(ulps[0], -2.0)] + ulps + [np.nextafter(ulps[-1], 2.0)]
    cosine = np.concatenate([ulps, boundary + rng.uniform(-1e-8, 1e-8, 200), rng.uniform(-1, 1, 200),
                             [np.nan, 1.0, -1.0, 1 + 1e-16, -1 - 1e-16]])
    expected = np.degrees(np.arccos(np.clip(cosine, -1, 1))) < direction_deg
    np.testing.assert_array_equal(_multimatch.angle_below(cosine, direction_deg), expected)


# -- batching ---------------------------------------------------------------------------------------------
def test_scanpaths_with_strided_arrays_are_read():
    """Column views of a table are not one contiguous block each; packing falls back to numpy for them."""
    table = np.array([[0, 0, 200], [100, 0, 300], [100, 100, 400]], dtype=float)
    strided = Scanpath.from_arrays(x=table[:, 0], y=table[:, 1], duration=table[:, 2])
    assert not strided.x.flags.c_contiguous
    np.testing.assert_array_equal(gaze.multimatch([strided, L_PATH], [L_PATH, strided], SCREEN), np.ones((2, 5)))


def test_chunks_of_pairs_give_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(13)
    a = [random_path(rng, n) for n in rng.integers(2, 20, 40)]
    b = [random_path(rng, n) for n in rng.integers(2, 20, 40)]
    whole = gaze.multimatch(a, b, SCREEN, grouping=GROUPING)
    monkeypatch.setattr(_multimatch, "CHUNK_PAIRS", 7)
    np.testing.assert_array_equal(gaze.multimatch(a, b, SCREEN, grouping=GROUPING), whole)


def test_shared_scanpath_objects_give_the_same_numbers():
    """Each distinct Scanpath object is read and simplified once; results do not depend on sharing."""
    rng = np.random.default_rng(12)
    pool = [random_path(rng, n) for n in rng.integers(1, 12, 15)]
    a = [pool[k] for k in rng.integers(0, 15, 80)]
    b = [pool[k] for k in rng.integers(0, 15, 80)]
    def copies(paths):
        return [path(p.xy, p.duration) for p in paths]

    for grouping in (None, GROUPING):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the 1-fixation paths give NaN rows, as documented
            shared = gaze.multimatch(a, b, SCREEN, grouping=grouping)
            distinct = gaze.multimatch(copies(a), copies(b), SCREEN, grouping=grouping)
            arrays = gaze.multimatch([np.column_stack([p.xy, p.duration]) for p in a],
                                     [np.column_stack([p.xy, p.duration]) for p in b], SCREEN, grouping=grouping)
        np.testing.assert_array_equal(shared, distinct)
        np.testing.assert_array_equal(shared, arrays)
        assert np.isnan(shared).any() and np.isfinite(shared).any()


def test_grouping_is_validated():
    with pytest.raises(ConfigError, match="unknown key"):
        gaze.multimatch(L_PATH, L_PATH, SCREEN, grouping={"angle": 45})
    with pytest.raises(ConfigError, match="screen_size"):
        gaze.multimatch(L_PATH, L_PATH, (800, 0))
    # Missing keys take the defaults.
    np.testing.assert_array_equal(gaze.multimatch(L_PATH, L_PATH, SCREEN, grouping={"amplitude_px": 100}),
                                  np.ones(5))


# -- short scanpaths --------------------------------------------------------------------------------------
def test_single_short_pair_raises():
    one = path([(10, 10)], [100])
    with pytest.raises(DataFormatError, match="at least 2 fixations"):
        gaze.multimatch(one, L_PATH, SCREEN)


def test_batch_short_pairs_are_nan_with_a_warning():
    one = path([(10, 10)], [100])
    empty = path(np.zeros((0, 2)), [])
    with pytest.warns(UserWarning, match="2 of 3 pair"):
        out = gaze.multimatch([L_PATH, one, L_PATH], [L_PATH, L_PATH, empty], SCREEN)
    assert np.isnan(out[1:]).all() and (out[0] == 1).all()
    with pytest.raises(DataFormatError):
        gaze.multimatch([L_PATH, one], [L_PATH, L_PATH], SCREEN, on_short="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when nothing is short
        gaze.multimatch([L_PATH], [L_PATH], SCREEN)


def test_mismatched_inputs():
    with pytest.raises(ShapeError, match="equal length"):
        gaze.multimatch([L_PATH, L_PATH], [L_PATH], SCREEN)
    with pytest.raises(ShapeError):
        gaze.multimatch(L_PATH, [L_PATH], SCREEN)
    with pytest.raises(ConfigError, match="on_short"):
        gaze.multimatch(L_PATH, L_PATH, SCREEN, on_short="skip")


# -- agreement with the published peer ----------------------------------------------------------------------
def _record(p):
    """A Scanpath as the peer's input: a record array with durations in seconds."""
    return np.rec.fromarrays([p.x, p.y, p.duration / 1000.0], names=("start_x", "start_y", "duration"))


def _peer(mm, a, b, grouping):
    """multimatch-gaze on one pair (durations in seconds), or the exception type name."""
    record = _record

    kwargs = {}
    if grouping:
        kwargs = dict(grouping=True, TDir=grouping["direction_deg"], TDur=grouping["duration_ms"] / 1000.0,
                      TAmp=grouping["amplitude_px"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(mm.docomparison(record(a), record(b), list(SCREEN), **kwargs), dtype=float)
    except Exception as error:  # the peer crashes on some inputs (documented in _multimatch)
        return type(error).__name__


def _check_against_peer(mm, a, b, grouping):
    ours = gaze.multimatch(a, b, SCREEN, grouping=grouping, on_short="nan")
    compared = 0
    for k, (p, q) in enumerate(zip(a, b)):
        peer = _peer(mm, p, q, grouping)
        if isinstance(peer, str):
            assert peer in ("IndexError", "ValueError") and grouping  # documented peer crashes
            assert np.isfinite(ours[k]).all()
            continue
        if min(len(p), len(q)) < 3:  # the peer refuses fewer than 3 fixations; we compare from 2
            assert np.isnan(peer).all()
            assert np.isfinite(ours[k]).all() == (min(len(p), len(q)) >= 2)
            continue
        np.testing.assert_allclose(ours[k], peer, rtol=0, atol=1e-9, err_msg=f"pair {k}")
        compared += 1
    return compared


@pytest.mark.parametrize("grouping", [None, GROUPING])
def test_agrees_with_multimatch_gaze_on_random_scanpaths(grouping):
    mm = pytest.importorskip("multimatch_gaze", reason="the peer multimatch-gaze is not installed (dev extra)")
    rng = np.random.default_rng(4)
    a = [random_path(rng, n) for n in rng.integers(2, 14, 250)]
    b = [random_path(rng, n) for n in rng.integers(2, 14, 250)]
    assert _check_against_peer(mm, a, b, grouping) > 150


def test_peer_crash_case_is_kept():
    """The lone short saccade that crashes the peer (IndexError) is kept here."""
    mm = pytest.importorskip("multimatch_gaze", reason="the peer multimatch-gaze is not installed (dev extra)")
    p = path([(100, 100), (160, 100), (160, 170), (80, 170)], [110, 120, 130, 140])
    assert _peer(mm, p, L_PATH, GROUPING) == "IndexError"
    assert np.isfinite(gaze.multimatch(p, L_PATH, SCREEN, grouping=GROUPING)).all()


def test_parallel_saccades_merge_where_the_peer_crashes():
    """Collinear saccades: rounding puts the peer's cosine just above 1 (math domain error); we clip it."""
    mm = pytest.importorskip("multimatch_gaze", reason="the peer multimatch-gaze is not installed (dev extra)")
    p = path([(417.4, 574.0), (474.29999999999995, 484.5), (588.0999999999999, 305.5)], [500, 100, 500])
    other = path([(100, 100), (400, 100), (400, 400), (100, 400)], [500, 500, 500, 500])
    grouping = {"direction_deg": 45.0, "duration_ms": 300.0, "amplitude_px": 10.0}
    assert _peer(mm, p, other, grouping) == "ValueError"
    assert _multimatch.simplify(saccades_of(p), 45.0, 300.0, 10.0).count.tolist() == [1]  # merged: angle 0
    assert np.isfinite(gaze.multimatch(p, other, SCREEN, grouping=grouping)).all()


@pytest.mark.shared_data
@pytest.mark.parametrize("grouping", [None, GROUPING])
def test_agrees_with_multimatch_gaze_on_osie(shared_data, grouping):
    mm = pytest.importorskip("multimatch_gaze", reason="the peer multimatch-gaze is not installed (dev extra)")
    scipy_io = pytest.importorskip("scipy.io")
    mat = shared_data / "osie" / "data" / "eye" / "fixations.mat"
    if not mat.exists():
        pytest.skip(f"OSIE fixations not found at {mat}")
    images = scipy_io.loadmat(mat, squeeze_me=True, struct_as_record=False)["fixations"]
    rng = np.random.default_rng(5)
    a, b = [], []
    for _ in range(120):
        image = images[rng.integers(len(images))]
        for side, subject in zip((a, b), rng.choice(len(image.subjects), 2, replace=False)):
            s = image.subjects[subject]
            side.append(Scanpath.from_arrays(x=np.atleast_1d(s.fix_x), y=np.atleast_1d(s.fix_y),
                                             duration=np.atleast_1d(s.fix_duration).astype(float)))
    assert _check_against_peer(mm, a, b, grouping) > 100


TIE_MAKERS = {"grid": grid_path, "repeated": repeated_path,
              "repeated, moved by ulps": functools.partial(repeated_path, jitter=True)}


@pytest.mark.parametrize("grouping", [None, GROUPING], ids=["no grouping", "grouping"])
@pytest.mark.parametrize("maker", list(TIE_MAKERS))
def test_ties_agree_with_multimatch_gaze(maker, grouping, monkeypatch):
    """Scanpaths built to have many equally short alignment paths: the peer's path is taken every time.

    Control (without grouping, on the exact-tie sets): the wavefront's own choice,
    without the peer's search for tied pairs, differs from the peer on some of
    these pairs.  Simplified paths are short and meet few ties, so the control
    does not run with grouping.
    """
    mm = pytest.importorskip("multimatch_gaze", reason="the peer multimatch-gaze is not installed (dev extra)")
    rng = np.random.default_rng(list(TIE_MAKERS).index(maker) + (0 if grouping is None else 10))
    a = [TIE_MAKERS[maker](rng, n) for n in rng.integers(3, 14, 150)]
    b = [TIE_MAKERS[maker](rng, n) for n in rng.integers(3, 14, 150)]
    assert _check_against_peer(mm, a, b, grouping) > 80
    if maker == "repeated, moved by ulps" or grouping is not None:
        return
    monkeypatch.setattr(multimatch_kernel, "align", functools.partial(multimatch_kernel.align, resolve_ties=False))
    with pytest.raises(AssertionError):
        _check_against_peer(mm, a, b, grouping)


def test_alignment_graph_and_costs_are_the_peers():
    """The graph that tied pairs are searched on is the peer's, edge for edge (zero-cost edges included)."""
    pytest.importorskip("multimatch_gaze", reason="the peer multimatch-gaze is not installed (dev extra)")
    from multimatch_gaze import multimatch_gaze as mm  # the module, with the peer's helper functions
    import scipy.sparse as sp
    rng = np.random.default_rng(14)
    for n, m in ((1, 1), (1, 5), (4, 1), (6, 9)):
        p, q = grid_path(rng, n + 1), grid_path(rng, m + 1)
        cost = mm.cal_vectordifferences(mm.gen_scanpath_structure(_record(p)), mm.gen_scanpath_structure(_record(q)))
        sac = saccades_of(p, q)
        ours = multimatch_kernel.cost_matrix(sac.dx[:n], sac.dy[:n], sac.dx[n:], sac.dy[n:])
        np.testing.assert_array_equal(ours, cost)
        nodes, rows, cols, weight = mm.createdirectedgraph((n, m), cost, np.arange(n * m).reshape(n, m))
        peer = sp.coo_matrix((weight, (rows, cols)), shape=(nodes, nodes)).tocsr()
        graph = multimatch_kernel.peer_graph(cost)
        for name in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(graph, name), getattr(peer, name), err_msg=name)
        path, _ = mm.dijkstra(nodes, rows, cols, weight, 0, n * m - 1)
        assert (multimatch_kernel.peer_path(cost) @ [m, 1]).tolist() == [int(node) for node in path]
