"""The example-density grid shared by the scanpath density figures (fig12, fig61)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cogmodels.errors import DataFormatError  # noqa: E402
from cogmodels.viz.gaze import example_densities  # noqa: E402


def _items(ids, rng, human=False):
    items = {"example_stimulus_id": np.asarray(ids), "example_density": rng.random((len(ids), 6, 8))}
    if human:  # images of 16 x 12 px, two scanpaths per image of 3 and 1 fixations
        items["example_image_size"] = np.tile([16, 12], (len(ids), 1))
        xy = rng.random((len(ids), 2, 3, 2)) * 12
        items.update(example_scanpath_xy=xy, example_scanpath_length=np.tile([3, 1], (len(ids), 1)))
    return items


def test_one_row_per_model_with_the_reference_fixations_dotted_on_its_own_row():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    items = {"humans": _items(["a", "b"], rng, human=True), "model": _items(["a", "b"], rng)}
    figure = example_densities(items, "humans", lambda model, sid: f"{model} {sid}")
    axes = np.asarray(figure.axes[:4]).reshape(2, 2)
    assert [[ax.get_title() for ax in row] for row in axes] == [["humans a", "humans b"], ["model a", "model b"]]
    dotted = [[sum(len(c.get_offsets()) for c in ax.collections) for ax in row] for row in axes]
    assert dotted == [[4, 4], [0, 0]]  # 3 + 1 human fixations; none on the model's row
    plt.close(figure)


def test_runs_with_other_example_images_are_refused_naming_the_run():
    rng = np.random.default_rng(0)
    items = {"humans": _items(["a", "b"], rng, human=True), "model": _items(["a", "c"], rng)}
    with pytest.raises(DataFormatError, match=r"run 1234 items.npz example_stimulus_id.*re-run both"):
        example_densities(items, "humans", lambda model, sid: sid, runs={"humans": "0000", "model": "1234"})
