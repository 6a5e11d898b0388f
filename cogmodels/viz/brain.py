"""Brain-encoding plots: ROI accuracy with ceilings, attention overlays, cortical surfaces, learning curves.

Arrays in, a matplotlib Figure out; nothing here reads results or fits.
The surface plots use nilearn's bundled fsaverage5 mesh (offline) and
``nilearn.plotting.plot_surf_stat_map`` with the matplotlib engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from cogmodels.data.checks import check_array
from cogmodels.errors import DataFormatError, ShapeError, format_problem
from cogmodels.viz.plots import _axes

FSAVERAGE5_VERTICES = 10242  # per hemisphere
HEMISPHERE_NAMES = {"lh": "left", "rh": "right"}


# -- ROI accuracy ------------------------------------------------------------------------
def roi_accuracy_bars(roi_names: Sequence[str], accuracy: Mapping[str, Sequence[float]], ceiling=None,
                      errors: Mapping[str, Sequence[float]] | None = None, true_ceiling=None, ax=None,
                      ylabel: str = "mean test r", title: str = "", figsize=(7.0, 3.5)):
    """Bars of accuracy per ROI for several encoders, with the noise ceiling drawn over each ROI.

    Parameters
    ----------
    roi_names : sequence of str, length n_rois
    accuracy : mapping encoder -> values of shape (n_rois,)
    ceiling : array of shape (n_rois,), optional
        Ceiling estimated from the data (e.g. mean sqrt(NC)): a black segment over each ROI.
    errors : mapping encoder -> half-widths of shape (n_rois,), optional
    true_ceiling : array of shape (n_rois,), optional
        A known ceiling (simulators): a dashed grey segment.
    ax : matplotlib Axes, optional
    ylabel, title : str
    figsize : (width, height) in inches, for a new figure

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(roi_names)
    figure, ax = _axes(ax, figsize)
    positions = np.arange(len(names))
    width = 0.8 / max(1, len(accuracy))
    for k, (label, values) in enumerate(accuracy.items()):
        values = _per_roi(values, len(names), f"accuracy[{label!r}]")
        err = None if not errors or label not in errors else _per_roi(errors[label], len(names), f"errors[{label!r}]")
        ax.bar(positions + (k - (len(accuracy) - 1) / 2) * width, values, width, yerr=err, capsize=2, label=label)
    for values, style in ((ceiling, dict(color="black", linewidth=2, label="noise ceiling (sqrt NC, estimated)")),
                          (true_ceiling, dict(color="0.45", linewidth=1.5, linestyle="--",
                                              label="true ceiling (simulator)"))):
        if values is not None:
            values = _per_roi(values, len(names), "ceiling")
            ax.hlines(values, positions - 0.45, positions + 0.45, **style)
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set_xticks(positions, names)
    ax.set(ylabel=ylabel, title=title)
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.25 * (high - low))  # room for the legend above bars and ceilings
    ax.legend(frameon=False, fontsize="small", ncol=3, loc="upper left")
    return figure


def _per_roi(values, n: int, where: str) -> np.ndarray:
    values = check_array(values, where, ndim=1, dtype="number").astype(np.float64)
    if values.size != n:
        raise ShapeError(format_problem(where, f"{n} values (one per ROI)", f"{values.size}", "pass one value per ROI"))
    return values


# -- attention ---------------------------------------------------------------------------
def box_coverage(boxes, grid: tuple[int, int], image_size: tuple[int, int]) -> np.ndarray:
    """Fraction of each feature-grid cell covered by the union of boxes.

    Parameters
    ----------
    boxes : array of shape (n_boxes, 4)
        (x0, y0, x1, y1) in pixels, x1/y1 exclusive.
    grid : (H, W)
    image_size : (height, width) in pixels

    Returns
    -------
    coverage : array of shape (H, W), values in [0, 1]
    """
    height, width = image_size
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in np.asarray(boxes, dtype=float).reshape(-1, 4):
        mask[max(0, int(round(y0))):int(round(y1)), max(0, int(round(x0))):int(round(x1))] = True
    rows = np.linspace(0, height, grid[0] + 1).round().astype(int)
    cols = np.linspace(0, width, grid[1] + 1).round().astype(int)
    return np.array([[mask[rows[i]:rows[i + 1], cols[j]:cols[j + 1]].mean() for j in range(grid[1])]
                     for i in range(grid[0])])


def attention_in_boxes(attention, boxes, image_size) -> tuple[float, float]:
    """Share of an attention map's mass inside boxes, and the share of the image the boxes cover (chance).

    Parameters
    ----------
    attention : array of shape (H, W), summing to 1 (a map over the feature grid)
    boxes : array of shape (n_boxes, 4), pixels
    image_size : (height, width)
    """
    attention = check_array(attention, "attention", ndim=2, dtype="number")
    coverage = box_coverage(boxes, attention.shape, image_size)
    return float((attention * coverage).sum() / attention.sum()), float(coverage.mean())


