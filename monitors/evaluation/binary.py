"""Binary classification: AUROC, AUPR, log loss, Brier, curves, confusion and threshold table.

Everything comes from one sort of the scores (:class:`RankedScores`). After sorting, the
weight of each class at each distinct score, and its running sums from the top, give the whole
ROC and PR curves (hence AUROC and average precision, defined as scikit-learn defines them),
log loss and Brier score; ``searchsorted`` on the distinct scores gives the counts at any
threshold: the confusion matrix, the threshold table and the calibration bins. Results equal
scikit-learn's to 1e-9; a prediction is positive when its score is at or above the threshold.

Example:
    >>> result = evaluate_binary([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> result.metrics["auroc"], result.metrics["aupr"]
    (0.75, 0.8333333333333333)
    >>> result.confusion.matrix
    ((2.0, 0.0), (1.0, 1.0))
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aimops import validation
from aimops.errors import InvalidDataError
from aimops.monitors.evaluation.curves import DEFAULT_MAX_POINTS, Curve, even_points
from aimops.monitors.evaluation.result import EvaluationResult, rounded
from aimops.monitors.inputs import (
    FloatArray,
    binary_labels,
    probabilities,
    same_length,
    sample_weights,
    threshold_value,
)

#: The threshold table's thresholds: 0.00, 0.01, ..., 0.99.
TABLE_THRESHOLDS = np.arange(100) / 100
DEFAULT_CALIBRATION_BINS = 10
#: The most calibration bins an evaluation takes (each bin is a row of the result).
MAX_CALIBRATION_BINS = 10_000
#: The fewest points a stored curve may be thinned to: its start, first and last points.
MIN_CURVE_POINTS = 3


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts (or weights) by actual class (rows) and predicted class (columns)."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]
    threshold: float | None = None

    @property
    def actual(self) -> tuple[float, ...]:
        """How many of each class there really are (the rows' sums)."""
        return tuple(float(sum(row)) for row in self.matrix)

    @property
    def predicted(self) -> tuple[float, ...]:
        """How many were predicted as each class (the columns' sums)."""
        return tuple(float(sum(column)) for column in zip(*self.matrix, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "matrix": [list(row) for row in self.matrix],
            "threshold": self.threshold,
            "actual": list(self.actual),
            "predicted": list(self.predicted),
        }


@dataclass(frozen=True)
class ThresholdTable:
    """Counts and rates at each threshold: a score at or above it is predicted positive.

    ``precision`` is 0 where nothing is predicted positive; ``ppr`` is the predicted-positive
    rate.
    """

    thresholds: tuple[float, ...]
    columns: dict[str, tuple[float, ...]]

    def row(self, threshold: float) -> dict[str, float]:
        """The row of the table's threshold nearest to ``threshold``."""
        position = int(np.argmin(np.abs(np.asarray(self.thresholds) - threshold)))
        return {"threshold": self.thresholds[position]} | {
            name: values[position] for name, values in self.columns.items()
        }

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": list(self.thresholds)} | {
            name: list(values) for name, values in self.columns.items()
        }


@dataclass(frozen=True)
class CalibrationCurve:
    """Mean predicted probability and observed share of positives per non-empty score bin."""

    mean_predicted: tuple[float, ...]
    fraction_positive: tuple[float, ...]
    count: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean_predicted": list(self.mean_predicted),
            "fraction_positive": list(self.fraction_positive),
            "count": list(self.count),
        }


@dataclass(frozen=True, kw_only=True)
class BinaryEvaluation(EvaluationResult):
    """A binary evaluation: metrics, ROC and PR curves, confusion, threshold table, calibration."""

    kind = "binary"
    threshold: float
    roc: Curve
    pr: Curve
    confusion: ConfusionMatrix
    threshold_table: ThresholdTable
    calibration: CalibrationCurve

    def details(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "roc": self.roc.to_dict(),
            "pr": self.pr.to_dict(),
            "confusion": self.confusion.to_dict(),
            "threshold_table": self.threshold_table.to_dict(),
            "calibration": self.calibration.to_dict(),
        }


