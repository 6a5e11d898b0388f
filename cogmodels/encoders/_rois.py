"""ROI labels of channels and the queries of the routing encoder that read them.

- :func:`check_rois` / :func:`check_hemispheres` validate the labels of channels;
- :func:`channel_query_names` names the query (or queries) each channel reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

QUERY_MODES = ("roi_hemisphere", "roi", "channel_group")


def check_rois(rois, n_channels: int, where: str = "rois") -> list[tuple[str, ...]]:
    """ROI labels per channel as a list of non-empty tuples of str (length n_channels)."""
    if rois is None:
        raise ConfigError(format_problem(where, "the ROI labels of each channel", "rois=None",
                                         "pass rois=BrainResponses.channels['rois'] (a tuple of names per channel)"))
    rois = list(rois)
    if len(rois) != n_channels:
        raise ShapeError(format_problem(where, f"{n_channels} entries (one per column of Y)", f"{len(rois)} entries",
                                        "pass the ROI labels of every channel, in the column order of Y"))
    labels = []
    for i, channel in enumerate(rois):
        names = (channel,) if isinstance(channel, str) else tuple(channel)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise DataFormatError(format_problem(f"{where}[{i}]", "a non-empty tuple of ROI names", repr(channel),
                                                 "label every channel with its ROI(s), or drop unlabelled channels"))
        labels.append(names)
    return labels


def check_hemispheres(hemispheres, n_channels: int, where: str = "hemispheres") -> list[str] | None:
    """Hemisphere label per channel (list of str of length n_channels), or None."""
    if hemispheres is None:
        return None
    hemispheres = [str(h) for h in hemispheres]
    if len(hemispheres) != n_channels:
        raise ShapeError(format_problem(where, f"{n_channels} entries (one per column of Y)",
                                        f"{len(hemispheres)} entries", "pass one hemisphere per channel, or None"))
    return hemispheres


def check_query_per(query_per) -> None:
    """``query_per`` is a mode of QUERY_MODES or a dict {ROI name or "*": mode}."""
    modes = query_per.values() if isinstance(query_per, Mapping) else [query_per]
    bad = [m for m in modes if m not in QUERY_MODES]
    if bad:
        raise ConfigError(format_problem("query_per", f"one of {QUERY_MODES} or a dict {{roi: mode}}",
                                         repr(query_per), "pick how queries are assigned to channels"))


def channel_query_names(rois: Sequence[tuple[str, ...]], hemispheres: Sequence[str] | None, query_per,
                        group_size: int) -> list[list[str]]:
    """Names of the queries each channel reads.

    Modes: ``"roi"``, one query per ROI name; ``"roi_hemisphere"``, one per
    ROI and hemisphere (``"lh.FFA"``); ``"channel_group"``, one per
    consecutive group of ``group_size`` channels within an ROI and hemisphere
    (``"lh.V1#2"``).  ``query_per`` is one mode for all ROIs, or a dict
    ``{roi: mode}`` whose ``"*"`` entry (default ``"roi_hemisphere"``) covers
    the other ROIs, e.g. ``{"V1": "channel_group", "*": "roi_hemisphere"}``.
    """
    counts: dict[str, int] = {}
    names = []
    for i, channel_rois in enumerate(rois):
        hemisphere = hemispheres[i] if hemispheres is not None else ""
        keys = []
        for roi in dict.fromkeys(channel_rois):
            mode = query_per if isinstance(query_per, str) else query_per.get(roi, query_per.get("*", QUERY_MODES[0]))
            key = f"{hemisphere}.{roi}" if hemisphere and mode != "roi" else roi
            if mode == "channel_group":
                rank = counts.get(key, 0)
                counts[key] = rank + 1
                key = f"{key}#{rank // group_size}"
            keys.append(key)
        names.append(keys)
    return names
