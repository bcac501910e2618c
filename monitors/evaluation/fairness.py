"""Fairness: the same binary metrics for each group of a sensitive attribute, and their gaps.

For every group (each value of ``groups``) the rates at ``threshold`` (a score at or above it
is predicted positive): ``tpr`` (recall), ``fpr``, ``precision``, ``ppr`` (the
predicted-positive rate) and ``accuracy``; and, at every threshold, the group's ``auroc``,
``aupr`` (average precision), ``log_loss`` and ``brier``, all weighted by ``sample_weight``
and equal to scikit-learn's on the group's rows. A value whose denominator is zero (no
positives for ``tpr`` and ``aupr``, nothing predicted positive for ``precision``, a single
class for ``auroc``, no weight at all for the rest) is undefined: None.

Each metric's reference is its best group: the highest value where higher is better (as
:func:`aimops.monitors.evaluation.gates.higher_is_better` says), the lowest for ``fpr`` and the
losses, and the highest for ``ppr``, which has no better direction but which the four-fifths rule
compares with the highest group. Every group gets ``gap = value - best`` and, except for the
losses, a ``ratio`` in [0, 1] where below 1 is worse and the best group has 1:

- ``best / value`` for ``fpr`` (lower is better), as fairlearn's FPR ratio: a group with five
  times the best FPR has 0.2. When the best group has no false positive at all, every group
  that has some gets 0; read the FPR's size from its gap then.
- none for ``log_loss`` and ``brier``: a ratio of losses swings with how near 0 the best loss
  is, so only their gaps are given.
- ``value / best`` for the others; the predicted-positive ratio is the disparate-impact
  ratio of the four-fifths rule.

A group whose value equals the best has ratio 1, so a ratio is defined wherever the group's
value is. The headline metrics are the largest absolute gap and the smallest ratio over the
groups for ``tpr``, ``fpr``, ``precision`` and ``ppr``. Groups with fewer than
``min_group_size`` rows are listed as skipped, without metrics, and take no part in the
comparison.

Example:
    >>> result = fairness(
    ...     [1, 0, 1, 0, 1, 0, 1, 0],
    ...     [0.9, 0.2, 0.8, 0.6, 0.7, 0.1, 0.3, 0.4],
    ...     ["a", "a", "a", "a", "b", "b", "b", "b"],
    ...     attribute="region",
    ... )
    >>> result.groups[1].metrics["tpr"], result.groups[1].gaps["tpr"]
    (0.5, -0.5)
    >>> result.metrics["min_ratio_tpr"], result.reference["fpr"]
    (0.5, 'b')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from aimops import validation
from aimops.errors import InvalidDataError
from aimops.monitors.evaluation.binary import RankedScores, areas, clipped_log_likelihood
from aimops.monitors.evaluation.gates import higher_is_better
from aimops.monitors.evaluation.result import EvaluationResult, rounded
from aimops.monitors.inputs import (
    FloatArray,
    binary_labels,
    categories,
    class_names,
    in_weight_range,
    probabilities,
    same_length,
    sample_weights,
    threshold_value,
)

#: The metrics measured on each group and compared across groups.
GROUP_METRICS = (
    "tpr",
    "fpr",
    "precision",
    "ppr",
    "accuracy",
    "auroc",
    "aupr",
    "log_loss",
    "brier",
)
#: The metrics whose largest gap and smallest ratio are the result's headline metrics.
HEADLINE_METRICS = ("tpr", "fpr", "precision", "ppr")
#: The metrics given a ratio to the best group (the losses have gaps only).
RATIO_METRICS = tuple(metric for metric in GROUP_METRICS if metric not in ("log_loss", "brier"))

Values = dict[str, float | None]


def _highest_is_best(metric: str) -> bool:
    """Whether ``metric``'s reference is the group with its highest value (else the lowest).

    ``ppr`` has no better direction (``higher_is_better`` gives None), but the four-fifths
    rule compares each group's predicted-positive rate with the highest one: so do we.
    """
    if metric == "ppr":
        return True
    return higher_is_better(metric) is True


@dataclass(frozen=True)
class GroupFairness:
    """One group's size, positive weight, metrics, and gaps and ratios to the best groups."""

    group: str
    n: int
    positives: float
    metrics: Values = field(default_factory=dict)
    gaps: Values = field(default_factory=dict)
    ratios: Values = field(default_factory=dict)
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "n": self.n,
            "positives": self.positives,
            "skipped": self.skipped,
            "metrics": dict(self.metrics),
            "gaps": dict(self.gaps),
            "ratios": dict(self.ratios),
        }


