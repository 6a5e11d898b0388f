"""Batched time-resolved ridge vs a per-(electrode, bin) loop of sklearn fits, on the same data.

The data: n_events x n_features features and n_events x n_electrodes x n_times responses (a linear
function of the features plus noise).  The batched path (:class:`TimeResolvedRidge`): one decomposition
per fold for every target.  The loop: for each (electrode, bin), fold and alpha, ``sklearn.linear_model.Ridge``
fitted on the training folds and scored (Pearson r) on the validation half; the best alpha's model
predicts the test half.  Both give the pooled test r per target; they must agree.  The last line is
the speed ratio.  Run: ``python -P benchmarks/seeg_encoding.py [--events 240 --electrodes 25 --times 32]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def data(n_events, n_features, n_electrodes, n_times, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_events, n_features))
    W = rng.standard_normal((n_features, n_electrodes * n_times)) / np.sqrt(n_features)
    Y = X @ W + 2.0 * rng.standard_normal((n_events, n_electrodes * n_times))
    return X, Y.reshape(n_events, n_electrodes, n_times)


def sklearn_loop(X, Y, alphas, n_folds):
    from sklearn.linear_model import Ridge

    from cogmodels.encoders.ridge import make_folds

    Y = Y.reshape(len(X), -1)
    folds = make_folds(len(X), n_folds)
    test = np.concatenate([held[held.size // 2:] for _, held in folds])
    prediction = np.empty((test.size, Y.shape[1]))
    for t in range(Y.shape[1]):
        offset = 0
        for train, held in folds:
            val, tst = held[:held.size // 2], held[held.size // 2:]
            best, best_model = -np.inf, None
            for alpha in alphas:
                model = Ridge(alpha=alpha).fit(X[train], Y[train, t])
                r = np.corrcoef(model.predict(X[val]), Y[val, t])[0, 1]
                r = 0.0 if not np.isfinite(r) else r
                if r >= best - 1e-10 * (1 + abs(best)):  # ties to the larger alpha, as the batched path
                    best, best_model = max(r, best), model
            prediction[offset:offset + tst.size, t] = best_model.predict(X[tst])
            offset += tst.size
    y, p = Y[test] - Y[test].mean(0), prediction - prediction.mean(0)
    return (y * p).sum(0) / np.sqrt((y * y).sum(0) * (p * p).sum(0))


#: Problem size (events, features, electrodes, time bins) and CV folds: the command-line options' defaults.
SIZES = {"events": 240, "features": 64, "electrodes": 25, "times": 32, "folds": 5}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in SIZES.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    from cogmodels.encoders.time_resolved import TimeResolvedRidge

    alphas = np.logspace(-1, 6, 15)
    X, Y = data(args.events, args.features, args.electrodes, args.times)
    start = time.perf_counter()
    batched = TimeResolvedRidge(alphas, args.folds).fit(X, Y).scores_.ravel()
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    loop = sklearn_loop(X, Y, alphas, args.folds)
    t_loop = time.perf_counter() - start
    print(f"{args.events} events x {args.features} features -> {args.electrodes} electrodes x {args.times} bins "
          f"({args.electrodes * args.times} targets), {args.folds} folds, {alphas.size} alphas")
    print(f"batched TimeResolvedRidge: {t_batched:.3f} s; sklearn Ridge loop: {t_loop:.1f} s")
    print(f"max |r_batched - r_sklearn| = {np.abs(batched - loop).max():.2e} (mean r {batched.mean():.3f})")
    print(f"speed ratio (sklearn loop / batched): {t_loop / t_batched:.0f}x")


if __name__ == "__main__":
    main()