def attention_overlay(image, attention, boxes=None, ax=None, title: str = "", box_color="cyan", alpha: float = 0.6,
                      figsize=(3.0, 3.0)):
    """An attention map over the feature grid, upsampled onto a grey version of the image, with boxes.

    Parameters
    ----------
    image : uint8 array of shape (height, width, 3)
    attention : array of shape (H, W)
    boxes : array of shape (n_boxes, 4), optional
        (x0, y0, x1, y1) in pixels, outlined.
    ax : matplotlib Axes, optional
    title, box_color : str
    alpha : float
        Opacity of the attention map.

    Returns
    -------
    matplotlib.figure.Figure
    """
    image = check_array(image, "image", ndim=3)
    attention = check_array(attention, "attention", ndim=2, dtype="number")
    figure, ax = _axes(ax, figsize)
    height, width = image.shape[:2]
    ax.imshow(image.mean(axis=2), cmap="gray", vmin=0, vmax=255)
    ax.imshow(attention, cmap="magma", alpha=alpha, extent=(0, width, height, 0), interpolation="bilinear",
              vmin=0, vmax=max(float(attention.max()), 1e-12))
    draw_boxes(ax, boxes, color=box_color)
    ax.set(xlim=(0, width), ylim=(height, 0), title=title)
    ax.set_xticks([])
    ax.set_yticks([])
    return figure


def draw_boxes(ax, boxes, color="cyan", linewidth: float = 1.5, labels=None) -> None:
    """Outline boxes (x0, y0, x1, y1) in pixels on ``ax``; ``labels`` (one per box) are written at their corner."""
    from matplotlib.patches import Rectangle

    if boxes is None:
        return
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    colors = [color] * len(boxes) if isinstance(color, str) else list(color)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colors[k], linewidth=linewidth))
        if labels is not None:
            ax.text(x0 + 1, y0 + 1, str(labels[k]), color=colors[k], fontsize=6, va="top", ha="left")


# -- cortical surface --------------------------------------------------------------------
@lru_cache(maxsize=1)
def fsaverage5() -> dict:
    """nilearn's bundled fsaverage5 (no network): per hemisphere "lh"/"rh", the pial and inflated
    coordinates (10242, 3), the faces (20480, 3) and the sulcal depth (10242,)."""
    from nilearn import datasets

    mesh = datasets.load_fsaverage("fsaverage5")
    sulcal = datasets.load_fsaverage_data(mesh="fsaverage5", mesh_type="inflated", data_type="sulcal")
    out = {}
    for hemi, part in HEMISPHERE_NAMES.items():
        out[hemi] = {"pial": np.asarray(mesh["pial"].parts[part].coordinates),
                     "inflated": np.asarray(mesh["inflated"].parts[part].coordinates),
                     "faces": np.asarray(mesh["inflated"].parts[part].faces),
                     "sulcal": np.asarray(sulcal.data.parts[part]).ravel()}
    return out


def surface_values(values, vertices, hemispheres, radius_mm: float = 4.0) -> dict:
    """Per-channel values painted onto the fsaverage5 vertices of each hemisphere.

    Channels sit on single vertices (fsaverage5 indices, < 10242), a few hundred
    points of a 10242-vertex mesh; each vertex within ``radius_mm`` (pial
    distance) of a channel takes the value of the nearest channel, so channels
    show as patches.  Other vertices are NaN (not drawn).

    Parameters
    ----------
    values : array of shape (n_channels,)
    vertices : int array of shape (n_channels,)
        fsaverage5 vertex index of each channel.
    hemispheres : array of str of shape (n_channels,), "lh" or "rh"
    radius_mm : float

    Returns
    -------
    dict "lh"/"rh" -> array of shape (10242,)
    """
    from scipy.spatial import cKDTree

    values = check_array(values, "values", ndim=1, dtype="number").astype(np.float64)
    vertices = np.asarray(vertices)
    hemispheres = np.asarray(hemispheres, dtype=str)
    if vertices.shape != values.shape or hemispheres.shape != values.shape:
        raise ShapeError(format_problem("surface_values vertices/hemispheres", f"shape {values.shape} (one per "
                                        "channel)", f"{vertices.shape} and {hemispheres.shape}",
                                        "pass the vertex and hemisphere of every channel"))
    if vertices.size and (vertices.min() < 0 or vertices.max() >= FSAVERAGE5_VERTICES):
        raise DataFormatError(format_problem("surface_values vertices", f"fsaverage5 indices in [0, "
                                             f"{FSAVERAGE5_VERTICES - 1}]", f"[{vertices.min()}, {vertices.max()}]",
                                             "map the channels to fsaverage5 vertices first"))
    mesh = fsaverage5()
    out = {}
    for hemi in ("lh", "rh"):
        painted = np.full(FSAVERAGE5_VERTICES, np.nan)
        keep = (hemispheres == hemi) & np.isfinite(values)
        if keep.any():
            pial = mesh[hemi]["pial"]
            distance, nearest = cKDTree(pial[vertices[keep]]).query(pial, distance_upper_bound=radius_mm)
            hit = np.isfinite(distance)
            painted[hit] = values[keep][nearest[hit]]
        out[hemi] = painted
    return out


