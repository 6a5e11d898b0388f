"""The scanpath evaluation's hook for model-specific example arrays (DiffEye stores its raw trajectories there)."""

import numpy as np
import pandas as pd
import pytest

from cogmodels.data import Dataset, DatasetCard, Fixations, ScreenGeometry, Stimuli
from cogmodels.errors import DataFormatError
from cogmodels.scanpaths import evaluate as ev
from cogmodels.scanpaths.baselines import UniformModel

W, H = 40, 30


def tiny_dataset(n_images=5, n_test=3, n_subjects=3, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"im{i}" for i in range(n_images)]
    images = [rng.integers(0, 255, (H, W, 3)).astype(np.uint8) for _ in ids]
    rows = [(sid, f"s{s}", 0, k, rng.uniform(0, W - 1), rng.uniform(0, H - 1), 200.0 * k, 200.0)
            for sid in ids for s in range(n_subjects) for k in range(3)]
    table = pd.DataFrame(rows, columns=["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"])
    fixations = Fixations(table, image_sizes={sid: (W, H) for sid in ids},
                          geometry=ScreenGeometry(width_px=W, height_px=H, px_per_deg=4.0))
    card = DatasetCard(name="tiny", source="tests", licence="-", citation="-", simulated=True)
    return Dataset("tiny", Stimuli.from_arrays(ids, images), card, fixations=fixations,
                   splits={"train": np.array(ids[:-n_test]), "test": np.array(ids[-n_test:])})


class WithExamples(UniformModel):
    """The uniform baseline, also reporting the first x of each of its samples as an example array."""

    def example_arrays(self, stimulus, n, seed):
        return {"first_x": np.array([p.xy[0, 0] for p in self.sample(stimulus, n, seed=seed)])}


def test_example_arrays_describe_the_scored_draws_and_other_models_store_none():
    dataset = tiny_dataset()
    options = ev.ProtocolOptions(n_samples=4, n_examples=2, example_downsample=2)
    items = ev.evaluate_model(WithExamples(), dataset, options, "with_examples").items()
    plain = ev.evaluate_model(UniformModel(), dataset, options, "uniform").items()
    assert items["example_model_first_x"].shape == (2, 4)
    # the hook got a copy of the generator sample() got: it describes the very samples that were scored
    np.testing.assert_array_equal(items["example_model_first_x"], items["example_scanpath_xy"][:, :, 0, 0])
    assert not any(key.startswith("example_model_") for key in plain)
    for key in plain:  # the hook changes nothing else
        np.testing.assert_array_equal(plain[key], items[key])


def test_example_arrays_of_unequal_shapes_are_rejected():
    with pytest.raises(DataFormatError, match="trajectory"):
        ev._model_example_arrays([{"trajectory": np.zeros((2, 3))}, {"trajectory": np.zeros((2, 4))}])
    with pytest.raises(DataFormatError, match="trajectory"):
        ev._model_example_arrays([{"trajectory": np.zeros(2)}, {}])
