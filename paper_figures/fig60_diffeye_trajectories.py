"""Figure 60 (DiffEye trajectories): DiffEye's generated gaze next to human scanpaths on OSIE test images.

Reads the store only: the example items kept in items.npz by the latest ``scanpath_osie`` runs of
``another_human`` (human scanpaths) and ``diffeye``.  Rows: humans; DiffEye's raw generated trajectories
(``example_model_trajectory``, shape (n_images, n_samples, n_steps, 2), pixels: the very draws that were
scored, stored through the evaluation's ``example_arrays`` hook, see :mod:`cogmodels.scanpaths.evaluate`);
the same samples as fixations (I-VT).  Runs from before the hook hold no trajectories: their figure has
the first and last rows only.
Build it with ``cogmodels figures --only diffeye_trajectories``.
"""

from __future__ import annotations

from pathlib import Path

from cogmodels.runner.figures import load_figure_module
from cogmodels.runner.store import load_runs
from cogmodels.viz.gaze import plot_scanpaths

EXPERIMENT = "scanpath_osie"
MODEL = "diffeye"
N_SHOWN = 4
TRAJECTORY_KEY = "example_model_trajectory"


def _fig10():
    """The example-unpacking helpers of figure 10 (same items layout), loaded as the figure runner loads scripts."""
    return load_figure_module(Path(__file__).with_name("fig10_scanpath_examples.py"))


def make(results, store_root):
    """Humans (top), raw DiffEye trajectories (middle, where stored) and their I-VT fixations (bottom)."""
    import matplotlib.pyplot as plt

    fig10 = _fig10()
    runs, humans, model, images = fig10.model_examples(results, store_root, EXPERIMENT, MODEL)
    n = len(humans["example_stimulus_id"])
    rows = 3 if TRAJECTORY_KEY in model else 2
    figure, axes = plt.subplots(rows, n, figsize=(3.2 * n, 2.5 * rows), constrained_layout=True, squeeze=False)
    for i in range(n):
        image = images[i]
        sid = humans["example_stimulus_id"][i]
        plot_scanpaths(image, fig10.unpack_scanpaths(humans, i, N_SHOWN), ax=axes[0, i], title=f"humans, {sid}")
        plot_scanpaths(image, fig10.unpack_scanpaths(model, i, N_SHOWN), ax=axes[rows - 1, i],
                       title=f"DiffEye (I-VT fixations), {sid}")
        if rows == 3:
            ax = axes[1, i]
            if image is not None:
                ax.imshow(image)
            for k, traj in enumerate(model[TRAJECTORY_KEY][i][:N_SHOWN]):
                ax.plot(traj[:, 0], traj[:, 1], lw=0.8, color=f"C{k}")
                ax.plot(traj[0, 0], traj[0, 1], "o", ms=3, color=f"C{k}")
            ax.set_title(f"DiffEye raw trajectories, {sid}", fontsize=8)
            ax.set_axis_off()
    config = load_runs(store_root).set_index("run_id")["config"][runs[MODEL]]
    scanpath = config.get("scanpath", {}) if isinstance(config, dict) else {}
    figure.suptitle(f"OSIE test images: {N_SHOWN} scanpaths each; DiffEye trained on trajectories synthesised "
                    f"from fixations, sampler {scanpath.get('sampler', '?')} ({scanpath.get('ddim_steps', '?')} steps)",
                    fontsize=9)
    return figure
