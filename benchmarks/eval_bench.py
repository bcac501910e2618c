"""Benchmark of the binary evaluation against scikit-learn and a single argsort.

Run: ``.venv/bin/python benchmarks/eval_bench.py`` (``--rows 10000000``, ``--repeat 3``,
``--variants ties,no-ties``, ``--quick`` for a smoke run of 200,000 rows, ``--json PATH`` to
write the figures, ``--help``).

The data: ``--rows`` scored rows, 15% positives; negatives' scores drawn from Beta(2, 5) and
positives' from Beta(4, 3), which overlap (AUROC ~0.88). Two variants: ``ties``, the scores
rounded to ``--decimals`` (4) places as a model's stored output often is (~10,000 distinct
scores), and ``no-ties``, the raw float64 draws (every score distinct, so every row is a point
of the curves).

Measured, each in this process, on the same arrays:

- ``aimops``: ``evaluate_binary(y, scores)``, the whole evaluation (AUROC, AUPR, both curves,
  the threshold table at 0.00..0.99, and also log loss, Brier, calibration and the confusion
  matrix), from one sort of packed 64-bit keys;
- ``scikit-learn set``: the same set from scikit-learn: ``roc_auc_score``,
  ``average_precision_score``, ``roc_curve`` (``drop_intermediate=False``: the full curve, as
  aimops computes before thinning it for storage, and what a threshold table needs) and
  ``precision_recall_curve``, then the threshold table built from ``roc_curve``'s outputs with
  ``searchsorted``;
- ``numpy argsort``: ``np.argsort(scores)``, the floor: all of the above can be had from one
  sort of the scores;
- ``aimops weighted``: ``evaluate_binary`` with sample weights (uniform in [0.5, 2]), which
  needs the permutation and so takes ``argsort``: an extra line, no goal.

Each measurement is called once to warm up, then ``--repeat`` times; the median and the best
of the timed calls are reported. The warm-up's time is shown as "cold" and counts for nothing:
the first call in a process pays page faults on its fresh, GB-sized allocations.

Before anything is printed, aimops' figures are checked against scikit-learn's: AUROC, AUPR,
every row of the threshold table and every stored point of both curves to 1e-9 (and the
weighted evaluation against scikit-learn's weighted AUROC and AUPR).

Goals (the issue): aimops at least 3x faster than the scikit-learn set, and within 2x of the
single argsort, at 10,000,000 rows.

Exit status: 1 when aimops' figures differ from scikit-learn's, or when a goal is missed at
10,000,000 rows or more; a missed goal in a smaller run (``--quick``, ``--rows``) is printed
but does not fail it, as the goals are set at that size.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import (
    TIMING_HEADER,
    TIMING_LEFT,
    Timing,
    config_of,
    environment,
    log,
    names_from,
    render_table,
    timed,
    timing_row,
    write_figures,
)

from aimops.monitors.evaluation.binary import TABLE_THRESHOLDS, BinaryEvaluation, evaluate_binary

PREVALENCE = 0.15
GOALS = {"speedup_vs_sklearn": 3.0, "slowdown_vs_argsort": 2.0}
GOAL_ROWS = 10_000_000  # the size the goals are set at
VARIANTS = ("ties", "no-ties")
TOLERANCE = 1e-9


# -- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    labels: np.ndarray
    scores: np.ndarray
    weights: np.ndarray


def make_data(rows: int, decimals: int | None, seed: int) -> Data:
    """Two overlapping Beta distributions; scores rounded to ``decimals`` places (None: raw)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < PREVALENCE).astype(np.int8)
    scores = np.where(labels == 1, rng.beta(4, 3, rows), rng.beta(2, 5, rows))
    if decimals is not None:
        scores = scores.round(decimals)
    return Data(labels, scores, rng.uniform(0.5, 2.0, rows))


# -- what is timed --------------------------------------------------------------------------


