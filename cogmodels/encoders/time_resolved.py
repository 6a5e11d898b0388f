"""Time-resolved ridge encoding of SEEG responses, with bootstrap CIs, paired tests and integration sites.

After Subramaniam et al. (ICML 2024), "Revealing Vision-Language Integration in
the Brain with Multimodal Networks" (built from the paper's description):

* **One ridge per (electrode, time bin)**: the responses (n_events, n_electrodes,
  n_times) are flattened to n_electrodes * n_times targets.
* **K-fold CV without shuffling** (events stay in time order).  Each held-out
  fold is split in two contiguous halves: the first (validation) chooses the
  alpha of each target (Pearson r), the second (test) is predicted by the model
  of that alpha trained on the other folds.  The score is the Pearson r between
  the test predictions pooled over folds and the responses.
* **One decomposition per fold for every target**: the training features are
  decomposed once (:func:`cogmodels.encoders._ridge_solver._decompose`, the
  solver of :class:`~cogmodels.encoders.ridge.RidgeCV`); the validation scores of
  every alpha and target come from the fused partial-fraction scoring, and the
  test predictions of each target's alpha from the same spectrum.
* **Bootstrap over test events** with one stored set of resample indices shared
  by every model (:mod:`cogmodels.metrics.stats`): 95% CIs per (electrode, bin);
  a bin is *responsive* where the lower bound is above 0.
* **Paired comparisons** per electrode: "A beats B" when the mean over the
  post-onset bins of r_A - r_B is positive in the bootstrap (one-sided p), with
  Benjamini-Hochberg FDR over electrodes at q = 0.05.
* **Integration site**: the multimodal model beats every unimodal model and the
  concatenation of unimodal features.

Why not a registered encoder: the encoder contract is one model fitted once and
asked to ``predict`` new stimuli; this estimator's product is cross-validated
out-of-fold test predictions and per-target alphas of K models (one per fold), so
it has ``fit`` but no single ``predict``.  Use :class:`RidgeCV` for a fitted model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from cogmodels.encoders._ridge_solver import _centre_pair, _decompose, _fold_scores_fused, _mean
from cogmodels.encoders.ridge import _check_alphas, _select_alphas, make_folds
from cogmodels.errors import ConfigError, NotFittedError, ShapeError, format_problem
from cogmodels.metrics.stats import (
    benjamini_hochberg, bootstrap_indices, bootstrap_pearson, paired_bootstrap_p, percentile_ci)

log = logging.getLogger(__name__)


class TimeResolvedRidge:
    """Ridge per (electrode, time bin); K-fold CV in time order, alpha on a validation half, test r on the other.

    Parameters
    ----------
    alphas : array-like, default ``np.logspace(-1, 6, 15)``
    n_folds : int, default 5
        Contiguous folds (no shuffling).
    fit_intercept : bool, default True

    Attributes
    ----------
    test_index_ : int array of shape (n_test,)
        Events predicted as test (the second half of each held-out fold), in time order.
    predictions_ : float64 array of shape (n_test, n_electrodes, n_times)
    scores_ : float64 array of shape (n_electrodes, n_times)
        Pearson r of the pooled test predictions.
    best_alphas_ : array of shape (n_folds, n_electrodes, n_times)
    """

    def __init__(self, alphas=None, n_folds: int = 5, fit_intercept: bool = True):
        self.alphas = alphas
        self.n_folds = n_folds
        self.fit_intercept = fit_intercept

    def validate_params(self) -> "TimeResolvedRidge":
        _check_alphas(self.alphas)
        if isinstance(self.n_folds, bool) or not isinstance(self.n_folds, (int, np.integer)) or self.n_folds < 2:
            raise ConfigError(format_problem("encoder.n_folds", "an int >= 2", repr(self.n_folds), "e.g. 5"))
        return self

    def fit(self, X, Y) -> "TimeResolvedRidge":
        """Fit and score.

        Parameters
        ----------
        X : array of shape (n_events, n_features)
        Y : array of shape (n_events, n_electrodes, n_times)
        """
        self.validate_params()
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if X.ndim != 2 or Y.ndim != 3 or X.shape[0] != Y.shape[0]:
            raise ShapeError(format_problem("X/Y", "X (n_events, n_features) and Y (n_events, n_electrodes, "
                                            "n_times) on the same events", f"{X.shape} and {Y.shape}",
                                            "pass the features of each event and its binned responses"))
        if not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise ShapeError(format_problem("X/Y", "finite values", "NaN or inf", "clean the features/responses"))
        alphas = _check_alphas(self.alphas if self.alphas is not None else np.logspace(-1, 6, 15))
        n, (n_electrodes, n_times) = X.shape[0], Y.shape[1:]
        folds = make_folds(n, int(self.n_folds))
        X_t, Y_t = torch.as_tensor(X), torch.as_tensor(Y.reshape(n, -1))
        alphas_t = torch.as_tensor(alphas, dtype=torch.float64)
        tests, predictions, best = [], [], []
        for train, held in folds:
            if held.size < 4:
                raise ConfigError(format_problem("encoder.n_folds", f"held-out folds of >= 4 events ({n} events)",
                                                 f"{held.size}", "use fewer folds"))
            val, test = held[:held.size // 2], held[held.size // 2:]
            train_t, val_t, test_t = (torch.as_tensor(i) for i in (train, val, test))
            x_mean = _mean(X_t, train_t) if self.fit_intercept else None
            spectrum = _decompose(X_t, train_t, x_mean, val_idx=val_t, with_gram=True, with_weights=True)
            y_mean = Y_t[train_t].mean(0) if self.fit_intercept else torch.zeros(Y_t.shape[1], dtype=torch.float64)
            Y_train, Y_val = _centre_pair(Y_t.clone(), train_t, val_t, self.fit_intercept)
            scores, _ = _fold_scores_fused(spectrum, Y_train, Y_val, alphas_t, "pearson_r", len(alphas))
            chosen = alphas[_select_alphas(scores.numpy(), alphas)]
            filters = 1.0 / (spectrum.eigenvalues[:, None] + torch.as_tensor(chosen)[None, :])  # (k, n_targets)
            X_test = X_t[test_t] - (x_mean if x_mean is not None else 0)
            prediction = (X_test @ spectrum.weights) @ (filters * (spectrum.left.T @ Y_train)) + y_mean
            tests.append(test)
            predictions.append(prediction.numpy())
            best.append(chosen)
        self.test_index_ = np.concatenate(tests)
        self.predictions_ = np.concatenate(predictions).reshape(-1, n_electrodes, n_times)
        self.best_alphas_ = np.stack(best).reshape(len(folds), n_electrodes, n_times)
        truth = Y[self.test_index_]
        self.scores_ = _pearson(truth.reshape(truth.shape[0], -1),
                                self.predictions_.reshape(truth.shape[0], -1)).reshape(n_electrodes, n_times)
        return self

    def _check_fitted(self):
        if not hasattr(self, "predictions_"):
            raise NotFittedError("TimeResolvedRidge is not fitted yet. Fix: call fit(X, Y) first.")


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def reference_fit(X, Y, alphas, n_folds: int = 5) -> np.ndarray:
    """Readable reference: one closed-form ridge per (target, fold, alpha); returns pooled test r (n_targets,)."""
    X, Y = np.asarray(X, float), np.asarray(Y, float).reshape(len(X), -1)
    folds = make_folds(len(X), n_folds)
    predictions = []
    for train, held in folds:
        val, test = held[:held.size // 2], held[held.size // 2:]
        xm, ym = X[train].mean(0), Y[train].mean(0)
        Xc = X[train] - xm
        fold_pred = np.empty((test.size, Y.shape[1]))
        for t in range(Y.shape[1]):
            best_r, best_w = -np.inf, None
            for alpha in alphas:
                w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (Y[train, t] - ym[t]))
                r = _pearson((X[val] - xm) @ w[:, None], Y[val, t][:, None])[0]
                r = 0.0 if not np.isfinite(r) else r
                if r >= best_r - 1e-10 * (1 + abs(best_r)):  # ties go to the larger alpha, as RidgeCV
                    best_r, best_w = max(r, best_r), w
            fold_pred[:, t] = (X[test] - xm) @ best_w + ym[t]
        predictions.append(fold_pred)
    test = np.concatenate([held[held.size // 2:] for _, held in folds])
    return _pearson(Y[test], np.concatenate(predictions))


# -- the analysis over models ---------------------------------------------------------------
@dataclass
class SEEGScores:
    """Scores of several feature sets on one subject's responses, on shared test events and resamples.

    Attributes
    ----------
    r : dict model -> (n_electrodes, n_times) test r
    low, high : dict model -> (n_electrodes, n_times) 95% CI bounds
    boot : dict model -> (n_boot, n_electrodes, n_times) per-resample r
    indices : (n_boot, n_test) resample indices (shared by every model)
    times : (n_times,)
    """

    r: dict
    low: dict
    high: dict
    boot: dict
    indices: np.ndarray
    times: np.ndarray
    meta: dict = field(default_factory=dict)

    def responsive(self, model: str) -> np.ndarray:
        """Bool (n_electrodes, n_times): lower CI bound above 0."""
        return self.low[model] > 0


def score_models(features: dict, Y: np.ndarray, times, *, alphas=None, n_folds: int = 5, n_boot: int = 1000,
                 ci: float = 0.95, seed=0) -> SEEGScores:
    """Fit :class:`TimeResolvedRidge` for every feature set and bootstrap all of them on one set of indices.

    Parameters
    ----------
    features : dict model name -> array of shape (n_events, n_features)
    Y : array of shape (n_events, n_electrodes, n_times)
    times : array of shape (n_times,)
    """
    fits = {name: TimeResolvedRidge(alphas, n_folds).fit(X, Y) for name, X in features.items()}
    first = next(iter(fits.values()))
    indices = bootstrap_indices(first.test_index_.size, n_boot, seed)
    truth = Y[first.test_index_].reshape(first.test_index_.size, -1)
    r, low, high, boot = {}, {}, {}, {}
    for name, fit in fits.items():
        stats = bootstrap_pearson(truth, fit.predictions_.reshape(truth.shape[0], -1), indices)
        lo, hi = percentile_ci(stats, ci)
        r[name] = fit.scores_
        low[name], high[name] = lo.reshape(Y.shape[1:]), hi.reshape(Y.shape[1:])
        boot[name] = stats.reshape(n_boot, *Y.shape[1:])
    return SEEGScores(r=r, low=low, high=high, boot=boot, indices=indices, times=np.asarray(times),
                      meta={"n_test": int(first.test_index_.size), "n_folds": int(n_folds)})


def compare(scores: SEEGScores, a: str, b: str, window=(0.0, None), q: float = 0.05, responsive_only: bool = False):
    """Per electrode, does A beat B over the time bins in ``window`` (s)?  BH-FDR over electrodes.

    ``responsive_only``: average each electrode over only the bins of the window where A or B is
    responsive (lower CI bound above 0): the bins where there is a response to explain.  The
    selection treats A and B alike, so it favours neither; an electrode where neither is
    responsive in any bin gets p = 1 and diff = 0 (no evidence either way).  Default False: every
    bin of the window (bins without a response add only noise to the difference).

    Returns
    -------
    rejected : bool (n_electrodes,), A beats B at FDR q
    p : (n_electrodes,) one-sided bootstrap p
    diff : (n_electrodes,) observed mean r_A - r_B over the window (its responsive bins)
    """
    boot_a, boot_b, diff = _paired_means(scores, a, b, window, responsive_only)
    p = paired_bootstrap_p(boot_a, boot_b)  # no compared bin: A - B = 0 in every resample, p = 1
    rejected, _ = benjamini_hochberg(p, q)
    return rejected, p, diff


def compare_population(scores: SEEGScores, a: str, b: str, electrodes, window=(0.0, None),
                       responsive_only: bool = False) -> tuple[float, float]:
    """Does A beat B on average over a group of electrodes?  One paired bootstrap over events.

    Parameters
    ----------
    electrodes : bool or int array selecting the group (e.g. the vision-driven sites)
    window, responsive_only : as :func:`compare` (per electrode, then averaged over the group)

    Returns
    -------
    p : float, one-sided bootstrap p of "the group mean of r_A - r_B is above 0"
    diff : float, the observed group mean of r_A - r_B
    """
    boot_a, boot_b, diff = _paired_means(scores, a, b, window, responsive_only)
    group = np.zeros(diff.size, dtype=bool)
    group[np.asarray(electrodes)] = True
    if not group.any():
        raise ConfigError(format_problem("electrodes", "at least one electrode", "an empty group",
                                         "select the electrodes to compare over"))
    p = paired_bootstrap_p(boot_a[:, group].mean(1), boot_b[:, group].mean(1))
    return float(p), float(diff[group].mean())


def _paired_means(scores: SEEGScores, a: str, b: str, window, responsive_only: bool):
    """Per-resample (n_boot, n_electrodes) and observed (n_electrodes,) means over the compared bins.

    A NaN r in a compared bin stays NaN (and counts against A in the test); bins not compared are left out.
    """
    bins = _window(scores.times, window)
    mask = np.broadcast_to(bins, scores.r[a].shape)
    if responsive_only:
        mask = mask & (scores.responsive(a) | scores.responsive(b))
    weights = mask / np.maximum(mask.sum(-1, keepdims=True), 1)

    def mean(x):
        return (np.where(mask, x, 0.0) * weights).sum(-1)

    return mean(scores.boot[a]), mean(scores.boot[b]), mean(scores.r[a] - scores.r[b])


def _window(times, window) -> np.ndarray:
    lo = -np.inf if window[0] is None else window[0]
    hi = np.inf if window[1] is None else window[1]
    bins = (times >= lo) & (times <= hi)
    if not bins.any():
        raise ConfigError(format_problem("seeg.window", f"a window containing time bins ({times.min():g} to "
                                         f"{times.max():g} s)", f"{window}", "widen the window"))
    return bins


def label_sites(scores: SEEGScores, vision: str, language: str, multimodal: str, concat: str,
                window=(0.0, None), q: float = 0.05) -> dict:
    """Label each electrode: "integration", "vision", "language", "responsive" (unresolved) or "none".

    * integration: ``multimodal`` beats ``vision``, ``language`` and ``concat`` (each at BH-FDR q);
    * otherwise vision (language): ``vision`` beats ``language`` (or the reverse) and has a responsive bin;
    * responsive: some model has a responsive bin in the window; none: no model does.

    Returns a dict with ``label`` (n_electrodes,) str and the per-comparison ``beats`` and ``p``.
    """
    bins = _window(scores.times, window)
    beats, p = {}, {}
    for a, b in ((multimodal, vision), (multimodal, language), (multimodal, concat), (vision, language),
                 (language, vision)):
        beats[f"{a}>{b}"], p[f"{a}>{b}"], _ = compare(scores, a, b, window, q)
    responsive = {m: scores.responsive(m)[:, bins].any(-1) for m in scores.r}
    any_responsive = np.any(np.stack(list(responsive.values())), axis=0)
    integration = beats[f"{multimodal}>{vision}"] & beats[f"{multimodal}>{language}"] & beats[f"{multimodal}>{concat}"]
    label = np.where(any_responsive, "responsive", "none").astype(object)
    label[beats[f"{vision}>{language}"] & responsive[vision]] = "vision"
    label[beats[f"{language}>{vision}"] & responsive[language]] = "language"
    label[integration] = "integration"
    return {"label": label.astype(str), "beats": beats, "p": p, "responsive": responsive}


def best_model(scores: SEEGScores, window=(0.0, None)) -> np.ndarray:
    """Name of the model with the highest mean r over the window, per electrode (n_electrodes,)."""
    bins = _window(scores.times, window)
    names = list(scores.r)
    means = np.stack([scores.r[m][:, bins].mean(-1) for m in names])
    return np.asarray(names)[np.nanargmax(np.nan_to_num(means, nan=-np.inf), axis=0)]


# -- the public entry point for a user's own data ----------------------------------------------
@dataclass
class IntegrationAnalysis:
    """Result of :func:`integration_analysis` for one subject.

    Attributes
    ----------
    scores : SEEGScores
        ``scores.r[model]``, ``scores.low[model]``, ``scores.high[model]``: (n_electrodes, n_times) test r
        and its 95% CI per feature set; ``scores.boot``/``scores.indices``: the shared bootstrap.
    label : str array (n_electrodes,)
        "integration", "vision", "language", "responsive" or "none" (:func:`label_sites`).
    integration : bool array (n_electrodes,)
        The integration sites (``label == "integration"``).
    best_model : str array (n_electrodes,)
        The feature set with the highest mean r over the window.
    channels : str array (n_electrodes,)
        Electrode (channel) ids, in the order of the rows above.
    times : array (n_times,)
        Bin centres (s from onset).
    beats, p : dict "A>B" -> (n_electrodes,)
        The paired comparisons behind the labels (BH-FDR decisions and one-sided p).
    """

    scores: SEEGScores
    label: np.ndarray
    integration: np.ndarray
    best_model: np.ndarray
    channels: np.ndarray
    times: np.ndarray
    beats: dict
    p: dict


def integration_analysis(data, features: dict, *, vision: str = "vision", language: str = "language",
                         multimodal: str = "multimodal", concat: str = "concat", window=(0.0, 1.6), q: float = 0.05,
                         n_folds: int = 5, n_boot: int = 1000, alphas=None, seed=0) -> IntegrationAnalysis:
    """Score feature sets at every electrode and time bin and find the multimodal integration sites.

    The analysis of Subramaniam et al. (ICML 2024) on your own recording: one ridge per (electrode,
    time bin) with K folds in time order (:class:`TimeResolvedRidge`), 95% CIs from one set of
    bootstrap resamples shared by every feature set, paired tests with Benjamini-Hochberg FDR over
    electrodes, and the labels of :func:`label_sites`.  For example, with a BIDS iEEG dataset::

        ds = cogmodels.load_dataset("bids_ieeg", root="/data/my_bids", subject="01")
        result = integration_analysis(ds, {"vision": X_img, "language": X_txt, "multimodal": X_mm})
        result.scores.r["multimodal"], result.label, result.integration

    Parameters
    ----------
    data : Dataset (with ``.responses``) or BrainResponses
        Responses of shape (n_events, n_electrodes, n_times) with ``times`` and a channel table.
    features : dict name -> array of shape (n_events, n_features)
        Features of each event, in the responses' event order; must hold ``vision``, ``language`` and
        ``multimodal`` (names set by the keywords below).  Other entries are scored too.  Without
        ``concat``, the concatenation baseline is built from the standardised vision and language
        features, each block scaled by 1/sqrt(its width).
    vision, language, multimodal, concat : str
        Names of the unimodal, multimodal and concatenation feature sets in ``features``.
    window : (start, stop) in s after onset
        The bins compared (and searched for the best model).
    q : float
        FDR of the Benjamini-Hochberg procedure.
    n_folds, n_boot, alphas, seed
        Of :func:`score_models`.

    Returns
    -------
    IntegrationAnalysis
    """
    inner = getattr(data, "responses", None)
    responses = data if inner is None or isinstance(inner, np.ndarray) else inner  # a Dataset holds a BrainResponses
    Y, times = getattr(responses, "responses", None), getattr(responses, "times", None)
    if Y is None or times is None or np.ndim(Y) != 3:
        raise ShapeError(format_problem("data", "a Dataset or BrainResponses with responses (n_events, "
                                        "n_electrodes, n_times) and times", type(data).__name__,
                                        "load it with cogmodels.load_dataset('bids_ieeg', ...)"))
    missing = [name for name in (vision, language, multimodal) if name not in features]
    if missing:
        raise ConfigError(format_problem("features", f"feature sets named {vision!r}, {language!r} and "
                                         f"{multimodal!r}", f"no {missing} in {sorted(features)}",
                                         "pass them, or name yours with vision=/language=/multimodal="))
    features = {name: np.asarray(x, dtype=np.float64) for name, x in features.items()}
    for name, x in features.items():
        if x.ndim != 2 or x.shape[0] != Y.shape[0]:
            raise ShapeError(format_problem(f"features[{name!r}]", f"(n_events={Y.shape[0]}, n_features)",
                                            f"{x.shape}", "one row per event, in the responses' order"))
    if concat not in features:
        blocks = [(x - x.mean(0)) / (x.std(0) + 1e-8) for x in (features[vision], features[language])]
        features[concat] = np.concatenate([x / np.sqrt(x.shape[1]) for x in blocks], axis=1)
    scores = score_models(features, Y, times, alphas=alphas, n_folds=n_folds, n_boot=n_boot, seed=seed)
    sites = label_sites(scores, vision, language, multimodal, concat, window, q)
    channels = getattr(responses, "channels", None)
    ids = np.asarray(channels["id"], dtype=str) if channels is not None else np.arange(Y.shape[1]).astype(str)
    return IntegrationAnalysis(scores=scores, label=sites["label"], integration=sites["label"] == "integration",
                               best_model=best_model(scores, window), channels=ids, times=np.asarray(times),
                               beats=sites["beats"], p=sites["p"])
