"""Scanpath pairs as padded arrays, the input format of every batched gaze metric."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cogmodels.data import Scanpath
from cogmodels.errors import DataFormatError, ShapeError, format_problem


@dataclass
class PathBatch:
    """Many scanpaths, left-aligned and zero-padded.

    Attributes
    ----------
    xy : float array of shape (n_paths, n_max, 2)
        Fixation positions in pixels.
    duration : float array of shape (n_paths, n_max)
        Fixation durations in ms (zeros where the input had none).
    length : int array of shape (n_paths,)
    has_duration : bool array of shape (n_paths,)
    stimulus_id : list of (str or None), length n_paths
    """

    xy: np.ndarray
    duration: np.ndarray
    length: np.ndarray
    has_duration: np.ndarray
    stimulus_id: list

    def __len__(self) -> int:
        return len(self.length)

    def paths_xy(self) -> list[np.ndarray]:
        """Unpadded positions, one (n_fixations, 2) array per path."""
        return [self.xy[p, :n] for p, n in enumerate(self.length)]

    def paths_duration(self) -> list[np.ndarray]:
        return [self.duration[p, :n] for p, n in enumerate(self.length)]

    def take(self, rows: np.ndarray) -> "PathBatch":
        return PathBatch(self.xy[rows], self.duration[rows], self.length[rows], self.has_duration[rows],
                         [self.stimulus_id[r] for r in rows])


def _columns(obj, where: str):
    """(x, y, duration or None, stimulus_id) of one scanpath; Scanpath objects are already validated."""
    if isinstance(obj, Scanpath):
        return obj.x, obj.y, obj.duration, obj.stimulus_id
    array = np.asarray(obj, dtype=float)
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        raise ShapeError(format_problem(where, "a Scanpath or an array of shape (n_fixations, 2 or 3) "
                                               "with columns x, y[, duration_ms]", f"shape {array.shape}",
                                        "pass cogmodels.data.Scanpath objects"))
    if not np.isfinite(array).all():
        raise DataFormatError(format_problem(where, "finite coordinates and durations",
                                             f"{int((~np.isfinite(array)).sum())} NaN/inf values",
                                             "drop missing fixations first"))
    if array.shape[1] == 3 and (array[:, 2] < 0).any():
        raise DataFormatError(format_problem(f"{where} durations", "durations >= 0 ms",
                                             f"min {array[:, 2].min():g}", "check the duration column"))
    return array[:, 0], array[:, 1], (array[:, 2] if array.shape[1] == 3 else None), None


def collect(paths: Sequence, name: str, single: bool) -> PathBatch:
    """Pad a list of scanpaths (Scanpath objects or (n, 2|3) arrays) into a :class:`PathBatch`."""
    if all(isinstance(p, Scanpath) for p in paths):  # the common case, validated already: no per-path checks
        xs, ys, ds = [p.x for p in paths], [p.y for p in paths], [p.duration for p in paths]
        stimulus_id = [p.stimulus_id for p in paths]
        has_duration = np.ones(len(paths), dtype=bool)
    else:
        columns = [_columns(p, name if single else f"{name}[{i}]") for i, p in enumerate(paths)]
        xs, ys = [c[0] for c in columns], [c[1] for c in columns]
        ds = [c[2] if c[2] is not None else np.zeros(len(c[0])) for c in columns]
        stimulus_id = [c[3] for c in columns]
        has_duration = np.array([c[2] is not None for c in columns], dtype=bool)
    length = np.array([len(x) for x in xs], dtype=np.int64)
    n_max = max(int(length.max(initial=0)), 1)
    xy = np.zeros((len(xs), n_max, 2))
    duration = np.zeros((len(xs), n_max))
    if length.sum():
        rows = np.repeat(np.arange(len(xs)), length)
        cols = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
        xy[rows, cols, 0] = np.concatenate(xs)
        xy[rows, cols, 1] = np.concatenate(ys)
        duration[rows, cols] = np.concatenate(ds)
    return PathBatch(xy, duration, length, has_duration, stimulus_id)


def is_single(obj) -> bool:
    return isinstance(obj, Scanpath) or (isinstance(obj, np.ndarray) and obj.ndim == 2)


def pair_batches(a, b, need_duration: bool = False) -> tuple[PathBatch, PathBatch, bool]:
    """Both sides of the pairs (a[i], b[i]) as padded batches, and whether the input was a single pair."""
    single = is_single(a)
    if single != is_single(b):
        raise ShapeError(format_problem("a, b", "two scanpaths or two sequences of scanpaths",
                                        f"{type(a).__name__} and {type(b).__name__}",
                                        "wrap single scanpaths in lists to compare them pairwise"))
    if single:
        a, b = [a], [b]
    if not isinstance(a, Sequence) or not isinstance(b, Sequence):
        raise ShapeError(format_problem("a, b", "Scanpath objects or lists of them",
                                        f"{type(a).__name__} and {type(b).__name__}", "pass lists of Scanpath"))
    if len(a) != len(b):
        raise ShapeError(format_problem("a, b", "sequences of equal length (a[i] is compared with b[i])",
                                        f"lengths {len(a)} and {len(b)}", "pair the scanpaths one to one"))
    batch_a, batch_b = collect(a, "a", single), collect(b, "b", single)
    if need_duration:
        for side, batch in (("a", batch_a), ("b", batch_b)):
            if not batch.has_duration.all():
                first = int(np.argmin(batch.has_duration))
                raise ShapeError(format_problem(side if single else f"{side}[{first}]",
                                                "fixation durations (a Scanpath, or an array with 3 columns "
                                                "x, y, duration_ms)", "positions only (2 columns)",
                                                "add the durations in ms as a third column"))
    return batch_a, batch_b, single
