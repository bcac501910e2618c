"""Fairness: each group's numbers equal scikit-learn's on the group's rows; gaps and ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as sk

from aimops.errors import InvalidDataError
from aimops.monitors import FairnessResult
from aimops.monitors.evaluation.fairness import (
    GROUP_METRICS,
    HEADLINE_METRICS,
    RATIO_METRICS,
    fairness,
)

LABELS = [1, 0, 1, 0, 1, 0, 1, 0]
SCORES = [0.9, 0.2, 0.8, 0.6, 0.7, 0.1, 0.3, 0.4]
REGIONS = ["north", "north", "north", "north", "south", "south", "south", "south"]
GRID = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]  # scores and thresholds meet: ties at the cut


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 60))
    labels = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    assume(0 < labels.sum() < n)
    groups = draw(
        arrays(np.int64, n, elements=st.integers(0, 4))
        | arrays(object, n, elements=st.sampled_from(["f", "m", "x"]))
    )
    weights = draw(
        st.none()
        | arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0, 4.0]) | st.floats(0.01, 9))
    )
    assume(weights is None or weights.any())
    return {
        "y_true": labels,
        "y_score": draw(arrays(np.float64, n, elements=st.sampled_from(GRID) | st.floats(0, 1))),
        "groups": groups,
        "sample_weight": weights,
        "threshold": draw(st.sampled_from(GRID)),
        "min_group_size": draw(st.integers(1, 6)),
    }


def _rate(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _sklearn_group(
    labels: np.ndarray, scores: np.ndarray, weights: Any, cut: float
) -> dict[str, Any]:
    """The group's metrics from sklearn's confusion matrix and AUROC on the group's rows."""
    if weights is not None and not weights.any():  # sklearn refuses; every rate is undefined
        return dict.fromkeys(GROUP_METRICS)
    tn, fp, fn, tp = sk.confusion_matrix(
        labels, (scores >= cut).astype(int), labels=[0, 1], sample_weight=weights
    ).ravel()
    positives, negatives = tp + fn, tn + fp
    both = positives > 0 and negatives > 0
    return {
        "tpr": _rate(tp, positives),
        "fpr": _rate(fp, negatives),
        "precision": _rate(tp, tp + fp),
        "ppr": _rate(tp + fp, positives + negatives),
        "accuracy": _rate(tp + tn, positives + negatives),
        "auroc": sk.roc_auc_score(labels, scores, sample_weight=weights) if both else None,
        "aupr": (
            sk.average_precision_score(labels, scores, sample_weight=weights)
            if positives > 0
            else None
        ),
        "log_loss": sk.log_loss(labels, scores, sample_weight=weights, labels=[0, 1]),
        "brier": sk.brier_score_loss(labels, scores, sample_weight=weights, labels=[0, 1]),
    }


def _assert_same(actual: float | None, expected: float | None) -> None:
    if expected is None:
        assert actual is None
    else:
        assert actual == pytest.approx(expected, abs=1e-9)


def _is_plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(key) is str and _is_plain_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_is_plain_json(item) for item in value)
    return value is None or type(value) in (str, int, float, bool)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_each_group_equals_sklearn_on_its_rows(case: dict[str, Any]) -> None:
    result = fairness(**case)

    groups, weights = case["groups"], case["sample_weight"]
    assert [g.group for g in result.groups] == [str(v) for v in sorted(set(groups.tolist()))]
    for group in result.groups:
        rows = np.array([str(value) == group.group for value in groups])
        group_weights = None if weights is None else weights[rows]
        labels = case["y_true"][rows]
        assert group.n == rows.sum()
        positives = labels.sum() if weights is None else np.dot(labels, group_weights)
        assert group.positives == pytest.approx(positives, abs=1e-9)
        assert group.skipped is (group.n < case["min_group_size"])
        if group.skipped:
            assert group.metrics == group.gaps == group.ratios == {}
            continue
        expected = _sklearn_group(labels, case["y_score"][rows], group_weights, case["threshold"])
        assert set(group.metrics) == set(GROUP_METRICS)
        for metric in GROUP_METRICS:
            _assert_same(group.metrics[metric], expected[metric])
    document = result.to_dict()
    assert _is_plain_json(document)
    json.dumps(document, allow_nan=False)


