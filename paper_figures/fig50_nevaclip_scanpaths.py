"""Figure 50 (NevaClip scanpaths): NevaClip's sampled scanpaths next to human ones on OSIE test images.

Reads the store only: the example scanpaths kept in items.npz by the latest
``scanpath_osie`` runs of ``another_human`` (the human scanpaths) and of
``nevaclip`` (free viewing, its samples), with the metric means of both runs and
of the baselines in the title.  Build it with ``cogmodels figures --only nevaclip_scanpaths`` after

    cogmodels run -m experiment=scanpath_osie scanpath=nevaclip,uniform,center_bias,another_human
"""

from __future__ import annotations

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items, load_runs
from cogmodels.scanpaths.evaluate import HUMAN_CEILING, latest_runs
from cogmodels.viz.gaze import plot_scanpaths

EXPERIMENT = "scanpath_osie"
MODEL = "nevaclip"
N_SHOWN = 4  # scanpaths per panel
TITLE_METRICS = ("sequence_score", "nss")


def _unpack(items, image, limit):
    from cogmodels.data import Scanpath

    lengths = items["example_scanpath_length"][image]
    xy, duration = items["example_scanpath_xy"][image], items["example_scanpath_duration"][image]
    return [Scanpath.from_arrays(xy[j, :n, 0], xy[j, :n, 1], duration=duration[j, :n])
            for j, n in enumerate(lengths[:limit]) if n > 0]


def _image(items, image, config):
    from pathlib import Path

    from cogmodels.data.stimuli import load_image

    path = Path(str(items["example_image_path"][image]))
    root = (config.get("dataset") or {}).get("root")
    for candidate in [path] + ([Path(root) / "data" / "stimuli" / path.name] if root else []):
        if candidate.is_file():
            return load_image(candidate)
    return None


def make(results, store_root):
    """Top row: human scanpaths; bottom row: NevaClip samples on the same images."""
    import matplotlib.pyplot as plt

    runs = latest_runs(results, EXPERIMENT, f"{store_root}/results.sqlite", required=(MODEL, HUMAN_CEILING))
    configs = load_runs(store_root).set_index("run_id")["config"]
    humans, model = load_items(store_root, runs[HUMAN_CEILING]), load_items(store_root, runs[MODEL])
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
            plot_scanpaths(_image(humans, i, configs[runs[HUMAN_CEILING]]), _unpack(items, i, N_SHOWN),
                           ax=axes[row, i], title=f"{'humans' if row == 0 else 'NevaClip'}, image {sid}")
    figure.suptitle(f"OSIE test images, {N_SHOWN} scanpaths each (first fixation marked 1). "
                    f"Humans (other observers): {label[HUMAN_CEILING]}; NevaClip: {label[MODEL]}", fontsize=9)
    return figure
