"""Scatter against the identity line, and grouped bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cogmodels.data.checks import check_array
from cogmodels.errors import ShapeError, format_problem


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        figure, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax.figure, ax


def identity_scatter(x, y, groups=None, ax=None, xlabel: str = "", ylabel: str = "", title: str = "",
                     figsize=(4.0, 4.0)):
    """Scatter ``y`` against ``x`` with the identity line (e.g. measured vs ceiling r).

    Parameters
    ----------
    x, y : arrays of shape (n_items,)
    groups : sequence of str of length n_items, optional
        One colour and legend entry per group (e.g. ROI).
    ax : matplotlib Axes, optional
    xlabel, ylabel, title : str
    figsize : (width, height) in inches, for a new figure

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = check_array(x, "identity_scatter x", ndim=1, dtype="number")
    y = check_array(y, "identity_scatter y", ndim=1, dtype="number")
    if x.shape != y.shape:
        raise ShapeError(format_problem("identity_scatter y", f"shape {x.shape} (like x)", f"shape {y.shape}",
                                        "pass one y per x"))
    labels = np.asarray(["all"] * x.size if groups is None else list(groups), dtype=str)
    if labels.size != x.size:
        raise ShapeError(format_problem("identity_scatter groups", f"{x.size} labels", f"{labels.size}",
                                        "pass one group label per item"))
    figure, ax = _axes(ax, figsize)
    for name in dict.fromkeys(labels):
        keep = labels == name
        ax.scatter(x[keep], y[keep], s=14, alpha=0.75, label=name if groups is not None else None)
    finite = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)]])
    low, high = (min(0.0, finite.min()), max(1.0, finite.max())) if finite.size else (0.0, 1.0)
    low, high = low - 0.03 * (high - low), high + 0.03 * (high - low)  # keep edge points inside the frame
    ax.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1, label="identity")
    ax.set(xlim=(low, high), ylim=(low, high), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_aspect("equal")
    ax.legend(frameon=False, fontsize="small")
    return figure


def grouped_bars(names: Sequence[str], series: Mapping[str, Sequence[float]], errors=None, ax=None,
                 ylabel: str = "", title: str = "", figsize=(5.0, 3.5)):
    """Bars of several series side by side for each name (e.g. measured and ceiling r per ROI).

    Parameters
    ----------
    names : sequence of str, length n_groups
    series : mapping of label -> values of shape (n_groups,)
    errors : mapping of label -> values of shape (n_groups,), optional
        Error bar half-widths.
    ax : matplotlib Axes, optional
    ylabel, title : str
    figsize : (width, height) in inches, for a new figure

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(names)
    figure, ax = _axes(ax, figsize)
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(names))
    for k, (label, values) in enumerate(series.items()):
        values = check_array(values, f"grouped_bars series {label!r}", ndim=1, dtype="number")
        if values.size != len(names):
            raise ShapeError(format_problem(f"grouped_bars series {label!r}", f"{len(names)} values (one per name)",
                                            f"{values.size}", "pass one value per group name"))
        err = None if errors is None or label not in errors else np.asarray(errors[label], dtype=float)
        ax.bar(positions + (k - (len(series) - 1) / 2) * width, values, width, yerr=err, capsize=3, label=label)
    ax.set_xticks(positions, names)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(frameon=False, fontsize="small")
    return figure