@dataclass
class SklearnSet:
    auroc: float
    aupr: float
    roc: tuple[np.ndarray, np.ndarray, np.ndarray]
    pr: tuple[np.ndarray, np.ndarray, np.ndarray]
    table: dict[str, np.ndarray]


def sklearn_set(labels: np.ndarray, scores: np.ndarray) -> SklearnSet:
    """AUROC, AUPR, both curves and the threshold table, as scikit-learn gives them."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    roc = roc_curve(labels, scores, drop_intermediate=False)
    positives = int(np.count_nonzero(labels))
    return SklearnSet(
        auroc=float(roc_auc_score(labels, scores)),
        aupr=float(average_precision_score(labels, scores)),
        roc=roc,
        pr=precision_recall_curve(labels, scores),
        table=table_from_roc(*roc, positives=positives, negatives=len(labels) - positives),
    )


def table_from_roc(
    fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray, positives: int, negatives: int
) -> dict[str, np.ndarray]:
    """aimops' threshold table from ``roc_curve``'s outputs: the point of each threshold."""
    # The thresholds fall from inf: a table threshold's point is the last one at or above it.
    at = len(thresholds) - np.searchsorted(thresholds[::-1], TABLE_THRESHOLDS, side="left") - 1
    tp, fp = tpr[at] * positives, fpr[at] * negatives
    fn, tn = positives - tp, negatives - fp
    predicted = tp + fp
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0),
        "recall": tpr[at],
        "fpr": fpr[at],
        "f1": 2 * tp / (2 * tp + fp + fn),
        "ppr": predicted / (positives + negatives),
    }


def argsort_floor(scores: np.ndarray) -> np.ndarray:
    return np.argsort(scores)


# -- checks ---------------------------------------------------------------------------------


def close(name: str, got: Any, expected: Any, problems: list[str]) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        problems.append(f"{name}: shape {got.shape} != scikit-learn's {expected.shape}")
        return
    scale = np.maximum(1.0, np.abs(expected))  # counts: relative; rates: absolute
    worst = float(np.max(np.abs(got - expected) / scale, initial=0.0))
    if worst > TOLERANCE:
        problems.append(f"{name}: differs from scikit-learn's by {worst:.3g}")


def curve_points_on(
    thresholds: tuple[float | None, ...], sk_thresholds: np.ndarray, ascending: bool
) -> np.ndarray:
    """Where each stored threshold (the first is None: the curve's start) is in sklearn's."""
    kept = np.array(thresholds[1:], dtype=float)
    if ascending:
        return np.searchsorted(sk_thresholds, kept)
    return len(sk_thresholds) - 1 - np.searchsorted(sk_thresholds[::-1], kept)


def check(ours: BinaryEvaluation, theirs: SklearnSet) -> list[str]:
    """aimops' figures against scikit-learn's: areas, table rows, every stored curve point."""
    problems: list[str] = []
    close("auroc", ours.metrics["auroc"], theirs.auroc, problems)
    close("aupr", ours.metrics["aupr"], theirs.aupr, problems)
    for name, values in theirs.table.items():
        close(f"threshold_table.{name}", ours.threshold_table.columns[name], values, problems)
    fpr, tpr, roc_thresholds = theirs.roc
    at = curve_points_on(ours.roc.thresholds, roc_thresholds, ascending=False)
    close("roc.thresholds", ours.roc.thresholds[1:], roc_thresholds[at], problems)
    close("roc.fpr", ours.roc.x, np.r_[0.0, fpr[at]], problems)
    close("roc.tpr", ours.roc.y, np.r_[0.0, tpr[at]], problems)
    precision, recall, pr_thresholds = theirs.pr
    at = curve_points_on(ours.pr.thresholds, pr_thresholds, ascending=True)
    close("pr.thresholds", ours.pr.thresholds[1:], pr_thresholds[at], problems)
    close("pr.recall", ours.pr.x, np.r_[0.0, recall[at]], problems)
    # A stored PR point's precision is the mean over the thresholds it stands for, so that
    # the stored curve's step area is the average precision: check that area.
    close("pr step area", ours.pr.step_area(), theirs.aupr, problems)
    if ours.roc.full_points != len(fpr) or ours.pr.full_points != len(precision):
        problems.append("the full curves' lengths differ from scikit-learn's")
    return problems


def check_weighted(ours: BinaryEvaluation, data: Data) -> list[str]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    problems: list[str] = []
    auroc = roc_auc_score(data.labels, data.scores, sample_weight=data.weights)
    close("weighted auroc", ours.metrics["auroc"], auroc, problems)
    aupr = average_precision_score(data.labels, data.scores, sample_weight=data.weights)
    close("weighted aupr", ours.metrics["aupr"], aupr, problems)
    return problems


# -- one variant ------------------------------------------------------------------------------


def run_variant(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    decimals = args.decimals if variant == "ties" else None
    log(f"{variant}: generating {args.rows:,} rows")
    data = make_data(args.rows, decimals, args.seed)
    timings: dict[str, Timing] = {}
    calls: dict[str, Callable[[], Any]] = {
        "aimops": lambda: evaluate_binary(data.labels, data.scores),
        "scikit-learn set": lambda: sklearn_set(data.labels, data.scores),
        "numpy argsort": lambda: argsort_floor(data.scores),
        "aimops weighted": lambda: evaluate_binary(
            data.labels, data.scores, sample_weight=data.weights
        ),
    }
    for name, call in calls.items():
        log(f"{variant}: {name}, warm-up + {args.repeat} timed")
        timings[name] = timed(call, args.repeat)
        log(f"  median {timings[name].median:.3f} s (cold {timings[name].cold:.3f} s)")
    log(f"{variant}: checking aimops against scikit-learn")
    problems = check(timings["aimops"].result, timings["scikit-learn set"].result)
    problems += check_weighted(timings["aimops weighted"].result, data)
    ours: BinaryEvaluation = timings["aimops"].result
    return {
        "variant": variant,
        "decimals": decimals,
        "distinct_scores": ours.roc.full_points - 1,
        "auroc": ours.metrics["auroc"],
        "aupr": ours.metrics["aupr"],
        "timings": {name: timing.to_dict() for name, timing in timings.items()},
        "problems": problems,
    }


# -- report -------------------------------------------------------------------------------------


def goal_ratios(figures: dict[str, Any]) -> dict[str, float]:
    """What the goals judge, from the medians: how many times faster aimops is than the
    scikit-learn set, and how many times slower than the single argsort."""
    timings = figures["timings"]
    ours = timings["aimops"]["median_s"]
    return {
        "speedup_vs_sklearn": timings["scikit-learn set"]["median_s"] / ours,
        "slowdown_vs_argsort": ours / timings["numpy argsort"]["median_s"],
    }


def goals_met(figures: dict[str, Any]) -> dict[str, bool]:
    ratios = goal_ratios(figures)
    return {
        "speedup_vs_sklearn": ratios["speedup_vs_sklearn"] >= GOALS["speedup_vs_sklearn"],
        "slowdown_vs_argsort": ratios["slowdown_vs_argsort"] <= GOALS["slowdown_vs_argsort"],
    }


def goal_misses(figures: dict[str, Any]) -> list[str]:
    """One line per goal the variant missed."""
    ratios, met = goal_ratios(figures), goals_met(figures)
    described = {
        "speedup_vs_sklearn": "aimops {:.2f}x faster than the scikit-learn set (goal: >= {:g}x)",
        "slowdown_vs_argsort": "aimops {:.2f}x the time of numpy argsort (goal: <= {:g}x)",
    }
    return [
        f"{figures['variant']}: " + described[goal].format(ratios[goal], GOALS[goal])
        for goal in GOALS
        if not met[goal]
    ]


def table_rows(figures: dict[str, Any]) -> list[list[str]]:
    timings = figures["timings"]
    ours = timings["aimops"]["median_s"]

    def row(name: str, goal: str = "", met: bool | None = None) -> list[str]:
        return timing_row(name, timings[name], ours, goal, met)

    ratios, met = goal_ratios(figures), goals_met(figures)
    return [
        row("aimops", "(the reference)"),
        row(
            "scikit-learn set",
            f"aimops >= {GOALS['speedup_vs_sklearn']:.0f}x faster "
            f"({ratios['speedup_vs_sklearn']:.1f}x)",
            met["speedup_vs_sklearn"],
        ),
        row(
            "numpy argsort",
            f"aimops <= {GOALS['slowdown_vs_argsort']:.0f}x this "
            f"({ratios['slowdown_vs_argsort']:.2f}x)",
            met["slowdown_vs_argsort"],
        ),
        row("aimops weighted", "(extra: argsort path)"),
    ]


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    env = results["environment"]
    print(
        f"\nbinary evaluation, {args.rows:,} rows ({PREVALENCE:.0%} positive), "
        f"repeat {args.repeat}: median and best of the timed calls, after one warm-up call "
        "(the first call in a process pays page faults on fresh GB-sized allocations; "
        "its time is the 'cold' column)"
    )
    print(
        f"python {env['python']}, numpy {env['numpy']}, scikit-learn {env['scikit-learn']}, "
        f"{env['cpus']} CPUs"
    )
    for figures in results["variants"]:
        described = (
            f"scores rounded to {figures['decimals']} decimals"
            if figures["decimals"] is not None
            else "raw float64 scores"
        )
        print(
            f"\n{figures['variant']}: {described}, {figures['distinct_scores']:,} distinct; "
            f"AUROC {figures['auroc']:.6f}, AUPR {figures['aupr']:.6f} "
            f"(equal to scikit-learn's within {TOLERANCE:g}, as are the table, the ROC points "
            "and the PR recalls and area)"
        )
        print(render_table(TIMING_HEADER, table_rows(figures), left=TIMING_LEFT))


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, help="scored rows (default 10,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per measurement")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=",".join(VARIANTS))
    parser.add_argument("--decimals", type=int, default=4, help="rounding of the ties variant")
    parser.add_argument("--quick", action="store_true", help="a smoke run of 200,000 rows")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    args.rows = args.rows or (200_000 if args.quick else 10_000_000)
    args.variants = names_from(parser, args.variants, VARIANTS, "variants")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": config_of(args),
        "goals": GOALS,
        "environment": environment(
            numpy=np.__version__, **{"scikit-learn": version("scikit-learn")}
        ),
        "variants": [run_variant(variant, args) for variant in args.variants],
    }
    results["total_s"] = time.perf_counter() - started
    problems = [f"{v['variant']}: {p}" for v in results["variants"] for p in v["problems"]]
    if problems:
        print("FAILED: aimops differs from scikit-learn:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    results["goal_misses"] = [miss for v in results["variants"] for miss in goal_misses(v)]
    report(results, args)
    print(f"\ntotal {results['total_s']:.0f} s")
    write_figures(results, args.json)
    return judge_goals(results["goal_misses"], args.rows)


def judge_goals(misses: list[str], rows: int) -> int:
    """Print the missed goals; the exit status: 1 if any was missed at the goals' size."""
    if not misses:
        return 0
    judged = rows >= GOAL_ROWS
    if judged:
        print("FAILED: goals missed:", file=sys.stderr)
    else:
        print(
            f"goals missed (they are judged at {GOAL_ROWS:,} rows; this run of {rows:,} "
            "does not fail for it):",
            file=sys.stderr,
        )
    for miss in misses:
        print(f"  {miss}", file=sys.stderr)
    return 1 if judged else 0


if __name__ == "__main__":
    raise SystemExit(main())
