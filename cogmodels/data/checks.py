"""Validators, one per input kind.

Each ``check_*`` function returns its (possibly converted) input and raises a
typed error whose message names the field, what was expected, what was found
and how to fix it.  They are idempotent: calling one on its own output is a
no-op, so containers can validate at their boundary without worrying whether
the caller already did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from cogmodels.errors import DataFormatError, ShapeError, format_problem

#: The largest float32; data a model casts to float32 must stay within it (see ``check_array(max_abs=...)``).
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_array(
    value,
    where: str,
    *,
    ndim: int | Sequence[int] | None = None,
    dtype=None,
    finite: bool = False,
    non_empty: bool = False,
    max_abs: float | None = None,
) -> np.ndarray:
    """Convert ``value`` to an ndarray and check its rank, dtype, size and values.

    Parameters
    ----------
    value : array-like
    where : str
        Name of the field or file, used in messages.
    ndim : int or sequence of int, optional
        Allowed ranks.
    dtype : numpy dtype or "float", "integer" or "number", optional
        Required dtype; ``"float"`` accepts any floating dtype and converts
        nothing, ``"number"`` any real integer or floating dtype (not bool, not
        complex: an imaginary part is never dropped silently), an explicit
        dtype is required exactly (no silent casting).
    finite : bool
        Reject NaN and inf.
    non_empty : bool
        Reject an array with an axis of length 0 (e.g. X with 0 features).
    max_abs : float, optional
        Reject values with ``|x| > max_abs``, e.g. :data:`FLOAT32_MAX` for data a
        model computes with in float32 (1e200 would become inf there).
    """
    array = np.asarray(value)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            ranks = " or ".join(str(n) for n in allowed)
            raise ShapeError(format_problem(
                where, f"an array of rank {ranks}", f"rank {array.ndim} with shape {array.shape}",
                "reshape the array to the documented shape"))
    if non_empty and 0 in array.shape:
        raise ShapeError(format_problem(
            where, "a non-empty array (every axis of length >= 1)", f"shape {array.shape}",
            "pass at least one row and one column (e.g. features: check the layer selection)"))
    if dtype is not None and np.issubdtype(array.dtype, np.complexfloating):
        raise DataFormatError(format_problem(
            where, f"real values (dtype {dtype})", f"complex dtype {array.dtype}",
            "pass np.real(x), np.abs(x) or np.angle(x) explicitly: the imaginary part is never dropped silently"))
    if dtype is not None:
        ok = {
            "float": np.issubdtype(array.dtype, np.floating),
            "integer": np.issubdtype(array.dtype, np.integer),
            "number": np.issubdtype(array.dtype, np.number) and not np.issubdtype(array.dtype, np.bool_),
        }.get(dtype) if isinstance(dtype, str) else array.dtype == np.dtype(dtype)
        if not ok:
            raise DataFormatError(format_problem(
                where, f"dtype {dtype}", f"dtype {array.dtype}", f"convert with .astype(...) before passing it"))
    if finite and np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataFormatError(format_problem(
                where, "finite values", f"{int(bad.sum())} NaN/inf values (first at index {first})",
                "remove or impute them; channel loaders accept drop_nan_channels=True to drop them explicitly"))
    if max_abs is not None and array.size and np.issubdtype(array.dtype, np.number) and \
            _largest_magnitude(array, finite) > max_abs:
        with np.errstate(invalid="ignore"):
            big = np.abs(array) > max_abs
            first = tuple(int(i) for i in np.argwhere(big)[0])
            raise DataFormatError(format_problem(
                where, f"values with |x| <= {max_abs:.3g} (computations run in float32)",
                f"{int(big.sum())} larger values, up to {float(np.nanmax(np.abs(array))):.3g} "
                f"(first at index {first})",
                "rescale the values (e.g. standardise features, or express responses in other units)"))
    return array


def _largest_magnitude(array: np.ndarray, known_finite: bool) -> float:
    """max |x| without a full-size copy (NaN ignored); plain max/min when NaN is already ruled out."""
    top, bottom = (array.max(), array.min()) if known_finite else (np.nanmax(array), np.nanmin(array))
    return max(abs(float(top)), abs(float(bottom)))


def check_image(image, where: str = "image") -> np.ndarray:
    """Check one image: uint8 array of shape (H, W, 3)."""
    array = check_array(image, where, ndim=3)
    if array.shape[-1] != 3:
        raise ShapeError(format_problem(where, "shape (H, W, 3)", f"shape {array.shape}",
                                        "convert grey or RGBA images to RGB"))
    if array.dtype != np.uint8:
        raise DataFormatError(format_problem(where, "dtype uint8 (0-255)", f"dtype {array.dtype}",
                                             "use (255 * img).round().astype(np.uint8) for float images in [0, 1]"))
    return array


def check_unique_ids(ids: Iterable, where: str = "ids") -> list[str]:
    """Check that ids are unique; returns them as a list of str."""
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        seen, dupes = set(), []
        for i in ids:
            if i in seen and i not in dupes:
                dupes.append(i)
            seen.add(i)
        raise DataFormatError(format_problem(
            where, "unique ids", f"{len(dupes)} duplicated id(s), e.g. {dupes[:5]}",
            "make ids unique (average repeated presentations into `repeats` for brain data)"))
    return ids


def check_matching_ids(expected: Sequence[str], found: Sequence[str], where: str) -> None:
    """Check that two id lists are the same, in the same order."""
    expected, found = [str(i) for i in expected], [str(i) for i in found]
    if expected == found:
        return
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        detail = f"{len(missing)} missing (e.g. {missing[:3]}) and {len(extra)} unknown (e.g. {extra[:3]})"
    else:
        detail = "the same ids in a different order"
    raise DataFormatError(format_problem(
        where, f"the {len(expected)} stimulus ids of the stimuli, in order", detail,
        "subset or reorder one side so that row i of the responses is stimulus i"))


def check_responses(responses, where: str = "responses", *, n_stimuli: int | None = None) -> np.ndarray:
    """Check brain responses: float32, (n_stimuli, n_channels) or (n_events, n_channels, n_times), finite."""
    array = check_array(responses, where, ndim=(2, 3), dtype="float", finite=True)
    if array.dtype != np.float32:
        raise DataFormatError(format_problem(where, "dtype float32", f"dtype {array.dtype}",
                                             "cast with .astype(np.float32)"))
    if n_stimuli is not None and array.shape[0] != n_stimuli:
        raise ShapeError(format_problem(where, f"{n_stimuli} rows (one per stimulus)",
                                        f"{array.shape[0]} rows", "pass one response row per stimulus"))
    return array


def check_splits(splits: Mapping[str, Sequence], ids: Sequence[str], where: str = "splits") -> dict[str, np.ndarray]:
    """Check named splits of stimulus ids: non-empty, known ids, train/test disjoint."""
    known = set(map(str, ids))
    out = {}
    for name, members in splits.items():
        members = np.asarray([str(m) for m in members], dtype=object)
        if members.size == 0:
            raise DataFormatError(format_problem(f"{where}[{name!r}]", "at least one stimulus id", "an empty split",
                                                 "give the split some stimuli or drop it"))
        unknown = [m for m in members if m not in known]
        if unknown:
            raise DataFormatError(format_problem(f"{where}[{name!r}]", "ids of the dataset's stimuli",
                                                 f"{len(unknown)} unknown ids, e.g. {unknown[:3]}",
                                                 "fix the split file or the stimulus ids"))
        check_unique_ids(members, f"{where}[{name!r}]")
        out[name] = members
    if "train" in out and "test" in out:
        overlap = set(out["train"]) & set(out["test"])
        if overlap:
            raise DataFormatError(format_problem(f"{where}", "disjoint train and test splits",
                                                 f"{len(overlap)} shared ids, e.g. {sorted(overlap)[:3]}",
                                                 "remove test stimuli from the training split"))
    return out


def check_subject_count(found: Sequence[str], expected: int | Sequence[str], where: str = "subjects") -> list[str]:
    """Check that the subjects found are the ones (or as many as) expected."""
    found = list(dict.fromkeys(map(str, found)))
    if isinstance(expected, int):
        if len(found) != expected:
            raise DataFormatError(format_problem(where, f"{expected} subjects", f"{len(found)}: {found[:10]}",
                                                 "make every part of the dataset cover the same subjects"))
    else:
        expected = list(map(str, expected))
        if sorted(found) != sorted(expected):
            raise DataFormatError(format_problem(where, f"subjects {expected}", f"subjects {found}",
                                                 "make every part of the dataset cover the same subjects"))
    return found