#: Where the best group has the lowest value; everywhere else it has the highest.
LOWEST_IS_BEST = {"fpr", "log_loss", "brier"}


def _expected_ratio(metric: str, value: float, best: float) -> float:
    if value == best:
        return 1.0
    if metric == "fpr":  # lower is better: the best over the group's
        return best / value
    return value / best


@settings(max_examples=60, deadline=None)
@given(cases())
def test_gaps_and_ratios_are_against_the_best_group(case: dict[str, Any]) -> None:
    result = fairness(**case)

    compared = [g for g in result.groups if not g.skipped]
    for metric in GROUP_METRICS:
        values = {g.group: g.metrics[metric] for g in compared if g.metrics[metric] is not None}
        if not values:
            assert metric not in result.reference
            assert all(g.gaps[metric] is None for g in compared)
            continue
        best = min(values.values()) if metric in LOWEST_IS_BEST else max(values.values())
        assert values[result.reference[metric]] == best
        for group in compared:
            assert set(group.ratios) == set(RATIO_METRICS)
            value = group.metrics[metric]
            if value is None:
                assert group.gaps[metric] is None and group.ratios.get(metric) is None
                continue
            assert group.gaps[metric] == pytest.approx(value - best, abs=1e-12)
            if metric in RATIO_METRICS:
                ratio = group.ratios[metric]
                assert ratio == pytest.approx(_expected_ratio(metric, value, best), abs=1e-12)
                assert ratio is not None and 0.0 <= ratio <= 1.0 + 1e-12
    for metric in HEADLINE_METRICS:
        gaps = [abs(gap) for g in compared if (gap := g.gaps[metric]) is not None]
        ratios = [ratio for g in compared if (ratio := g.ratios[metric]) is not None]
        assert result.metrics.get(f"max_gap_{metric}") == (max(gaps) if gaps else None)
        assert result.metrics.get(f"min_ratio_{metric}") == (min(ratios) if ratios else None)
        assert (f"max_gap_{metric}" in result.metrics) is bool(gaps) is bool(ratios)


#: The best group of each metric in the case below, worked out by hand: the higher value wins
#: where higher is better (ppr too: the four-fifths rule compares with the highest group),
#: the lower for fpr and the losses.
BEST_GROUP = {
    "tpr": "a",  # 1 vs 0.5
    "fpr": "b",  # 0 vs 0.5
    "precision": "b",  # 1 vs 2/3
    "ppr": "a",  # 0.75 vs 0.2
    "accuracy": "b",  # 0.8 vs 0.75
    "auroc": "a",  # 1 vs 5/6
    "aupr": "a",  # 1 vs 5/6
    "log_loss": "a",  # 0.34 vs 0.48
    "brier": "a",  # 0.105 vs 0.158
}


def test_the_best_group_of_each_metric_is_the_better_one_in_its_direction() -> None:
    # The groups differ on every metric; each one is ahead on some and behind on others.
    result = fairness(
        [1, 0, 1, 0, 1, 0, 1, 0, 0],
        [0.9, 0.6, 0.8, 0.1, 0.7, 0.4, 0.3, 0.2, 0.1],
        ["a"] * 4 + ["b"] * 5,
    )

    assert set(BEST_GROUP) == set(GROUP_METRICS)
    assert result.reference == BEST_GROUP


