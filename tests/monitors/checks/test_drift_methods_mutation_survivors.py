"""Drift methods: the rules each method judges a score by, and the edges of their definitions
that the comparisons with scipy did not reach. (Found by ``make mutation``.)"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2, wasserstein_distance

from aimops.monitors.checks.drift_columns import column_values
from aimops.monitors.checks.drift_methods import DRIFT_METHODS

NUMERICAL, CATEGORICAL = frozenset({"numerical"}), frozenset({"categorical"})


@pytest.mark.parametrize(
    ("name", "kinds", "threshold", "rule", "min_values"),
    [
        ("wasserstein", NUMERICAL, 0.1, "distance", 500),
        ("jensenshannon", NUMERICAL | CATEGORICAL, 0.1, "distance", 300),
        ("ks", NUMERICAL, 0.05, "p<=", None),
        ("chisquare", CATEGORICAL, 0.05, "p<", None),
        ("z", CATEGORICAL, 0.05, "p<", None),
    ],
)
def test_each_method_has_evidentlys_kinds_threshold_and_rule(
    name: str, kinds: frozenset[str], threshold: float, rule: str, min_values: int | None
) -> None:
    method = DRIFT_METHODS[name]
    assert (method.name, method.kinds, method.default_threshold, method.rule) == (
        name,
        kinds,
        threshold,
        rule,
    )
    if min_values is not None:
        assert method.min_values_for_drift == min_values
    with pytest.raises(dataclasses.FrozenInstanceError):
        method.default_threshold = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "below", "at", "above"),
    [
        ("wasserstein", False, True, True),  # a distance: drift from the threshold up
        ("jensenshannon", False, True, True),
        ("ks", True, True, False),  # a p-value: drift at the threshold and below
        ("chisquare", True, False, False),  # a p-value: drift strictly below
        ("z", True, False, False),
    ],
)
def test_a_score_at_the_threshold_is_judged_as_evidently_judges_it(
    name: str, below: bool, at: bool, above: bool
) -> None:
    method = DRIFT_METHODS[name]
    assert [method.drifted(score, 0.05) for score in (0.04, 0.05, 0.06)] == [below, at, above]


def _js_per_value(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> float:
    keys = pd.unique(np.concatenate([ref, cur]))
    ref_shares = pd.Series(ref).value_counts().reindex(keys, fill_value=0) / len(ref)
    cur_shares = pd.Series(cur).value_counts().reindex(keys, fill_value=0) / len(cur)
    return float(jensenshannon(np.asarray(ref_shares), np.asarray(cur_shares)))


def _js_binned(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> float:
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    ref_shares = np.histogram(ref, edges)[0] / len(ref)
    cur_shares = np.histogram(cur, edges)[0] / len(cur)
    return float(jensenshannon(ref_shares, cur_shares))


@pytest.mark.parametrize(("distinct", "binned"), [(20, False), (21, True)])
def test_a_reference_of_more_than_20_values_is_binned_by_sturges_rule(
    distinct: int, binned: bool
) -> None:
    ref = np.tile(np.arange(distinct, dtype=float), 50)
    cur = np.tile(np.arange(distinct, dtype=float) + 0.5, 40)[: 40 * distinct - 7]
    expected = _js_binned(ref, cur) if binned else _js_per_value(ref, cur)
    assert _js_binned(ref, cur) != pytest.approx(_js_per_value(ref, cur))  # they differ here
    score = DRIFT_METHODS["jensenshannon"].score(column_values(ref, cur), "numerical")
    assert score == pytest.approx(expected, rel=1e-9)


def test_a_near_constant_reference_is_normalised_by_the_floor_not_its_spread() -> None:
    ref = np.array([1.0] * 50 + [1.00001])  # a spread far below 0.001
    cur = ref + 0.01
    score = DRIFT_METHODS["wasserstein"].score(column_values(ref, cur), "numerical")
    assert np.std(ref) < 0.001
    assert score == pytest.approx(wasserstein_distance(ref, cur) / 0.001, rel=1e-6)
    assert score == pytest.approx(10.0, rel=1e-3)


def test_chi_square_of_two_values_and_of_one() -> None:
    ref = np.array(["a"] * 60 + ["b"] * 40, dtype=object)
    cur = np.array(["a"] * 30 + ["b"] * 70, dtype=object)
    expected = np.array([60.0, 40.0])
    statistic = (((np.array([30.0, 70.0]) - expected) ** 2) / expected).sum()
    score = DRIFT_METHODS["chisquare"].score(column_values(ref, cur), "categorical")
    assert score == pytest.approx(chi2.sf(statistic, 1), rel=1e-9)
    assert score < 0.05
    same = column_values(np.array(["a"] * 5, dtype=object), np.array(["a"] * 3, dtype=object))
    assert DRIFT_METHODS["chisquare"].score(same, "categorical") == 1.0


def test_a_constant_column_of_huge_numbers_that_moved_has_drifted() -> None:
    """Numbers near the float limit are scaled down (a power of two) before squaring; the
    floor of the spread must be scaled with them."""
    values = column_values(np.full(50, 1e200), np.full(40, 1.5e200))
    assert values.numbers().unit != 1.0
    method = DRIFT_METHODS["wasserstein"]
    assert method.drifted(method.score(values, "numerical"), method.default_threshold)
