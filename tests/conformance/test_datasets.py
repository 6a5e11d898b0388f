"""Every registered dataset loads its example (a tiny copy in the release layout, or a small simulator run).

``load_dataset(name, **write_example(tmp_path))`` returns a Dataset whose containers pass their validators
again, whose splits name its stimuli, and whose card says where the data come from and how to get them.
"""

import pytest

import cogmodels
from cogmodels.data import (
    Dataset,
    SearchTrial,
    check_channels,
    check_fixation_table,
    check_image,
    check_matching_ids,
    check_responses,
    check_splits,
    check_unique_ids,
)
from cogmodels.datasets import DATASETS

REGISTRY = DATASETS


@pytest.fixture(scope="module")
def loaded(name, tmp_path_factory):
    write_example = DATASETS.example(name)
    assert callable(write_example), f"{name} registers no example=write_example"
    options = write_example(tmp_path_factory.mktemp(name))
    assert isinstance(options, dict)
    return cogmodels.load_dataset(name, **options)


def test_example_loads_and_passes_the_validators(loaded):
    ds = loaded
    assert isinstance(ds, Dataset)
    ids = check_unique_ids(ds.stimuli.ids, "stimuli.ids")
    assert len(ids) >= 1
    check_image(ds.stimuli.image(0), "stimuli[0]")
    if ds.responses is not None:
        responses = check_responses(ds.responses.responses, n_stimuli=len(ids))
        check_channels(ds.responses.channels, responses.shape[1])
        check_matching_ids(ids, ds.responses.stimulus_ids, "responses.stimulus_ids")
    if ds.fixations is not None:
        table = check_fixation_table(ds.fixations.table)
        assert len(table) >= 1
        assert set(table["stimulus_id"]) <= set(ids)
    if ds.trials is not None:
        assert all(isinstance(trial, SearchTrial) for trial in ds.trials)
    splits = check_splits(ds.splits, ids)
    assert splits and all(len(members) for members in splits.values())


def test_card_is_complete(name, loaded):
    card = loaded.card
    for field in ("name", "source", "licence", "citation", "how_to_get"):
        assert str(getattr(card, field)).strip(), f"{name}: card.{field} is empty"
    if not card.simulated:
        assert card.expected_files, f"{name}: a real dataset's card lists its expected files"
    assert card.name in str(card)


def test_description_is_one_line(name):
    description = DATASETS.describe(name)
    assert description and "\n" not in description
