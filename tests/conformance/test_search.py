"""Every registered search model honours the contract, run with its example on a tiny search display.

``search(trial, max_fixations=...)`` returns a SearchResult whose ``fixations``, ``n_fixations`` and
``found`` agree: one fixation per step inside the display, at most ``max_fixations`` of them, a search
that did not find the target used all of them, and the same model settings give the same result.
"""

import numpy as np

import cogmodels
from cogmodels.data import SearchTrial
from cogmodels.search import SEARCH_MODELS

REGISTRY = SEARCH_MODELS
SIZE, ITEM = 96, 12


def _trial(seed=0) -> SearchTrial:
    """A grey display with 6 dark squares and one bright target square; the target image is its patch."""
    rng = np.random.default_rng(seed)
    image = np.full((SIZE, SIZE, 3), 128, dtype=np.uint8)
    cells = rng.permutation(36)[:7]
    centres = np.array([[(c % 6) * 16 + 8, (c // 6) * 16 + 8] for c in cells], dtype=float)
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    for k, (x, y) in enumerate(centres.astype(int)):
        box = (slice(y - ITEM // 2, y + ITEM // 2), slice(x - ITEM // 2, x + ITEM // 2))
        image[box] = 240 if k == 0 else 30
        if k == 0:
            mask[box] = True
            target = image[box].copy()
    return SearchTrial(image, target, mask, set_size=7, condition="pop_out", id="conformance", items=centres)


def _checked(result, max_fixations):
    fixations = np.asarray(result.fixations, dtype=float)
    assert fixations.ndim == 2 and fixations.shape[1] >= 2
    assert int(result.n_fixations) == len(fixations)
    assert 1 <= result.n_fixations <= max_fixations
    assert isinstance(bool(result.found), bool)
    if not result.found:
        assert result.n_fixations == max_fixations
    x, y = fixations[:, 0], fixations[:, 1]
    assert np.all((x >= 0) & (x <= SIZE) & (y >= 0) & (y <= SIZE)), fixations
    return fixations


def test_search_result_is_consistent(name, example):
    searcher = cogmodels.create_model("search", name, **example)
    _checked(searcher.search(_trial(), max_fixations=5), 5)


def test_same_settings_same_result(name, example):
    trial = _trial()
    first = cogmodels.create_model("search", name, **example).search(trial, max_fixations=5)
    again = cogmodels.create_model("search", name, **example).search(trial, max_fixations=5)
    np.testing.assert_array_equal(_checked(first, 5), _checked(again, 5))
    assert bool(first.found) == bool(again.found)
