"""RidgeCV (cogmodels) against himalaya's RidgeCV on the same data, alphas and folds.

Data: synthetic X (n_train + n_test, 768) with a power-law feature spectrum,
Y = X W + noise with unit noise and per-target weight scale tau_t (log-uniform),
so that the signal-to-noise ratio and the best alpha (~ 1 / tau_t**2) differ per target.

Both models get the same explicit K folds, the same alpha grid, the same CV
criterion (R² per validation fold, averaged; himalaya via ``score_func=r2_score``),
float32, torch on CPU, the same target batch size and the same torch thread count.

Method: the parent process makes the data and saves it; each model then runs in
its own fresh subprocess (same script, ``--worker``), which loads the data, warms
up on a tiny fit, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``),
times ``fit`` (CV + refit) and saves the coefficients.  Peak memory = peak RSS
during ``fit`` minus RSS before it (``VmHWM - VmRSS`` from ``/proc/self/status``),
which sees torch's allocations (tracemalloc does not).  The parent predicts the
test set from both sets of coefficients (float64), compares test r, chosen alphas
and CV scores, and prints the table.

Run:  .venv/bin/python benchmarks/ridge_vs_himalaya.py [--small] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ALPHAS = np.logspace(-2, 5, 15)


def make_data(n_train, n_test, n_features, n_targets, seed=0):
    """X (n, p) float32 with power-law feature variances; Y = X W + unit noise, W scaled per target."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    X = (rng.standard_normal((n, n_features), dtype=np.float32)
         * np.arange(1, n_features + 1, dtype=np.float32) ** -0.5)
    tau = np.logspace(-2.5, 0.5, n_targets).astype(np.float32)[rng.permutation(n_targets)]
    W = rng.standard_normal((n_features, n_targets), dtype=np.float32) * tau
    Y = X @ W + rng.standard_normal((n, n_targets), dtype=np.float32)
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]


def _memory_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _build(name, folds, n_targets_batch):
    if name == "himalaya":
        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV as HimalayaRidgeCV
        from himalaya.scoring import r2_score

        set_backend("torch")
        return HimalayaRidgeCV(alphas=ALPHAS, fit_intercept=True, cv=folds,
                               solver_params=dict(score_func=r2_score, n_targets_batch=n_targets_batch))
    from cogmodels.encoders import RidgeCV

    return RidgeCV(alphas=ALPHAS, cv=folds, fit_intercept=True, scoring="r2", dtype="float32",
                   n_targets_batch=n_targets_batch)


def _to_numpy(value):
    return value.cpu().numpy() if hasattr(value, "cpu") else np.asarray(value)


def worker(name, folder, threads, n_targets_batch):
    """Fit one model in this (fresh) process; save its coefficients, fit time and peak memory."""
    import warnings

    import torch

    torch.set_num_threads(threads)
    folder = Path(folder)
    X, Y = (np.load(folder / f"{key}.npy") for key in ("X", "Y"))
    with np.load(folder / "folds.npz") as saved:
        vals = [saved[f"val{i}"] for i in range(len(saved.files))]
    folds = [(np.setdiff1d(np.arange(len(X)), val), val) for val in vals]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _build(name, [(np.arange(20, 40), np.arange(20)), (np.arange(20), np.arange(20, 40))], 8).fit(
            X[:40, :16], Y[:40, :8])  # warm-up: library loading and first-call costs
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter to the current RSS
        rss_before = _memory_kib("VmRSS")
        start = time.perf_counter()
        model = _build(name, folds, n_targets_batch).fit(X, Y)
        seconds = time.perf_counter() - start
        peak_delta = _memory_kib("VmHWM") - rss_before
    np.savez(folder / f"{name}.npz", coef=_to_numpy(model.coef_), intercept=_to_numpy(model.intercept_),
             best_alphas=_to_numpy(model.best_alphas_))
    (folder / f"{name}.json").write_text(json.dumps({"seconds": seconds, "peak_mib": peak_delta / 1024}))


