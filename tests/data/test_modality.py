"""BrainResponses.modality: the allowed values, and what each one checks."""

import numpy as np
import pytest

from cogmodels.data import BrainResponses, make_channel_table
from cogmodels.data.brain import MODALITIES
from cogmodels.errors import DataFormatError


def _responses(ids, modality, **kw):
    rng = np.random.default_rng(0)
    return BrainResponses(rng.standard_normal((len(ids), 3)).astype(np.float32), ids, make_channel_table(3),
                          modality=modality, **kw)


def test_spikes_is_a_modality_with_one_row_per_stimulus():
    repeats = np.full((4, 5, 3), np.nan, np.float32)
    repeats[:, :3] = 1.0
    spikes = _responses(list("abcd"), "spikes", repeats=repeats)
    assert spikes.modality == "spikes" and spikes.subset(["d", "a"]).modality == "spikes"
    with pytest.raises(DataFormatError, match="unique"):  # like fmri; seeg events may repeat a stimulus
        _responses(["a", "b", "a"], "spikes")
    assert _responses(["a", "b", "a"], "seeg").modality == "seeg"


@pytest.mark.parametrize("bad", ["spike", "FMRI", "", None])
def test_an_unknown_modality_is_a_typed_error_naming_the_allowed_values(bad):
    with pytest.raises(DataFormatError) as err:
        _responses(list("abcd"), bad)
    text = str(err.value)
    assert "modality" in text and repr(bad) in text
    for name in MODALITIES:
        assert repr(name) in text
    assert {"fmri", "seeg", "spikes"} <= set(MODALITIES)