def test_the_fpr_ratio_is_the_best_fpr_over_the_groups_as_fairlearns() -> None:
    # Negatives of a, b, c score 0.1, then 0.1/0.1/0.1/0.9, then 0.9: FPRs 0, 0.25 and 1.
    labels = [1, 0, 1, 0, 0, 0, 0, 1, 0]
    scores = [0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9]
    groups = ["a", "a", "b", "b", "b", "b", "b", "c", "c"]

    result = fairness(labels, scores, groups)

    fpr = {g.group: g.metrics["fpr"] for g in result.groups}
    ratio = {g.group: g.ratios["fpr"] for g in result.groups}
    assert fpr == {"a": 0.0, "b": 0.25, "c": 1.0}
    # The best group has no false positive: any group with some is infinitely worse.
    assert ratio == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert result.reference["fpr"] == "a"
    assert result.metrics["min_ratio_fpr"] == 0.0 and result.metrics["max_gap_fpr"] == 1.0
    without_a = fairness(labels[2:], scores[2:], groups[2:])
    assert without_a.metrics["min_ratio_fpr"] == 0.25  # an FPR four times the best
    assert without_a.metrics["max_gap_fpr"] == 0.75


def test_groups_that_share_the_worst_fpr_have_ratio_one() -> None:
    # Every negative scores above the threshold: FPR 1 everywhere, 1 - best = 0.
    result = fairness([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6], ["a", "a", "b", "b"])

    assert [g.ratios["fpr"] for g in result.groups] == [1.0, 1.0]
    assert (result.metrics["min_ratio_fpr"], result.metrics["max_gap_fpr"]) == (1.0, 0.0)


def test_document_shape_and_a_worked_example() -> None:
    result = fairness(LABELS, SCORES, REGIONS, attribute="region", label="v3")

    document = result.to_dict()
    assert isinstance(result, FairnessResult)
    assert list(document) == [
        "kind",
        "label",
        "n",
        "weighted",
        "metrics",
        "attribute",
        "threshold",
        "groups",
        "reference",
    ]
    assert (document["kind"], document["attribute"], document["threshold"]) == (
        "fairness",
        "region",
        0.5,
    )
    north, south = document["groups"]
    # north: scores 0.9, 0.8 (positives) and 0.2, 0.6 (negatives) -> tp 2, fp 1
    # south: scores 0.7, 0.3 (positives) and 0.1, 0.4 (negatives) -> tp 1, fp 0
    assert north["metrics"] == {
        "tpr": 1.0,
        "fpr": 0.5,
        "precision": 2 / 3,
        "ppr": 0.75,
        "accuracy": 0.75,
        "auroc": 1.0,
        "aupr": 1.0,
        "log_loss": pytest.approx(-np.log([0.9, 0.8, 0.8, 0.4]).mean()),
        "brier": pytest.approx((0.1**2 + 0.2**2 + 0.2**2 + 0.6**2) / 4),
    }
    assert south["metrics"] == {
        "tpr": 0.5,
        "fpr": 0.0,
        "precision": 1.0,
        "ppr": 0.25,
        "accuracy": 0.75,
        "auroc": 0.75,
        "aupr": pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3),  # positives reached at 0.7 and 0.3
        "log_loss": pytest.approx(-np.log([0.7, 0.9, 0.3, 0.6]).mean()),
        "brier": pytest.approx((0.3**2 + 0.1**2 + 0.7**2 + 0.4**2) / 4),
    }
    assert document["reference"] == {
        "tpr": "north",
        "fpr": "south",
        "precision": "south",
        "ppr": "north",
        "accuracy": "north",
        "auroc": "north",
        "aupr": "north",
        "log_loss": "north",
        "brier": "north",
    }
    assert south["gaps"]["tpr"] == -0.5
    assert south["gaps"]["brier"] == pytest.approx(0.1875 - 0.1125)
    assert south["ratios"]["ppr"] == pytest.approx(1 / 3)
    assert north["ratios"]["fpr"] == 0.0  # south has no false positive, north has
    assert set(north["ratios"]) == set(RATIO_METRICS)
    assert "log_loss" not in north["ratios"] and "brier" not in north["ratios"]
    assert (north["n"], north["positives"], north["skipped"]) == (4, 2.0, False)
    assert type(north["positives"]) is float
    assert document["metrics"] == {
        "max_gap_tpr": 0.5,
        "min_ratio_tpr": 0.5,
        "max_gap_fpr": 0.5,
        "min_ratio_fpr": 0.0,
        "max_gap_precision": pytest.approx(1 / 3),
        "min_ratio_precision": pytest.approx(2 / 3),
        "max_gap_ppr": 0.5,
        "min_ratio_ppr": pytest.approx(1 / 3),
    }