@dataclass(frozen=True, kw_only=True)
class FairnessResult(EvaluationResult):
    """Per-group metrics of one sensitive attribute, compared with the best group."""

    kind = "fairness"
    attribute: str | None
    threshold: float
    groups: tuple[GroupFairness, ...]
    reference: dict[str, str]

    def details(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "threshold": self.threshold,
            "groups": [group.to_dict() for group in self.groups],
            "reference": dict(self.reference),
        }


def fairness(
    y_true: Any,
    y_score: Any,
    groups: Any,
    *,
    threshold: float = 0.5,
    sample_weight: Any = None,
    min_group_size: int = 1,
    attribute: str | None = None,
    label: str | None = None,
) -> FairnessResult:
    """Compare binary metrics across the groups of ``groups`` (one value per row).

    ``y_true`` holds 0/1 labels and ``y_score`` probabilities of the positive class;
    ``attribute`` names the sensitive attribute. ``metrics`` holds ``max_gap_<metric>`` and
    ``min_ratio_<metric>`` for tpr, fpr, precision and ppr (absent where no group defines
    them). Bad input, missing group values included, raises InvalidDataError.
    """
    labels = binary_labels(y_true)
    scores = probabilities(y_score)
    values, codes = categories(groups, "groups")
    same_length(y_true=labels, y_score=scores, groups=codes)
    weights = sample_weights(sample_weight, len(labels))
    cut = threshold_value(threshold)
    if validation.whole_number(min_group_size, "min_group_size") < 1:
        raise InvalidDataError(f"min_group_size must be at least 1, got {min_group_size}")
    validation.optional_text(attribute, "attribute")
    rows_of = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1])
    measured = [
        _measure(name, labels[rows], scores[rows], _subset(weights, rows), cut, min_group_size)
        for name, rows in zip(class_names(values.tolist()), rows_of, strict=True)
    ]
    best = _best_values(measured)
    compared = tuple(_compare(group, best) for group in measured)
    return FairnessResult(
        metrics=rounded(_headline(compared)),
        n=len(labels),
        weighted=weights is not None,
        label=label,
        attribute=attribute,
        threshold=cut,
        groups=compared,
        reference=_reference(measured, best),
    )


def _subset(weights: FloatArray | None, rows: Any) -> FloatArray | None:
    return None if weights is None else weights[rows]


def _measure(
    name: str,
    labels: FloatArray,
    scores: FloatArray,
    weights: FloatArray | None,
    cut: float,
    min_group_size: int,
) -> GroupFairness:
    """One group's metrics (none for a group that is too small).

    The metrics are ratios of the group's weights, so they are computed on the group's own
    weights brought into range (a group of weights all near 1e-300 would underflow); its
    ``positives`` stay in the units of the weights given.
    """
    cell = (2 * labels + (scores >= cut)).astype(np.intp)  # actual class, then prediction
    positives = float(_cell_weights(cell, weights)[2:].sum())
    if len(labels) < min_group_size:
        return GroupFairness(group=name, n=len(labels), positives=positives, skipped=True)
    if weights is not None and weights.any():
        weights = in_weight_range(weights)
    tn, fp, fn, tp = _cell_weights(cell, weights).tolist()
    positive_weight, negative_weight = tp + fn, tn + fp
    total = positive_weight + negative_weight
    return GroupFairness(
        group=name,
        n=len(labels),
        positives=positives,
        metrics={
            "tpr": _ratio(tp, positive_weight),
            "fpr": _ratio(fp, negative_weight),
            "precision": _ratio(tp, tp + fp),
            "ppr": _ratio(tp + fp, total),
            "accuracy": _ratio(tp + tn, total),
            **_ranking_areas(labels, scores, weights, positive_weight, negative_weight),
            **_losses(labels, scores, weights, total),
        },
    )


