"""Plotting primitives: arrays in, a matplotlib Figure out.

Each function draws into ``ax`` when given one (and returns its figure), or
makes a new figure.  They never read files or fit anything.
"""

from cogmodels.viz.gaze import metric_table, plot_density, plot_scanpaths
from cogmodels.viz.plots import grouped_bars, identity_scatter

__all__ = ["grouped_bars", "identity_scatter", "metric_table", "plot_density", "plot_scanpaths"]