def _run_worker(name, folder, threads, n_targets_batch):
    command = [sys.executable, __file__, "--worker", name, "--data", str(folder), "--threads", str(threads),
               "--n-targets-batch", str(n_targets_batch)]
    subprocess.run(command, check=True)
    stats = json.loads((Path(folder) / f"{name}.json").read_text())
    return stats, dict(np.load(Path(folder) / f"{name}.npz"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick run: 1000 targets")
    parser.add_argument("--targets", type=int, default=None, help="number of targets (default 20000)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1: shared machine)")
    parser.add_argument("--n-targets-batch", type=int, default=2048, help="for both models (default 2048)")
    parser.add_argument("--worker", choices=["himalaya", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.data, args.threads, args.n_targets_batch)

    from cogmodels.encoders.ridge import RidgeCV, make_folds
    from cogmodels.metrics.brain import pearson_r

    n_targets = args.targets or (1000 if args.small else 20000)
    n_train, n_test, n_features = 4000, 1000, 768
    X, Y, X_test, Y_test = make_data(n_train, n_test, n_features, n_targets)
    folds = make_folds(n_train, 5)
    print(f"data: X train {X.shape}, test {X_test.shape}, Y {n_targets} targets; {len(ALPHAS)} alphas "
          f"{ALPHAS[0]:g}..{ALPHAS[-1]:g}; 5 contiguous folds (explicit, shared); criterion R²; float32; "
          f"torch CPU, {args.threads} thread(s); n_targets_batch={args.n_targets_batch}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for key, value in {"X": X, "Y": Y}.items():
            np.save(Path(folder) / f"{key}.npy", value)
        np.savez(Path(folder) / "folds.npz", **{f"val{i}": val for i, (_, val) in enumerate(folds)})
        results = {name: _run_worker(name, folder, args.threads, args.n_targets_batch)
                   for name in ("himalaya", "ours")}

    # test predictions from each model's coefficients, in float64: float32 outputs round away the
    # variation of targets whose predictions barely move around a large intercept
    r = {name: pearson_r(Y_test, X_test.astype(np.float64) @ output["coef"] + output["intercept"])
         for name, (_, output) in results.items()}
    # grid index of each chosen alpha (himalaya returns exp(log(alpha)), not the grid value bit for bit)
    chosen = {name: np.abs(np.log(output["best_alphas"])[:, None] - np.log(ALPHAS)[None]).argmin(1)
              for name, (_, output) in results.items()}
    same_alpha = chosen["ours"] == chosen["himalaya"]
    # where the choices differ: how far apart are the two alphas in CV score, and which one does
    # a float64 fit (our direct reference method, float64 throughout) choose?
    differing = np.flatnonzero(~same_alpha)
    gap, float64_sides = np.nan, {"ours": 0, "himalaya": 0}
    if differing.size:
        reference = RidgeCV(alphas=ALPHAS, cv=folds, dtype="float64", method="direct").fit(X, Y[:, differing])
        rows = np.arange(differing.size)
        scores = reference.alpha_scores_
        gap = np.max(np.abs(scores[chosen["ours"][differing], rows] - scores[chosen["himalaya"][differing], rows]))
        reference_choice = np.searchsorted(ALPHAS, reference.best_alphas_)
        float64_sides = {name: int(np.sum(reference_choice == chosen[name][differing])) for name in chosen}
    (h_stats, _), (o_stats, _) = results["himalaya"], results["ours"]
    speedup = h_stats["seconds"] / o_stats["seconds"]
    memory_ratio = o_stats["peak_mib"] / h_stats["peak_mib"]

    print(f"\n{'':34s}{'himalaya':>14s}{'cogmodels':>14s}")
    print(f"{'fit wall time (s)':34s}{h_stats['seconds']:14.2f}{o_stats['seconds']:14.2f}")
    print(f"{'peak RSS during fit (MiB, delta)':34s}{h_stats['peak_mib']:14.1f}{o_stats['peak_mib']:14.1f}")
    print(f"{'mean test r':34s}{np.mean(r['himalaya']):14.6f}{np.mean(r['ours']):14.6f}")
    r_diff = np.abs(r["ours"] - r["himalaya"])
    worst = int(np.argmax(r_diff))
    same_alpha_diff = np.max(r_diff[same_alpha], initial=0)
    print(f"\nper-target test r, max |diff|: {r_diff.max():.2e} (must be < 1e-3); over the targets with the "
          f"same alpha: {same_alpha_diff:.2e}; worst target {worst}: r {r['ours'][worst]:.4f} vs "
          f"{r['himalaya'][worst]:.4f}, alpha {ALPHAS[chosen['ours'][worst]]:g} vs "
          f"{ALPHAS[chosen['himalaya'][worst]]:g}")
    print(f"chosen alphas identical for {same_alpha.sum()} of {n_targets} targets; where they differ "
          f"({differing.size}): max CV-score gap between the two choices {gap:.2e}, and a float64 fit "
          f"chooses ours for {float64_sides['ours']}, himalaya's for {float64_sides['himalaya']}")
    print(f"speedup vs himalaya: {speedup:.1f}x (peak memory {memory_ratio:.2f}x)")


if __name__ == "__main__":
    main()