def _cell_weights(cell: Any, weights: FloatArray | None) -> FloatArray:
    """The weight of true negatives, false positives, false negatives and true positives."""
    return np.bincount(cell, weights=weights, minlength=4).astype(np.float64)


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _ranking_areas(
    labels: FloatArray,
    scores: FloatArray,
    weights: FloatArray | None,
    positive_weight: float,
    negative_weight: float,
) -> Values:
    """AUROC (both classes needed) and average precision (positives needed)."""
    if positive_weight <= 0:
        return {"auroc": None, "aupr": None}
    if negative_weight <= 0:  # every threshold's precision is 1, as in sklearn
        return {"auroc": None, "aupr": 1.0}
    ranked = RankedScores(labels, scores, weights)
    auroc, aupr = areas(ranked.tps, ranked.fps)
    return {"auroc": auroc, "aupr": aupr}


def _losses(
    labels: FloatArray, scores: FloatArray, weights: FloatArray | None, total: float
) -> Values:
    """Log loss (clipped as sklearn's) and Brier score; undefined for a group of no weight."""
    if total <= 0:
        return {"log_loss": None, "brier": None}
    likelihood = np.where(labels == 1.0, scores, 1.0 - scores)
    return {
        "log_loss": float(-np.average(clipped_log_likelihood(likelihood), weights=weights)),
        "brier": float(np.average((1.0 - likelihood) ** 2, weights=weights)),
    }


def _best_values(groups: list[GroupFairness]) -> Values:
    """Each metric's best value over the compared groups (None if no group defines it)."""
    best: Values = {}
    for metric in GROUP_METRICS:
        defined = [value for g in groups if (value := g.metrics.get(metric)) is not None]
        if not defined:
            best[metric] = None
        else:
            best[metric] = max(defined) if _highest_is_best(metric) else min(defined)
    return best


def _reference(groups: list[GroupFairness], best: Values) -> dict[str, str]:
    """The first group that reaches each metric's best value."""
    return {
        metric: next(g.group for g in groups if not g.skipped and g.metrics[metric] == value)
        for metric, value in best.items()
        if value is not None
    }


def _compare(group: GroupFairness, best: Values) -> GroupFairness:
    if group.skipped:
        return group
    gaps: Values = {}
    ratios: Values = {}
    for metric in GROUP_METRICS:
        value, reference = group.metrics[metric], best[metric]
        gap = ratio = None
        if value is not None and reference is not None:
            gap = value - reference
            ratio = _ratio_to_best(metric, value, reference)
        gaps[metric] = gap
        if metric in RATIO_METRICS:
            ratios[metric] = ratio
    return replace(group, gaps=gaps, ratios=ratios)


def _ratio_to_best(metric: str, value: float, best: float) -> float:
    """The group's value against the best: 1 for the best, lower for worse groups.

    Never divides by zero: a value that differs from the best one of non-negative values
    leaves the best above 0 (higher is best) or itself above 0 (lower is best).
    """
    if value == best:
        return 1.0
    return value / best if _highest_is_best(metric) else best / value


def _headline(groups: tuple[GroupFairness, ...]) -> dict[str, float | None]:
    """Largest absolute gap and smallest ratio of each headline metric over the groups."""
    headline: dict[str, float | None] = {}
    for metric in HEADLINE_METRICS:
        gaps = [abs(gap) for g in groups if (gap := g.gaps.get(metric)) is not None]
        ratios = [ratio for g in groups if (ratio := g.ratios.get(metric)) is not None]
        headline[f"max_gap_{metric}"] = max(gaps) if gaps else None
        headline[f"min_ratio_{metric}"] = min(ratios) if ratios else None
    return headline