def test_small_groups_are_skipped_and_left_out_of_the_reference() -> None:
    result = fairness(
        [*LABELS, 1], [*SCORES, 0.95], [*REGIONS, "west"], min_group_size=2, threshold=0.35
    )

    west = result.groups[-1]
    assert (west.group, west.n, west.positives, west.skipped) == ("west", 1, 1.0, True)
    assert west.to_dict()["metrics"] == {}
    assert "west" not in result.reference.values()


def test_undefined_rates_are_none_not_nan() -> None:
    # group b holds only negatives: no tpr, auroc or aupr; nothing predicted positive: no
    # precision. Its losses are still defined. Group c holds only positives: precision is 1
    # at every threshold, so its aupr is 1 (as sklearn's), but it has no auroc.
    result = fairness(
        [1, 0, 0, 0, 1, 1], [0.9, 0.1, 0.2, 0.3, 0.2, 0.6], ["a", "a", "b", "b", "c", "c"]
    )

    b, c = result.groups[1].metrics, result.groups[2].metrics
    assert (b["tpr"], b["precision"], b["auroc"], b["aupr"], b["fpr"]) == (
        None,
        None,
        None,
        None,
        0.0,
    )
    assert b["brier"] == pytest.approx((0.2**2 + 0.3**2) / 2)
    assert b["log_loss"] == pytest.approx(-np.log([0.8, 0.7]).mean())
    assert (c["fpr"], c["auroc"], c["aupr"]) == (None, None, 1.0)
    assert result.groups[1].gaps["tpr"] is None and result.groups[1].ratios["aupr"] is None
    json.dumps(result.to_dict(), allow_nan=False)


def test_group_values_are_rendered_as_text() -> None:
    result = fairness(LABELS, SCORES, [1, 1, 1, 1, 2, 2, 2, 2], sample_weight=[1] * 8)

    assert [g.group for g in result.groups] == ["1", "2"]
    assert result.weighted
    assert result.attribute is None


def _refused(match: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(InvalidDataError, match=match):
        fairness(*args, **kwargs)


def test_groups_of_another_length_are_named() -> None:
    _refused(r"y_true has 8, y_score has 8, groups has 7 value", LABELS, SCORES, REGIONS[:7])


def test_missing_group_values_are_counted() -> None:
    regions: list[Any] = [*REGIONS]
    regions[2], regions[5] = None, float("nan")
    _refused(
        r"groups must not have missing values; 2 of 8 value\(s\) .* \[2, 5\]",
        LABELS,
        SCORES,
        regions,
    )
    _refused(r"groups must not have missing values; 1 of 8", LABELS, SCORES, [1.0] * 7 + [np.nan])


def test_bad_labels_and_scores_are_refused() -> None:
    _refused(
        r"y_true must hold two classes .* 1 value\(s\) are neither",
        [2, *LABELS[1:]],
        SCORES,
        REGIONS,
    )
    _refused(r"y_true holds a single class: all 8 label\(s\)", [1] * 8, SCORES, REGIONS)
    _refused(r"y_score must be finite; 1 of 8", LABELS, [np.nan, *SCORES[1:]], REGIONS)
    _refused(
        r"y_score must be probabilities in \[0, 1\]; 1 of 8", LABELS, [1.5, *SCORES[1:]], REGIONS
    )
    _refused(r"y_true is empty", [], [], [])


def test_bad_settings_are_refused() -> None:
    _refused(r"threshold must be within \[0, 1\]", LABELS, SCORES, REGIONS, threshold=1.5)
    _refused(r"min_group_size must be at least 1, got 0", LABELS, SCORES, REGIONS, min_group_size=0)
    _refused(r"sample_weight has 2, y_true has 8", LABELS, SCORES, REGIONS, sample_weight=[1, 2])


def test_the_package_exports_the_functions_not_modules_of_the_same_name() -> None:
    code = (
        "from aimops.monitors import FairnessResult, Comparison, fairness, compare; "
        "print(callable(fairness) and callable(compare))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "True"