def surface_map(values_by_hemisphere: Mapping[str, np.ndarray], views=("lateral", "ventral"), axes=None,
                vmin: float = 0.0, vmax: float = 1.0, cmap: str = "inferno", title: str = "", colorbar: bool = False):
    """Draw per-vertex values on the inflated fsaverage5 surface (nilearn, matplotlib engine).

    Parameters
    ----------
    values_by_hemisphere : mapping "lh"/"rh" -> array of shape (10242,)
        NaN vertices are not coloured (see :func:`surface_values`).
    views : sequence of nilearn view names ("lateral", "medial", "ventral", "posterior", ...)
    axes : sequence of 3D Axes, optional
        One per (hemisphere, view), hemisphere-major; a new figure otherwise.
    vmin, vmax : float
        Colour range.
    cmap : str
    title : str
        Written left of the first panel (a row label).
    colorbar : bool

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from nilearn import plotting

    hemis = [h for h in ("lh", "rh") if h in values_by_hemisphere]
    panels = [(h, v) for h in hemis for v in views]
    if axes is None:
        figure, axes = plt.subplots(1, len(panels), subplot_kw={"projection": "3d"},
                                    figsize=(2.6 * len(panels), 2.6))
        axes = np.atleast_1d(axes)
    axes = list(np.ravel(axes))
    if len(axes) != len(panels):
        raise ShapeError(format_problem("surface_map axes", f"{len(panels)} 3D axes (hemisphere x view)",
                                        f"{len(axes)}", "pass one axis per hemisphere and view"))
    mesh = fsaverage5()
    for ax, (hemi, view) in zip(axes, panels):
        values = np.asarray(values_by_hemisphere[hemi], dtype=float)
        if values.shape != (FSAVERAGE5_VERTICES,):
            raise ShapeError(format_problem(f"surface_map values[{hemi!r}]", f"shape ({FSAVERAGE5_VERTICES},)",
                                            f"shape {values.shape}", "paint the channels with surface_values"))
        plotting.plot_surf_stat_map((mesh[hemi]["inflated"], mesh[hemi]["faces"]), values,
                                    bg_map=mesh[hemi]["sulcal"], hemi=HEMISPHERE_NAMES[hemi], view=view,
                                    engine="matplotlib", axes=ax, figure=ax.figure, cmap=cmap, vmin=vmin, vmax=vmax,
                                    colorbar=colorbar, symmetric_cbar=False, bg_on_data=False, threshold=None)
        ax.set_title(f"{hemi} {view}", fontsize="small")
    if title:  # a row label left of the first panel
        axes[0].text2D(-0.08, 0.5, title, transform=axes[0].transAxes, fontsize="medium", ha="right",
                       va="center", rotation=90)
    return axes[0].figure


# -- learning curve ----------------------------------------------------------------------
def learning_curve(n_train, series: Mapping[str, Sequence[float]], errors=None, ceiling: float | None = None,
                   ax=None, xlabel: str = "training images", ylabel: str = "mean test r", title: str = "",
                   figsize=(4.5, 3.5)):
    """Accuracy against the number of training images, one line per series (e.g. transfer, scratch).

    Parameters
    ----------
    n_train : array of shape (n_points,)
    series : mapping label -> values of shape (n_points,)
    errors : mapping label -> half-widths of shape (n_points,), optional
    ceiling : float, optional
        A horizontal dotted line (e.g. the mean noise ceiling r).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_train = check_array(n_train, "n_train", ndim=1, dtype="number")
    figure, ax = _axes(ax, figsize)
    for label, values in series.items():
        values = check_array(values, f"series {label!r}", ndim=1, dtype="number")
        if values.size != n_train.size:
            raise ShapeError(format_problem(f"learning_curve series {label!r}", f"{n_train.size} values",
                                            f"{values.size}", "pass one value per n_train"))
        err = None if not errors or label not in errors else np.asarray(errors[label], dtype=float)
        ax.errorbar(n_train, values, yerr=err, marker="o", capsize=3, label=label)
    if ceiling is not None:
        ax.axhline(ceiling, color="0.3", linestyle=":", label="noise ceiling (sqrt NC)")
    ax.set_xscale("log")
    ax.set_xticks(n_train, [str(int(n)) for n in n_train])
    ax.minorticks_off()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(frameon=False, fontsize="small")
    return figure
