"""Compare two result stores (output roots) row by row and item array by item array.

Used to show that a code change leaves results unchanged: run the same command on two trees
(e.g. a ``git worktree`` of the old commit and the current one) into two output roots, then::

    cogmodels compare /tmp/old/out /tmp/new/out [--tolerance 0]

Result rows are matched on their labels (experiment, dataset, backbone, layer, head, subject,
ROI/condition, metric), not on run ids, which change whenever the resolved config gains a key.
Runs are paired by the labels of their rows (experiment, dataset, backbone, heads, subjects), and
every array of their ``items.npz`` is compared (float arrays by max |difference|, NaN equal to
NaN; other arrays exactly).  The store is read with ``sqlite3`` only, so stores written by older
versions of the runner compare too.  The last line is the headline: max |difference| of values
and of item arrays, and whether everything matched within the tolerance.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np

from cogmodels.errors import DataFormatError, format_problem

LABELS = ("experiment", "dataset", "backbone", "layer", "head", "subject", "roi_or_condition", "metric")


def read_store(root: Path):
    """``(rows, runs)``: {labels: (value, n_items)} and {run key: items.npz path} of the completed runs."""
    db = Path(root) / "results.sqlite"
    if not db.is_file():
        raise DataFormatError(format_problem(str(db), "a results store (an output root of cogmodels run)",
                                             "no such file", "pass the run's output_root"))
    with closing(sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)) as con:
        done = {run_id: run_dir for run_id, run_dir in
                con.execute("SELECT run_id, run_dir FROM runs WHERE status = 'complete'")}
        records: dict = {}
        for record in con.execute(f"SELECT run_id, {', '.join(LABELS)}, value, n_items FROM results"):
            if record[0] in done:
                records.setdefault(record[0], []).append(record[1:])
    rows, runs = {}, {}
    for run_id, run_records in records.items():
        # A run's rows without a head (e.g. a reliability) are told apart by the heads of the run.
        heads = ",".join(sorted({str(r[4]) for r in run_records if r[4]}))
        for record in run_records:
            labels, value, n_items = tuple(record[:-2]) + (heads,), record[-2], record[-1]
            if labels in rows:
                raise DataFormatError(format_problem(
                    str(db), "one completed run per set of result labels", f"two runs with the labels {labels}",
                    "compare stores that hold one run of each configuration (e.g. one seed)"))
            rows[labels] = (np.nan if value is None else float(value), n_items)
        key = tuple(tuple(sorted({str(r[i]) for r in run_records})) for i in (0, 1, 2, 3, 4, 5))
        if key in runs:
            raise DataFormatError(format_problem(
                str(db), "one completed run per (experiment, dataset, backbone, layers, heads, subjects)",
                f"two runs with {key}", "compare stores that hold one run of each configuration (e.g. one seed)"))
        runs[key] = Path(root) / str(done[run_id]) / "items.npz"
    return rows, runs


def compare_items(path_a: Path, path_b: Path, tolerance: float = 0.0) -> tuple[float, list[str]]:
    """Max |difference| over the float arrays of two items.npz files, and the problems found (each array that
    differs by more than ``tolerance`` is named)."""
    problems, worst = [], 0.0
    with np.load(path_a, allow_pickle=False) as a, np.load(path_b, allow_pickle=False) as b:
        if set(a.files) != set(b.files):
            problems.append(f"keys differ: only first {sorted(set(a.files) - set(b.files))}, "
                            f"only second {sorted(set(b.files) - set(a.files))}")
        for key in sorted(set(a.files) & set(b.files)):
            x, y = a[key], b[key]
            if x.shape != y.shape:
                problems.append(f"{key}: shape {x.shape} vs {y.shape}")
            elif np.issubdtype(x.dtype, np.floating) and np.issubdtype(y.dtype, np.floating):
                both_nan = np.isnan(x) & np.isnan(y)
                if (np.isnan(x) != np.isnan(y)).any():
                    problems.append(f"{key}: NaN in different places")
                diff = np.abs(np.where(both_nan, 0.0, x.astype(np.float64) - y.astype(np.float64)))
                largest = float(np.nanmax(diff)) if diff.size else 0.0
                if largest > tolerance:
                    problems.append(f"{key}: max |difference| {largest:.3g}")
                worst = max(worst, largest)
            elif not np.array_equal(x, y):
                problems.append(f"{key}: {x.dtype} arrays differ")
    return worst, problems


def compare(root_a: Path, root_b: Path, tolerance: float = 0.0, show: int = 10) -> bool:
    rows_a, runs_a = read_store(root_a)
    rows_b, runs_b = read_store(root_b)
    common = sorted(set(rows_a) & set(rows_b))
    diffs = []
    for labels in common:
        (va, na), (vb, nb) = rows_a[labels], rows_b[labels]
        d = 0.0 if (np.isnan(va) and np.isnan(vb)) else abs(va - vb)
        diffs.append((np.inf if np.isnan(d) else d, labels, va, vb, na == nb))
    value_max = max((d for d, *_ in diffs), default=0.0)
    n_items_differ = sum(not same for *_, same in diffs)
    print(f"rows: {len(rows_a)} in the first, {len(rows_b)} in the second, {len(common)} matched; "
          f"max |value difference| {value_max:.3g}; n_items differ in {n_items_differ}")
    for name, only in (("first", set(rows_a) - set(rows_b)), ("second", set(rows_b) - set(rows_a))):
        if only:
            print(f"  only in the {name} ({len(only)}): " + "; ".join(map(str, sorted(only)[:show])))
    by_metric: dict = {}
    for d, labels, *_ in diffs:
        key = (labels[4], labels[7])
        by_metric[key] = max(by_metric.get(key, 0.0), d)
    changed = {key: d for key, d in sorted(by_metric.items()) if d > tolerance}
    print(f"  {len(by_metric) - len(changed)} of {len(by_metric)} (head, metric) pairs within the tolerance")
    for (head, metric), d in changed.items():
        print(f"  {head or '-'} {metric}: max |diff| {d:.3g}")
    for d, labels, va, vb, _ in sorted(diffs, key=lambda t: -t[0])[:show]:
        if d > tolerance:
            print(f"  differs: {labels}: {va!r} vs {vb!r}")

    items_max, item_problems = 0.0, []
    for key in sorted(set(runs_a) | set(runs_b)):
        if key not in runs_a or key not in runs_b:
            item_problems.append(f"run {key} only in the {'first' if key in runs_a else 'second'} store")
            continue
        worst, problems = compare_items(runs_a[key], runs_b[key], tolerance)
        items_max = max(items_max, worst)
        item_problems += [f"run {key}: {p}" for p in problems]
    print(f"items: {len(set(runs_a) & set(runs_b))} run pair(s); max |array difference| {items_max:.3g}")
    for problem in item_problems[:show]:
        print(f"  {problem}")
    same = (len(common) == len(rows_a) == len(rows_b) and value_max <= tolerance and items_max <= tolerance
            and not n_items_differ and not item_problems)
    print(f"{'UNCHANGED' if same else 'CHANGED'}: max |value diff| {value_max:.3g}, max |items diff| "
          f"{items_max:.3g} over {len(common)} rows (tolerance {tolerance:g})")
    return same

