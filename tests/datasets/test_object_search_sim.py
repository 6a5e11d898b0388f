"""Object-search simulator: displays, graded similarity, and the searcher's planted rules beside controls."""

from __future__ import annotations

import numpy as np
import pytest

import cogmodels
from cogmodels.errors import ConfigError
from cogmodels.metrics.object_scanpaths import behaviour_means

SMALL = dict(n_displays=30, n_subjects=3, grid=(3, 5), cell=32)


@pytest.fixture(scope="module")
def sim():
    return cogmodels.load_dataset("object_search_sim", **SMALL, seed=2)


def test_layout_targets_and_fixations(sim):
    assert len(sim.stimuli) == 30 and sim.stimuli[0].image.shape == (96, 160, 3)
    trials = sim.fixations.trials
    gt = sim.ground_truth
    for sid in sim.stimuli.ids:
        sims = gt["similarity"][sid]
        assert (sims == 1).sum() == 1 and sims[gt["target_object"][sid]] == 1  # one target, no twin
        box = sim.meta["objects"][sid][gt["target_object"][sid]]
        row = trials[trials["stimulus_id"] == sid].iloc[0]
        assert (row.target_x, row.target_y, row.target_x + row.target_w, row.target_y + row.target_h) == tuple(box)
    # fixations lie in the box of the object the searcher fixated
    for path in sim.fixations.to_scanpaths()[:20]:
        boxes = sim.meta["objects"][path.stimulus_id][gt["object_sequences"][(path.stimulus_id, path.subject)]]
        assert ((path.x >= boxes[:, 0]) & (path.x < boxes[:, 2]) & (path.y >= boxes[:, 1]) & (path.y < boxes[:, 3])).all()
    assert set(np.round(np.concatenate(list(gt["similarity"].values())) * 3).astype(int)) == {0, 1, 2, 3}
    assert set(sim.splits) == {"train", "test"}


def test_seeded():
    a = cogmodels.load_dataset("object_search_sim", **SMALL, seed=5)
    b = cogmodels.load_dataset("object_search_sim", **SMALL, seed=5)
    c = cogmodels.load_dataset("object_search_sim", **SMALL, seed=6)
    assert a.fixations.table.equals(b.fixations.table)
    assert not a.fixations.table.equals(c.fixations.table)


def _fixated_similarity(ds):
    gt = ds.ground_truth
    first = [gt["similarity"][sid][seq[1]] for (sid, _), seq in gt["object_sequences"].items() if len(seq) > 1]
    return float(np.mean(first))


def test_similarity_guidance_and_inhibition_of_return_beside_controls(sim):
    guided = _fixated_similarity(sim)
    unguided = _fixated_similarity(cogmodels.load_dataset("object_search_sim", **SMALL, seed=2, beta=0.0))
    assert guided > unguided + 0.1
    gt = sim.ground_truth
    keys = list(gt["object_sequences"])
    stats = behaviour_means([gt["object_sequences"][k] for k in keys], [gt["target_object"][k[0]] for k in keys])
    no_ior = cogmodels.load_dataset("object_search_sim", **SMALL, seed=2, ior=1.0).ground_truth
    stats_no_ior = behaviour_means([no_ior["object_sequences"][k] for k in keys],
                                   [no_ior["target_object"][k[0]] for k in keys])
    assert stats["revisit_proportion"] < stats_no_ior["revisit_proportion"]
    assert 0 < stats["refixation_proportion"] < 0.5


@pytest.mark.parametrize("option", [{"grid": (1, 1)}, {"p_detect": 1.5}, {"similarity_weights": (1, 1)}])
def test_bad_options(option):
    with pytest.raises(ConfigError):
        cogmodels.load_dataset("object_search_sim", **{**SMALL, **option})
