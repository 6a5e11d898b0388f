"""Visual-search asymmetry metrics (Gupta et al., NeurIPS 2021): fixations, RTs, slopes, asymmetry indices.

Conditions are named ``"<experiment>/<condition>"`` (e.g. ``"t_vs_l/l_target"``),
as in the human reference (:mod:`cogmodels.datasets.search_asymmetry_reference`);
an experiment has exactly two conditions that swap target and distractors.

- :func:`fixations_to_target` -- per trial, the fixations after the initial one
  until the target was found (the budget when it was not: a censored count);
- :func:`rt_from_fixations` -- the affine map Gupta et al. use to put fixation
  counts on the RT scale (slope 252.359 ms per fixation, intercept 376.271 ms);
- :func:`slopes` -- per condition, the least-squares slope of the mean value per
  set size against set size (values per trial or means per set size);
- :func:`asymmetry_index` -- per experiment, ``(s_hard - s_easy) / (s_hard +
  s_easy)`` with negative slopes clipped to 0 and "hard" the condition with the
  larger *human* slope; 0 when both clipped slopes are 0 (no asymmetry either
  way);
- :func:`asymmetry_table` -- the indices of every experiment, their mean, and
  the polarity count: experiments whose index is > 0, i.e. whose harder
  condition for the model is the humans' harder one.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from cogmodels.errors import DataFormatError, ShapeError, format_problem

#: Gupta et al.'s fixation -> RT map (also in the shipped reference, ``model_fixation_to_rt``).
RT_SLOPE_MS = 252.359
RT_INTERCEPT_MS = 376.271


def fixations_to_target(results) -> np.ndarray:
    """Fixations to target per trial.

    Parameters
    ----------
    results : sequence of SearchResult

    Returns
    -------
    int array of shape (n_trials,)
        ``n_fixations`` of each result (the budget for trials where the target was not found).
    """
    return np.array([int(r.n_fixations) for r in results], dtype=np.int64)


def rt_from_fixations(n_fixations, slope_ms: float = RT_SLOPE_MS, intercept_ms: float = RT_INTERCEPT_MS) -> np.ndarray:
    """Reaction times (ms) from fixation counts: ``intercept + slope * n``; same shape as ``n_fixations``."""
    return intercept_ms + slope_ms * np.asarray(n_fixations, dtype=np.float64)


def experiment_of(condition: str) -> str:
    """``"t_vs_l/l_target" -> "t_vs_l"``."""
    if "/" not in str(condition):
        raise DataFormatError(format_problem("condition", "'<experiment>/<condition>'", repr(condition),
                                             "name conditions as in the human reference, e.g. 't_vs_l/l_target'"))
    return str(condition).split("/", 1)[0]


def slopes(values, set_sizes, conditions) -> dict[str, float]:
    """Least-squares slope of the mean value per set size against set size, per condition.

    Parameters
    ----------
    values : array of shape (n,)
        One value per trial (fixations, RT) or per (condition, set size) mean.
    set_sizes, conditions : arrays of shape (n,)

    Returns
    -------
    dict condition -> slope (value units per item)

    Raises
    ------
    ShapeError
        Arrays of different lengths.
    DataFormatError
        A condition with fewer than two distinct set sizes, or non-finite values.
    """
    values = np.asarray(values, dtype=np.float64)
    set_sizes = np.asarray(set_sizes, dtype=np.float64)
    conditions = np.asarray(conditions).astype(str)
    if not (values.shape == set_sizes.shape == conditions.shape) or values.ndim != 1:
        raise ShapeError(format_problem("slopes(values, set_sizes, conditions)", "three 1-D arrays of one length",
                                        f"shapes {values.shape}, {set_sizes.shape}, {conditions.shape}",
                                        "pass one value, set size and condition per trial"))
    if not np.isfinite(values).all():
        raise DataFormatError(format_problem("slopes(values)", "finite values", "NaN or inf",
                                             "drop or fix the undefined trials first, and say so"))
    out = {}
    for condition in sorted(set(conditions)):
        rows = conditions == condition
        sizes = np.unique(set_sizes[rows])
        if len(sizes) < 2:
            raise DataFormatError(format_problem(f"slopes: condition {condition!r}", "at least two set sizes",
                                                 f"set sizes {sizes.tolist()}", "include trials of several set sizes"))
        means = np.array([values[rows & (set_sizes == size)].mean() for size in sizes])
        out[condition] = float(np.polyfit(sizes, means, 1)[0])
    return out


def human_slopes(reference: dict | None = None) -> dict[str, float]:
    """RT-vs-set-size slope (ms per item) of each condition of the human reference."""
    if reference is None:
        from cogmodels.datasets.search_asymmetry_reference import REFERENCE as reference
    out = {}
    for condition, rts in reference["rt_ms"].items():
        sizes = reference["set_sizes"][experiment_of(condition)]
        out[condition] = float(np.polyfit(np.asarray(sizes, float), np.asarray(rts, float), 1)[0])
    return out


def asymmetry_index(slope_hard: float, slope_easy: float) -> float:
    """``(s_hard - s_easy) / (s_hard + s_easy)`` with negative slopes clipped to 0; 0 when both are 0.

    "hard" is the condition with the larger human slope, so humans have index
    > 0 by construction and a model's index is > 0 when its asymmetry has the
    humans' polarity.
    """
    hard, easy = max(float(slope_hard), 0.0), max(float(slope_easy), 0.0)
    if not (np.isfinite(hard) and np.isfinite(easy)):
        raise DataFormatError(format_problem("asymmetry_index", "finite slopes", f"{slope_hard}, {slope_easy}",
                                             "compute the slopes from finite values"))
    return 0.0 if hard + easy == 0 else (hard - easy) / (hard + easy)


def asymmetry_table(model_slopes: dict, reference_slopes: dict | None = None) -> dict:
    """Asymmetry index per experiment, their mean and the polarity count.

    Parameters
    ----------
    model_slopes : dict condition -> slope
        Both conditions of each experiment to score (any units: the index is scale-free).
    reference_slopes : dict condition -> slope, optional
        Decides which condition is hard; default :func:`human_slopes`.

    Returns
    -------
    dict with ``index`` (experiment -> index), ``hard`` (experiment -> hard condition),
    ``mean`` (mean index), ``polarity_matches`` (experiments with index > 0) and ``n_experiments``.

    Raises
    ------
    DataFormatError
        An experiment without exactly two conditions in both tables.
    """
    reference_slopes = human_slopes() if reference_slopes is None else reference_slopes
    by_experiment = defaultdict(list)
    for condition in model_slopes:
        by_experiment[experiment_of(condition)].append(condition)
    index, hard_of = {}, {}
    for experiment, conditions in sorted(by_experiment.items()):
        if len(conditions) != 2 or any(c not in reference_slopes for c in conditions):
            raise DataFormatError(format_problem(f"asymmetry_table: experiment {experiment!r}",
                                                 "two conditions, both in the reference", f"{sorted(conditions)}",
                                                 "score both conditions of each experiment"))
        hard, easy = sorted(conditions, key=lambda c: reference_slopes[c], reverse=True)
        hard_of[experiment] = hard
        index[experiment] = asymmetry_index(model_slopes[hard], model_slopes[easy])
    values = np.array(list(index.values()))
    return {"index": index, "hard": hard_of, "mean": float(values.mean()) if len(values) else float("nan"),
            "polarity_matches": int((values > 0).sum()), "n_experiments": len(values)}
