"""Plotting primitives for eye movements: scanpaths over an image, fixation density maps, metric tables.

Arrays in, a matplotlib Figure out (drawn into ``ax`` when one is given).
They never read files or fit anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cogmodels.data.checks import check_array
from cogmodels.errors import ConfigError, ShapeError, format_problem
from cogmodels.viz.plots import _axes


def _as_xy_and_duration(path) -> tuple[np.ndarray, np.ndarray | None]:
    """(n_fixations, 2) positions and optional (n_fixations,) durations of a Scanpath or an array."""
    if hasattr(path, "xy") and hasattr(path, "duration"):
        return np.asarray(path.xy, float), np.asarray(path.duration, float)
    xy = np.asarray(path, float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ShapeError(format_problem("plot_scanpaths scanpaths[i]",
                                        "a Scanpath or an array of shape (n_fixations, 2)",
                                        f"shape {xy.shape}", "pass x, y pixel positions as columns"))
    return xy, None


def plot_scanpaths(image, scanpaths: Sequence, ax=None, colors=None, labels: Sequence[str] | None = None,
                   marker_ms: float = 300.0, title: str = "", figsize=(5.0, 3.9), screen=None):
    """Draw scanpaths over an image: fixations (the first marked "1") joined by saccades.

    Parameters
    ----------
    image : array of shape (H, W, 3) or (H, W), or None
        Background; None draws on a blank canvas sized to the fixations.
    scanpaths : sequence of Scanpath or of arrays of shape (n_fixations, 2)
        Positions in pixels (origin top-left).  Marker areas scale with the
        fixation durations when the items are Scanpaths.
    ax : matplotlib Axes, optional
    colors : sequence of colours, optional
        One per scanpath (default: the tab10 cycle).
    labels : sequence of str, optional
        Legend entries, one per scanpath.
    marker_ms : float
        Duration (ms) drawn with the reference marker size.
    title : str
    screen : ScreenGeometry or (width, height), optional
        Without an image, the canvas is this screen (e.g. ``fixations.geometry``)
        instead of the fixations' extent.

    Returns
    -------
    matplotlib Figure
    """
    from cogmodels.data.geometry import as_screen_size

    figure, ax = _axes(ax, figsize)
    if image is not None:
        ax.imshow(np.asarray(image), interpolation="bilinear")
    palette = colors or [f"C{i % 10}" for i in range(len(scanpaths))]
    for i, path in enumerate(scanpaths):
        xy, duration = _as_xy_and_duration(path)
        if not len(xy):
            continue
        sizes = 40.0 if duration is None else 40.0 * np.clip(duration / marker_ms, 0.2, 4.0)
        color = palette[i % len(palette)]
        ax.plot(xy[:, 0], xy[:, 1], "-", color=color, lw=1.2, alpha=0.85,
                label=None if labels is None else labels[i])
        ax.scatter(xy[:, 0], xy[:, 1], s=sizes, color=color, edgecolors="white", linewidths=0.6, alpha=0.9, zorder=3)
        ax.annotate("1", xy[0], color="white", fontsize=6, ha="center", va="center", zorder=4)
    if image is None:
        if screen is not None:
            width, height = (float(v) for v in as_screen_size(screen))
            ax.set_xlim(0, width)
            ax.set_ylim(0, height)
            from matplotlib.patches import Rectangle

            ax.add_patch(Rectangle((0, 0), width, height, fill=False, lw=0.8, ec="0.6"))
        ax.invert_yaxis()
        ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if labels is not None:
        ax.legend(fontsize=6, loc="lower right", framealpha=0.6)
    ax.set_title(title, fontsize=9)
    return figure


def plot_density(density, image=None, fixations=None, ax=None, alpha: float = 0.65, cmap: str = "magma",
                 title: str = "", figsize=(5.0, 3.9)):
    """Show a fixation density map, optionally over its image and with fixations marked.

    Parameters
    ----------
    density : array of shape (h, w)
        Any non-negative map; it is stretched over the image when its size differs
        (e.g. a downsampled density).
    image : array of shape (H, W, 3), optional
    fixations : array of shape (n_fixations, 2), optional
        x, y in pixels of ``image`` (of ``density`` when no image is given).
    ax : matplotlib Axes, optional
    alpha : float
        Opacity of the map over the image.
    cmap : str
    title : str

    Returns
    -------
    matplotlib Figure
    """
    density = check_array(np.asarray(density, float), "plot_density density", ndim=2, finite=True)
    figure, ax = _axes(ax, figsize)
    height, width = density.shape if image is None else np.asarray(image).shape[:2]
    extent = (0, width, height, 0)
    if image is not None:
        ax.imshow(np.asarray(image), extent=extent)
    ax.imshow(density / (density.max() or 1.0), cmap=cmap, alpha=alpha if image is not None else 1.0,
              extent=extent, interpolation="bilinear")
    if fixations is not None:
        xy = np.asarray(fixations, float).reshape(-1, 2)
        ax.scatter(xy[:, 0], xy[:, 1], s=6, c="cyan", edgecolors="none", alpha=0.8)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return figure


def metric_table(values, row_names: Sequence[str], column_names: Sequence[str],
                 higher_is_better: Mapping[str, bool] | None = None, best_in: str = "column", ax=None,
                 fmt: str = "{:.3f}", title: str = "", figsize=None):
    """Render a table of numbers; the best value of each column (or row) is bold.

    Parameters
    ----------
    values : array of shape (n_rows, n_columns)
        NaN cells show as "n/a".
    row_names : sequence of str of length n_rows
    column_names : sequence of str of length n_columns
    higher_is_better : mapping name -> bool, optional
        Direction of each column (``best_in="column"``) or row (``best_in="row"``) for its
        bold "best" cell; names left out get none.
    best_in : {"column", "row"}
    ax : matplotlib Axes, optional
    fmt : str
    title : str

    Returns
    -------
    matplotlib Figure
    """
    values = np.asarray(values, float)
    if values.shape != (len(row_names), len(column_names)):
        raise ShapeError(format_problem("metric_table values", f"shape ({len(row_names)}, {len(column_names)})",
                                        f"shape {values.shape}", "pass one value per row name and column name"))
    figsize = figsize or (1.0 + 0.75 * len(column_names), 0.6 + 0.32 * len(row_names))
    figure, ax = _axes(ax, figsize)
    ax.axis("off")
    text = [[fmt.format(v) if np.isfinite(v) else "n/a" for v in row] for row in values]
    table = ax.table(cellText=text, rowLabels=list(row_names), colLabels=list(column_names), loc="center",
                     cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.scale(1.0, 1.3)
    if best_in not in ("column", "row"):
        raise ConfigError(format_problem("metric_table best_in", '"column" or "row"', repr(best_in),
                                        "say along which axis the best value is marked"))
    by_row = best_in == "row"
    for k, name in enumerate(row_names if by_row else column_names):
        direction = (higher_is_better or {}).get(name)
        line = values[k] if by_row else values[:, k]
        if direction is None or not np.isfinite(line).any():
            continue
        best = int(np.nanargmax(line) if direction else np.nanargmin(line))
        cell = table[k + 1, best] if by_row else table[best + 1, k]
        cell.get_text().set_fontweight("bold")
    ax.set_title(title, fontsize=9)
    return figure


def example_densities(items: Mapping[str, Mapping], reference: str, title, row_height: float = 2.1,
                      runs: Mapping[str, str] | None = None):
    """A grid of the example densities kept by scanpath runs: one row per model, one column per example image.

    Parameters
    ----------
    items : dict {model: items}
        The ``items.npz`` arrays of one run per model, in row order.  Each holds ``example_stimulus_id``
        (n_examples,) and ``example_density`` (n_examples, h, w); the ``reference`` run (the humans) also
        ``example_image_size`` (n_examples, 2) and its fixations ``example_scanpath_xy``
        (n_examples, n_scanpaths, max_len, 2) with ``example_scanpath_length`` (n_examples, n_scanpaths),
        which are dotted on its row.
    reference : str
        The model whose example images every other run must share (a DataFormatError otherwise).
    title : callable ``title(model, sid) -> str``
        Each panel's title.
    row_height : float
        Inches per row (2.6 inches per column).
    runs : dict {model: run id}, optional
        Named in the error when the example images differ.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    from cogmodels.errors import DataFormatError

    human = items[reference]
    ids = human["example_stimulus_id"]
    for model, arrays in items.items():
        if not np.array_equal(arrays["example_stimulus_id"], ids):
            run = f"run {runs[model]}" if runs and model in runs else f"the {model} run's"
            raise DataFormatError(format_problem(f"{run} items.npz example_stimulus_id",
                                                 f"the example images of the {reference} run {list(ids)}",
                                                 f"{list(arrays['example_stimulus_id'])}",
                                                 "re-run both with the same dataset split and evaluation.n_examples"))
    scale = human["example_image_size"][0][0] / human["example_density"].shape[2]
    figure, axes = plt.subplots(len(items), len(ids), figsize=(2.6 * len(ids), row_height * len(items)),
                                constrained_layout=True, squeeze=False)
    for row, (model, arrays) in enumerate(items.items()):
        for col, sid in enumerate(ids):
            fixations = None
            if model == reference:
                lengths, xy = human["example_scanpath_length"][col], human["example_scanpath_xy"][col]
                fixations = np.concatenate([xy[j, :n] for j, n in enumerate(lengths)]) / scale
            plot_density(arrays["example_density"][col], fixations=fixations, ax=axes[row, col],
                         title=title(model, sid))
    return figure
