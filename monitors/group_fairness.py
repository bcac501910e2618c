"""Fairness: the same binary metrics for each group of a sensitive attribute, and their gaps.

For every group (each value of ``groups``) the rates at ``threshold`` (a score at or above it
is predicted positive): ``tpr`` (recall), ``fpr``, ``precision``, ``ppr`` (the
predicted-positive rate), ``accuracy``, and the group's ``auroc``. A rate whose denominator is
zero (no positives for ``tpr``, nothing predicted positive for ``precision``, a single class
for ``auroc``) is undefined: None.

Each metric's reference is its best group: the highest value, or the lowest for ``fpr``.
Every group gets ``gap = value - best`` and a ``ratio`` that is ``value / best`` (``best /
value`` for ``fpr``), so a ratio below 1 always means worse than the best group; the
predicted-positive ratio is the disparate-impact ratio of the four-fifths rule. The headline
metrics are the largest absolute gap and the smallest ratio over the groups for ``tpr``,
``fpr``, ``precision`` and ``ppr``. Groups with fewer than ``min_group_size`` rows are listed
as skipped, without metrics, and take no part in the comparison.

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

from aimops.errors import InvalidDataError
from aimops.monitors.binary import evaluate_binary
from aimops.monitors.inputs import (
    FloatArray,
    binary_labels,
    categories,
    class_names,
    probabilities,
    same_length,
    sample_weights,
    threshold_value,
)
from aimops.monitors.result import EvaluationResult, rounded

#: The metrics compared across groups; for all but ``fpr`` higher is better.
GROUP_METRICS = ("tpr", "fpr", "precision", "ppr", "accuracy", "auroc")
#: The metrics whose largest gap and smallest ratio are the result's headline metrics.
HEADLINE_METRICS = ("tpr", "fpr", "precision", "ppr")
LOWER_IS_BETTER = frozenset({"fpr"})

Values = dict[str, float | None]


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
    if min_group_size < 1:
        raise InvalidDataError(f"min_group_size must be at least 1, got {min_group_size}")
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
    """One group's metrics at the threshold (none for a group that is too small)."""
    cell = (2 * labels + (scores >= cut)).astype(np.intp)  # actual class, then prediction
    tn, fp, fn, tp = np.bincount(cell, weights=weights, minlength=4).astype(np.float64).tolist()
    positive_weight, negative_weight = tp + fn, tn + fp
    if len(labels) < min_group_size:
        return GroupFairness(group=name, n=len(labels), positives=positive_weight, skipped=True)
    total = positive_weight + negative_weight
    auroc = None
    if positive_weight > 0 and negative_weight > 0:
        auroc = evaluate_binary(labels, scores, sample_weight=weights).metrics["auroc"]
    return GroupFairness(
        group=name,
        n=len(labels),
        positives=positive_weight,
        metrics={
            "tpr": _ratio(tp, positive_weight),
            "fpr": _ratio(fp, negative_weight),
            "precision": _ratio(tp, tp + fp),
            "ppr": _ratio(tp + fp, total),
            "accuracy": _ratio(tp + tn, total),
            "auroc": auroc,
        },
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _best_values(groups: list[GroupFairness]) -> Values:
    """Each metric's best value over the compared groups (None if no group defines it)."""
    best: Values = {}
    for metric in GROUP_METRICS:
        defined = [value for g in groups if (value := g.metrics.get(metric)) is not None]
        if not defined:
            best[metric] = None
        else:
            best[metric] = min(defined) if metric in LOWER_IS_BETTER else max(defined)
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
        if value is None or reference is None:
            gaps[metric] = ratios[metric] = None
            continue
        gaps[metric] = value - reference
        if metric in LOWER_IS_BETTER:
            ratios[metric] = _ratio(reference, value)
        else:
            ratios[metric] = _ratio(value, reference)
    return replace(group, gaps=gaps, ratios=ratios)


def _headline(groups: tuple[GroupFairness, ...]) -> dict[str, float | None]:
    """Largest absolute gap and smallest ratio of each headline metric over the groups."""
    headline: dict[str, float | None] = {}
    for metric in HEADLINE_METRICS:
        gaps = [abs(gap) for g in groups if (gap := g.gaps.get(metric)) is not None]
        ratios = [ratio for g in groups if (ratio := g.ratios.get(metric)) is not None]
        headline[f"max_gap_{metric}"] = max(gaps) if gaps else None
        headline[f"min_ratio_{metric}"] = min(ratios) if ratios else None
    return headline
