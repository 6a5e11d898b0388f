"""Figure 50 (NevaClip scanpaths): NevaClip's sampled scanpaths next to human ones on OSIE test images.

Reads the store only: the example scanpaths kept in items.npz by the latest
``scanpath_osie`` runs of ``another_human`` (the human scanpaths) and of
``nevaclip`` (free viewing, its samples), with the metric means of both runs and
of the baselines in the title.  Build it with ``cogmodels figures --only nevaclip_scanpaths`` after

    cogmodels run -m experiment=scanpath_osie scanpath=nevaclip,uniform,center_bias,another_human
"""

from __future__ import annotations

from pathlib import Path

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.figures import load_figure_module
from cogmodels.scanpaths.evaluate import HUMAN_CEILING
from cogmodels.viz.gaze import plot_scanpaths

EXPERIMENT = "scanpath_osie"
MODEL = "nevaclip"
N_SHOWN = 4  # scanpaths per panel
TITLE_METRICS = ("sequence_score", "nss")


def _fig10():
    """Figure 10's module (its helpers are reused here), loaded as the figure runner loads scripts."""
    return load_figure_module(Path(__file__).with_name("fig10_scanpath_examples.py"))


def make(results, store_root):
    """Top row: human scanpaths; bottom row: NevaClip samples on the same images."""
    import matplotlib.pyplot as plt

    fig10 = _fig10()
    runs, humans, model, images = fig10.model_examples(results, store_root, EXPERIMENT, MODEL)
    n_images = min(len(humans["example_stimulus_id"]), len(model["example_stimulus_id"]))
    if n_images == 0:
        raise DataFormatError(format_problem(f"run {runs[MODEL]} items.npz", "example scanpaths",
                                             "none (evaluation.n_examples=0)", "re-run with evaluation.n_examples=4"))
    means = results[results["run_id"].isin([runs[MODEL], runs[HUMAN_CEILING]])]
    label = {}
    for name in (HUMAN_CEILING, MODEL):
        rows = means[(means["run_id"] == runs[name]) & means["metric"].isin(TITLE_METRICS)]
        label[name] = ", ".join(f"{m} {v:.3f}" for m, v in zip(rows["metric"], rows["value"]))
    figure, axes = plt.subplots(2, n_images, figsize=(3.2 * n_images, 5.2), constrained_layout=True, squeeze=False)
    for row, (name, items) in enumerate([(HUMAN_CEILING, humans), (MODEL, model)]):
        for i in range(n_images):
            sid = items["example_stimulus_id"][i]
            plot_scanpaths(images[i], fig10.unpack_scanpaths(items, i, N_SHOWN),
                           ax=axes[row, i], title=f"{'humans' if row == 0 else 'NevaClip'}, image {sid}")
    figure.suptitle(f"OSIE test images, {N_SHOWN} scanpaths each (first fixation marked 1). "
                    f"Humans (other observers): {label[HUMAN_CEILING]}; NevaClip: {label[MODEL]}", fontsize=9)
    return figure