class RankedScores:
    """The distinct scores, highest first, with the weight of each class at each, from one sort.

    ``positive[i]`` and ``negative[i]`` are the weight (the count, unweighted) of positives and
    negatives scored exactly ``scores[i]``; ``tps[i]`` and ``fps[i]`` are their running sums,
    the weight at or above ``scores[i]``. The curves, the threshold table, calibration, log loss
    and Brier are all read off these, so nothing after the sort passes over the rows again; with
    ties, as scores rounded to a few decimals have, there are far fewer points than rows.

    Unweighted data is sorted as one array of 64-bit keys, the score's bits shifted left with
    the label in the lowest bit: the scores are non-negative, so the keys sort exactly as the
    scores do (``-0.0`` becomes ``0.0``), and sorting plain keys is several times faster than
    ``argsort``. Equal keys then form runs, one per (score, label), whose lengths are the
    counts. Weighted data needs the permutation, so it takes ``argsort``; rows of zero weight
    are left out first, as scikit-learn leaves them out, so they add no point to a curve.
    """

    def __init__(self, labels: FloatArray, scores: FloatArray, weights: FloatArray | None):
        if weights is None:
            descending, positive, negative = _runs_of_keys(labels, scores)
        else:
            descending, positive, negative = _sorted_by_score(labels, scores, weights)
        self.scores, self.positive, self.negative = _merge_ties(descending, positive, negative)
        self.tps = np.cumsum(self.positive)
        self.fps = np.cumsum(self.negative)
        self.positive_total = float(self.tps[-1])
        self.negative_total = float(self.fps[-1])
        if self.positive_total <= 0 or self.negative_total <= 0:
            empty = "positive" if self.positive_total <= 0 else "negative"
            raise InvalidDataError(
                f"sample_weight gives the {empty} class no weight: both classes need some"
            )

    def counts_at(self, thresholds: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(true positives, false positives) when scores >= each threshold count positive."""
        above = len(self.scores) - np.searchsorted(self.scores[::-1], thresholds, side="left")
        taken = np.maximum(above - 1, 0)
        return np.where(above > 0, self.tps[taken], 0.0), np.where(above > 0, self.fps[taken], 0.0)

    def average(self, if_positive: FloatArray, if_negative: FloatArray) -> float:
        """Weighted mean over the rows of a value given per distinct score for each class."""
        total = np.dot(self.positive, if_positive) + np.dot(self.negative, if_negative)
        return float(total / (self.positive_total + self.negative_total))


def _runs_of_keys(labels: FloatArray, scores: FloatArray) -> tuple[FloatArray, ...]:
    """Descending scores with the count of positives and negatives: one entry per run of keys."""
    key = np.left_shift(scores.view(np.uint64), np.uint64(1))
    key |= labels == 1.0
    np.invert(key, out=key)  # sorting the complements ascending sorts the keys descending
    key.sort()
    np.invert(key, out=key)
    change = key[1:] != key[:-1]
    length: FloatArray | float = 1.0
    if np.count_nonzero(change) < len(change):  # some keys repeat: one entry per run
        ends = np.append(np.flatnonzero(change), len(key) - 1)
        length = np.diff(ends, prepend=-1).astype(np.float64)
        key = key[ends]
    positive = np.multiply(key & np.uint64(1), length, dtype=np.float64)
    key >>= np.uint64(1)
    return key.view(np.float64), positive, np.subtract(length, positive)


def _sorted_by_score(
    labels: FloatArray, scores: FloatArray, weights: FloatArray
) -> tuple[FloatArray, ...]:
    """Descending scores (``-0.0`` as ``0.0``) with the positive and negative weight of each row."""
    kept = weights > 0
    if not kept.all():
        labels, scores, weights = labels[kept], scores[kept], weights[kept]
    order = np.argsort(scores)[::-1]
    weight = weights[order]
    positive = labels[order] * weight
    descending = scores[order]
    descending += 0.0
    return descending, positive, weight - positive


def _merge_ties(
    scores: FloatArray, positive: FloatArray, negative: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One entry per distinct score, adding up the weights of entries with equal scores."""
    change = scores[1:] != scores[:-1]
    if np.count_nonzero(change) == len(change):
        return scores, positive, negative
    starts = np.append(0, np.flatnonzero(change) + 1)
    return scores[starts], np.add.reduceat(positive, starts), np.add.reduceat(negative, starts)


def evaluate_binary(
    y_true: Any,
    y_score: Any,
    *,
    sample_weight: Any = None,
    threshold: float = 0.5,
    max_curve_points: int = DEFAULT_MAX_POINTS,
    calibration_bins: int = DEFAULT_CALIBRATION_BINS,
    label: str | None = None,
) -> BinaryEvaluation:
    """Evaluate probabilities ``y_score`` of the positive class against 0/1 labels ``y_true``.

    ``metrics`` holds ``auroc``, ``aupr`` (average precision), ``log_loss``, ``brier`` and, at
    ``threshold``, ``accuracy``, ``precision``, ``recall``, ``f1``, ``fpr`` and ``ppr``, plus
    ``positives``, ``negatives`` and ``prevalence``. Bad input raises InvalidDataError.
    """
    labels = binary_labels(y_true)
    scores = probabilities(y_score)
    same_length(y_true=labels, y_score=scores)
    weights = sample_weights(sample_weight, len(labels))
    cut = threshold_value(threshold)
    calibration_bins = validation.whole_number(
        calibration_bins, "calibration_bins", maximum=MAX_CALIBRATION_BINS
    )
    max_curve_points = validation.whole_number(max_curve_points, "max_curve_points")
    if calibration_bins < 1:
        raise InvalidDataError(f"calibration_bins must be at least 1, got {calibration_bins}")
    if max_curve_points < MIN_CURVE_POINTS:
        raise InvalidDataError(
            f"max_curve_points must be at least {MIN_CURVE_POINTS} (a curve's start, first and "
            f"last points), got {max_curve_points}"
        )
    ranked = RankedScores(labels, scores, weights)
    roc, auroc, pr, aupr = _curves(ranked, max_curve_points)
    table = _threshold_table(ranked, TABLE_THRESHOLDS)
    at_cut = _threshold_table(ranked, np.array([cut]))
    confusion = _confusion(at_cut, cut)
    positives, negatives = ranked.positive_total, ranked.negative_total
    metrics = {
        "auroc": auroc,
        "aupr": aupr,
        **_losses(ranked),
        "accuracy": (at_cut.columns["tp"][0] + at_cut.columns["tn"][0]) / (positives + negatives),
        **{name: at_cut.columns[name][0] for name in ("precision", "recall", "f1", "fpr", "ppr")},
        "positives": positives,
        "negatives": negatives,
        "prevalence": positives / (positives + negatives),
    }
    return BinaryEvaluation(
        metrics=rounded(metrics),
        n=len(labels),
        weighted=weights is not None,
        label=label,
        threshold=cut,
        roc=roc,
        pr=pr,
        confusion=confusion,
        threshold_table=table,
        calibration=_calibration(ranked, calibration_bins),
    )


def areas(tps: FloatArray, fps: FloatArray) -> tuple[float, float]:
    """AUROC and average precision from the running weights of positives and negatives.

    ``tps[i]`` and ``fps[i]`` are the positive and negative weight scored at or above the
    ``i``-th distinct score, highest first (running sums, so they never decrease); the last
    entries, the totals, must both be above 0. AUROC is the area under the ROC curve by
    trapezoids from (0, 0) through every point; average precision (AUPR) adds each point's
    precision times the recall it gains. Both are scikit-learn's ``roc_auc_score`` and
    ``average_precision_score``. A point that adds no weight adds nothing to either.

    Example:
        >>> areas(np.array([1.0, 1.0, 2.0, 2.0]), np.array([0.0, 1.0, 1.0, 2.0]))
        (0.75, 0.8333333333333333)
    """
    new_tp = np.diff(tps, prepend=0.0)
    new_fp = np.diff(fps, prepend=0.0)
    positives, negatives = float(tps[-1]), float(fps[-1])
    # Trapezoids: each point adds new_fp * (tps + previous tps) / 2.
    auroc = (2.0 * np.dot(new_fp, tps) - np.dot(new_fp, new_tp)) / (2.0 * positives * negatives)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    return float(auroc), float(np.dot(new_tp, precision)) / positives


def clipped_log_likelihood(probability: FloatArray) -> FloatArray:
    """``log(probability)``, the probability clipped to [eps, 1 - eps] as sklearn's log_loss.

    ``probability`` is what the model gave to what happened: a positive's score, one minus a
    negative's score, or the true class's column. Log loss is minus the (weighted) mean.

    Example:
        >>> clipped_log_likelihood(np.array([0.9, 0.5, 0.0])).round(2).tolist()
        [-0.11, -0.69, -36.04]
    """
    eps = np.finfo(np.float64).eps
    return np.log(np.clip(probability, eps, 1.0 - eps))


def _losses(ranked: RankedScores) -> dict[str, float]:
    """Log loss and Brier score, computed per distinct score, not per row."""
    scores = ranked.scores
    complement = 1.0 - scores
    brier = ranked.average(complement**2, scores**2)
    log_likelihood = ranked.average(
        clipped_log_likelihood(scores), clipped_log_likelihood(complement)
    )
    return {"log_loss": -log_likelihood, "brier": brier}


def _curves(ranked: RankedScores, max_points: int) -> tuple[Curve, float, Curve, float]:
    """ROC and PR curves (thinned) and their areas (on every point), as sklearn defines them."""
    tps, fps, thresholds = ranked.tps, ranked.fps, ranked.scores
    positives, negatives = ranked.positive_total, ranked.negative_total
    auroc, aupr = areas(tps, fps)
    roc_keep = even_points(max_points - 1, tps, fps)  # and the start, (0, 0)
    roc = Curve(
        x_name="fpr",
        y_name="tpr",
        x=(0.0, *(fps[roc_keep] / negatives).tolist()),
        y=(0.0, *(tps[roc_keep] / positives).tolist()),
        thresholds=(None, *thresholds[roc_keep].tolist()),
        full_points=len(tps) + 1,
    )
    pr_keep = even_points(max_points - 1, tps)
    # The PR curve starts where sklearn's ends: recall 0 at precision 1, before any threshold.
    pr = Curve(
        x_name="recall",
        y_name="precision",
        x=(0.0, *(tps[pr_keep] / positives).tolist()),
        y=(1.0, *_segment_precision(tps, fps, pr_keep).tolist()),
        thresholds=(None, *thresholds[pr_keep].tolist()),
        full_points=len(tps) + 1,
    )
    return roc, auroc, pr, aupr


def _segment_precision(tps: FloatArray, fps: FloatArray, keep: npt.NDArray[np.intp]) -> FloatArray:
    """The precision a kept PR point stands for: the mean precision of the thresholds it
    replaces, weighted by the positives each adds, so that the thinned curve's step area is
    the average precision itself. Where those thresholds add no positive (and no area), the
    point's own precision."""
    precision = tps / (tps + fps)  # every distinct score carries weight
    area_so_far = np.cumsum(np.diff(tps, prepend=0.0) * precision)[keep]
    gained = np.diff(tps[keep], prepend=0.0)
    area = np.diff(area_so_far, prepend=0.0)
    own = precision[keep]
    return np.divide(area, gained, out=own.copy(), where=gained > 0)


def _threshold_table(ranked: RankedScores, thresholds: FloatArray) -> ThresholdTable:
    tp, fp = ranked.counts_at(thresholds)
    positives, negatives = ranked.positive_total, ranked.negative_total
    fn, tn = positives - tp, negatives - fp
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted != 0)
    f1 = 2 * tp / (2 * tp + fp + fn)  # fn + tp > 0: there are positives
    columns = {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": precision,
        "recall": tp / positives,
        "fpr": fp / negatives,
        "f1": f1,
        "ppr": predicted / (positives + negatives),
    }
    return ThresholdTable(
        thresholds=tuple(float(value) for value in thresholds),
        columns={name: tuple(values.tolist()) for name, values in columns.items()},
    )


