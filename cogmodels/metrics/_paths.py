"""Scanpath pairs as arrays, the input format of every batched gaze metric.

Two layouts:

- *ragged*: all fixations (:class:`FlatPaths`) or saccades (:class:`Saccades`)
  of all paths in one array, path after path. Packing costs one pass over the
  paths; MultiMatch works on these.
- *padded* (:class:`PathBatch`): one row per path, zero-padded to the longest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

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


@dataclass
class FlatPaths:
    """Many scanpaths, concatenated: path p holds fixations ``offset[p] : offset[p] + length[p]``.

    Attributes
    ----------
    x, y : float arrays of shape (n_fixations_total,)
        Fixation positions in pixels.
    duration : float array of shape (n_fixations_total,)
        Fixation durations in ms (zeros where the input had none).
    length : int array of shape (n_paths,)
    has_duration : bool array of shape (n_paths,)
    source : list, length n_paths
        The input scanpath of each path (a Scanpath or an array).
    """

    x: np.ndarray
    y: np.ndarray
    duration: np.ndarray
    length: np.ndarray
    has_duration: np.ndarray
    source: list

    def __len__(self) -> int:
        return len(self.length)

    @property
    def stimulus_id(self) -> list:
        """The stimulus of each path (None for arrays), read only when asked for."""
        return [p.stimulus_id if isinstance(p, Scanpath) else None for p in self.source]

    @property
    def offset(self) -> np.ndarray:
        """Index of the first fixation of each path, shape (n_paths,)."""
        return np.cumsum(self.length) - self.length

    def padded(self) -> PathBatch:
        """The same paths as a zero-padded :class:`PathBatch`."""
        n_max = max(int(self.length.max(initial=0)), 1)
        # Row-major position of every fixation in an (n_paths, n_max) array.
        cell = np.arange(len(self.x)) + np.repeat(np.arange(len(self)) * n_max - self.offset, self.length)
        xy = np.zeros((len(self) * n_max, 2))
        duration = np.zeros(len(self) * n_max)
        xy[cell, 0], xy[cell, 1], duration[cell] = self.x, self.y, self.duration
        return PathBatch(xy.reshape(len(self), n_max, 2), duration.reshape(len(self), n_max), self.length,
                         self.has_duration, self.stimulus_id)


class Ragged:
    """Per-entry arrays of many paths, concatenated (path p owns entries ``offset[p] : offset[p] + count[p]``).

    Subclasses are dataclasses whose fields are the per-saccade arrays named in
    PER_SACCADE, then the per-path arrays named in PER_PATH (``count`` first).
    """

    PER_SACCADE: tuple[str, ...] = ()
    PER_PATH: tuple[str, ...] = ()
    count: np.ndarray

    @property
    def offset(self) -> np.ndarray:
        """Index of the first saccade of each path, shape (n_paths,)."""
        return np.cumsum(self.count) - self.count

    @property
    def last(self) -> np.ndarray:
        """Index of the last saccade of each path, shape (n_paths,)."""
        return np.cumsum(self.count) - 1

    def __len__(self) -> int:
        return len(self.count)

    def select(self, paths: np.ndarray):
        """The paths where the bool array ``paths`` (n_paths,) is True."""
        if paths.all():
            return self
        entries = np.repeat(paths, self.count)
        return type(self)(*(getattr(self, name).compress(entries) for name in self.PER_SACCADE),
                          *(getattr(self, name).compress(paths) for name in self.PER_PATH))

    def reorder(self, order: np.ndarray):
        """The paths in the order ``order`` (a permutation of the path indices); each keeps its saccades."""
        count = self.count.take(order)
        entries = np.repeat(self.offset.take(order) - np.cumsum(count) + count, count) + np.arange(count.sum())
        return type(self)(*(getattr(self, name).take(entries) for name in self.PER_SACCADE),
                          *(getattr(self, name).take(order) for name in self.PER_PATH))

    @classmethod
    def concatenate(cls, parts: list):
        """The paths of ``parts``, one after the other."""
        return cls(*(np.concatenate([getattr(part, name) for part in parts])
                     for name in cls.PER_SACCADE + cls.PER_PATH))


@dataclass
class Saccades(Ragged):
    """The saccades of many scanpaths, concatenated: path p owns entries ``offset[p] : offset[p] + count[p]``.

    Saccade k of a path goes from its fixation k to fixation k + 1. The
    durations follow MultiMatch's duration list (see :mod:`cogmodels.metrics._multimatch`).

    Attributes
    ----------
    start_x, start_y : float arrays of shape (n_saccades_total,)
        Start point of each saccade, in pixels.
    dx, dy : float arrays of shape (n_saccades_total,)
        Saccade vector, in pixels.
    amplitude : float array of shape (n_saccades_total,)
        ``sqrt(dx ** 2 + dy ** 2)``, as multimatch-gaze computes it.
    duration : float array of shape (n_saccades_total,)
        Duration (ms) of the fixation each saccade leaves: entry k of the duration list.
    count : int array of shape (n_paths,)
        Number of saccades of each path (>= 1).
    last_duration : float array of shape (n_paths,)
        The last entry of the duration list: the duration of the last fixation.
    duration_count : int array of shape (n_paths,)
        Length of the duration list: ``count + 1``, or ``count + 2`` right after MultiMatch's
        simplification folded the last saccade (its quirk (a)).
    """

    start_x: np.ndarray
    start_y: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    amplitude: np.ndarray
    duration: np.ndarray
    count: np.ndarray
    last_duration: np.ndarray
    duration_count: np.ndarray

    PER_SACCADE = ("start_x", "start_y", "dx", "dy", "amplitude", "duration")
    PER_PATH = ("count", "last_duration", "duration_count")

    @classmethod
    def from_fixations(cls, x: np.ndarray, y: np.ndarray, duration: np.ndarray, length: np.ndarray,
                       keep: np.ndarray | None = None) -> "Saccades":
        """Saccades between consecutive fixations.

        Parameters
        ----------
        x, y, duration : float arrays of shape (n_fixations_total,)
            The fixations of all paths, path after path (durations in ms).
        length : int array of shape (n_paths,)
            Fixations per path.
        keep : bool array of shape (n_paths,), optional
            The paths to keep (default: all); each kept path needs >= 2 fixations.
        """
        last = np.cumsum(length) - 1
        # The fixations that a saccade leaves: all but the last of each kept path.
        leaves = np.ones(len(x), dtype=bool) if keep is None else np.repeat(keep, length)
        leaves[last[length > 0]] = False
        arrives = leaves[:-1]                       # x[1:][arrives]: the fixations that a saccade arrives at
        start_x, start_y = x.compress(leaves), y.compress(leaves)
        dx, dy = x[1:].compress(arrives) - start_x, y[1:].compress(arrives) - start_y
        if keep is not None:
            length, last = length[keep], last[keep]
        return cls(start_x, start_y, dx, dy, np.sqrt(dx ** 2 + dy ** 2), duration.compress(leaves), length - 1,
                   duration[last], length.copy())


def _columns(obj, where: str):
    """(x, y, duration or None) of one scanpath; Scanpath objects are already validated."""
    if isinstance(obj, Scanpath):
        return obj.x, obj.y, obj.duration
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
    return array[:, 0], array[:, 1], (array[:, 2] if array.shape[1] == 3 else None)


def _concatenate(arrays: list[np.ndarray], length: np.ndarray) -> np.ndarray:
    """``np.concatenate`` of the 1-d float64 arrays of Scanpath objects, faster on many short ones.

    ``bytearray.join`` copies raw buffers with less overhead per array than
    numpy; a strided view (no single contiguous block) goes through numpy.
    """
    try:
        joined = bytearray().join(arrays)
    except TypeError:
        return np.concatenate(arrays).astype(float, copy=False)
    if len(joined) != 8 * int(length.sum()):  # only float64 fills 8 bytes per fixation
        return np.concatenate(arrays).astype(float, copy=False)
    return np.frombuffer(joined, dtype=np.float64)


def flatten(paths: Sequence, name: str, single: bool) -> FlatPaths:
    """Concatenate a list of scanpaths (Scanpath objects or (n, 2|3) arrays) into a :class:`FlatPaths`."""
    if all(map(isinstance, paths, repeat(Scanpath))):
        return _flatten_scanpaths(paths)
    columns = [_columns(p, name if single else f"{name}[{i}]") for i, p in enumerate(paths)]
    xs, ys = [c[0] for c in columns], [c[1] for c in columns]
    ds = [c[2] if c[2] is not None else np.zeros(len(c[0])) for c in columns]
    return FlatPaths(np.concatenate(xs), np.concatenate(ys), np.concatenate(ds),
                     np.array([len(x) for x in xs], dtype=np.int64),
                     np.array([c[2] is not None for c in columns], dtype=bool), list(paths))


def _flatten_scanpaths(paths: list[Scanpath]) -> FlatPaths:
    """The common case: Scanpath objects, validated when built, so no per-path checks.

    Reading the arrays of many small objects is bound by memory latency, so
    each object is visited as few times as possible.
    """
    xs, ys, ds = [p.x for p in paths], [p.y for p in paths], [p.duration for p in paths]
    length = np.fromiter(map(len, xs), dtype=np.int64, count=len(xs))
    return FlatPaths(_concatenate(xs, length), _concatenate(ys, length), _concatenate(ds, length), length,
                     np.ones(len(paths), dtype=bool), paths)


def collect(paths: Sequence, name: str, single: bool) -> PathBatch:
    """Pad a list of scanpaths (Scanpath objects or (n, 2|3) arrays) into a :class:`PathBatch`."""
    return flatten(paths, name, single).padded()


def is_single(obj) -> bool:
    return isinstance(obj, Scanpath) or (isinstance(obj, np.ndarray) and obj.ndim == 2)


def pair_up(a, b, single_test, what: str = "scanpaths") -> tuple[Sequence, Sequence, bool]:
    """``a`` and ``b`` as equally long lists of items, and whether the input was a single pair.

    ``single_test(x)`` says whether ``x`` is one item (not a list of them); ``what`` names the items in
    the error messages (ShapeError for one item against a list, or lists of unequal length).
    """
    single = single_test(a)
    if single != single_test(b):
        raise ShapeError(format_problem("a, b", f"two {what} or two sequences of {what}",
                                        f"{type(a).__name__} and {type(b).__name__}",
                                        f"wrap single {what} in lists to compare them pairwise"))
    if single:
        a, b = [a], [b]
    if not isinstance(a, Sequence) or not isinstance(b, Sequence):
        a, b = list(a), list(b)
    if len(a) != len(b):
        raise ShapeError(format_problem("a, b", "sequences of equal length (a[i] is compared with b[i])",
                                        f"lengths {len(a)} and {len(b)}", f"pair the {what} one to one"))
    return a, b, single


def _pair_sequences(a, b) -> tuple[Sequence, Sequence, bool]:
    """Both sides as equally long sequences of scanpaths, and whether the input was a single pair."""
    single = is_single(a)
    if single == is_single(b) and not single and (not isinstance(a, Sequence) or not isinstance(b, Sequence)):
        raise ShapeError(format_problem("a, b", "Scanpath objects or lists of them",
                                        f"{type(a).__name__} and {type(b).__name__}", "pass lists of Scanpath"))
    return pair_up(a, b, is_single)


def _check_durations(batch: FlatPaths, side: str, single: bool) -> None:
    if not batch.has_duration.all():
        first = int(np.argmin(batch.has_duration))
        raise ShapeError(format_problem(side if single else f"{side}[{first}]",
                                        "fixation durations (a Scanpath, or an array with 3 columns "
                                        "x, y, duration_ms)", "positions only (2 columns)",
                                        "add the durations in ms as a third column"))


def pair_batches(a, b, need_duration: bool = False) -> tuple[PathBatch, PathBatch, bool]:
    """Both sides of the pairs (a[i], b[i]) as padded batches, and whether the input was a single pair."""
    a, b, single = _pair_sequences(a, b)
    batch_a, batch_b = flatten(a, "a", single), flatten(b, "b", single)
    if need_duration:
        _check_durations(batch_a, "a", single)
        _check_durations(batch_b, "b", single)
    return batch_a.padded(), batch_b.padded(), single


def unique_pairs(a, b, need_duration: bool = False) -> tuple[FlatPaths, np.ndarray, np.ndarray, bool]:
    """The scanpaths of the pairs (a[i], b[i]), each distinct Scanpath object packed once.

    A scanpath often appears in many pairs (a model's scanpath against every
    viewer of the image); metrics that work per scanpath (reading, MultiMatch
    simplification) then do that work once.

    Returns
    -------
    paths : FlatPaths
        The distinct scanpaths (by object identity; arrays are never merged).
    first, second : int arrays of shape (n_pairs,)
        Index in ``paths`` of ``a[i]`` and of ``b[i]``.
    single : bool
        Whether the input was a single pair.
    """
    a, b, single = _pair_sequences(a, b)
    both = [*a, *b]
    if all(map(isinstance, both, repeat(Scanpath))):
        identity = np.fromiter(map(id, both), dtype=np.int64, count=len(both))
        _, first_seen, index = np.unique(identity, return_index=True, return_inverse=True)
        paths = _flatten_scanpaths([both[i] for i in first_seen.tolist()])
    else:
        sides = flatten(a, "a", single), flatten(b, "b", single)
        if need_duration:
            _check_durations(sides[0], "a", single)
            _check_durations(sides[1], "b", single)
        paths = FlatPaths(*(np.concatenate([getattr(side, name) for side in sides])
                            for name in ("x", "y", "duration", "length", "has_duration")),
                          sides[0].source + sides[1].source)
        index = np.arange(len(both))
    return paths, index[:len(a)], index[len(a):], single