def _confusion(at_cut: ThresholdTable, cut: float) -> ConfusionMatrix:
    row = {name: values[0] for name, values in at_cut.columns.items()}
    return ConfusionMatrix(
        labels=("0", "1"),
        matrix=((row["tn"], row["fp"]), (row["fn"], row["tp"])),
        threshold=cut,
    )


def _calibration(ranked: RankedScores, bins: int) -> CalibrationCurve:
    """Uniform bins over [0, 1] as sklearn's calibration_curve: a bin is (left, right].

    The distinct scores are sorted, highest first, so each non-empty bin is a slice of them.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    distinct = len(ranked.scores)
    higher = distinct - np.searchsorted(ranked.scores[::-1], edges, side="right")
    bounds = [distinct, *higher.tolist(), 0]  # scores above each edge, lowest edge first
    parts = [slice(stop, start) for start, stop in itertools.pairwise(bounds) if stop < start]
    positive = np.array([ranked.positive[part].sum() for part in parts])
    negative = np.array([ranked.negative[part].sum() for part in parts])
    score_sums = np.array(
        [
            np.dot(ranked.positive[part], ranked.scores[part])
            + np.dot(ranked.negative[part], ranked.scores[part])
            for part in parts
        ]
    )
    count = positive + negative
    return CalibrationCurve(
        mean_predicted=tuple((score_sums / count).tolist()),
        fraction_positive=tuple((positive / count).tolist()),
        count=tuple(count.tolist()),
    )
