"""Regression evaluation equals scikit-learn's metrics and refuses bad input clearly."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as sk

from aimops.errors import InvalidDataError
from aimops.monitors import RegressionEvaluation, evaluate_regression
from aimops.monitors.evaluation.regression import RESIDUAL_QUANTILES

# Values on a coarse grid repeat often (ties, constant columns); free floats test the rest.
VALUES = st.integers(-40, 40).map(lambda value: value / 8) | st.floats(-1e4, 1e4)
WEIGHTS = st.sampled_from([0.0, 0.25, 1.0, 3.0]) | st.floats(0.01, 100.0)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    n = draw(st.integers(1, 40))
    truth = draw(arrays(np.float64, n, elements=VALUES))
    predicted = draw(arrays(np.float64, n, elements=VALUES))
    weights = draw(st.none() | arrays(np.float64, n, elements=WEIGHTS))
    assume(weights is None or weights.any())
    return truth, predicted, weights


def _is_plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(key) is str and _is_plain_json(item) for key, item in value.items())
    return value is None or type(value) in (str, int, float, bool)


def _close(actual: float, expected: float) -> bool:
    return actual == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_metrics_equal_sklearn(case: tuple[np.ndarray, np.ndarray, Any]) -> None:
    truth, predicted, weights = case
    result = evaluate_regression(truth, predicted, sample_weight=weights)

    expected = {
        "mse": sk.mean_squared_error(truth, predicted, sample_weight=weights),
        "rmse": sk.root_mean_squared_error(truth, predicted, sample_weight=weights),
        "mae": sk.mean_absolute_error(truth, predicted, sample_weight=weights),
        "mean_residual": np.average(truth - predicted, weights=weights),
    }
    if weights is None:
        expected["max_error"] = sk.max_error(truth, predicted)
    counted = truth if weights is None else truth[weights > 0]
    if counted.min() != counted.max():  # sklearn's mean of equal values may round: see below
        expected["explained_variance"] = sk.explained_variance_score(
            truth, predicted, sample_weight=weights
        )
        if len(truth) > 1:
            expected["r2"] = sk.r2_score(truth, predicted, sample_weight=weights)
    for name, value in expected.items():
        assert _close(result.metrics[name], value), name
    assert ("max_error" in result.metrics) is (weights is None)
    assert ("r2" in result.metrics) is (len(truth) > 1)
    document = result.to_dict()
    assert _is_plain_json(document)
    json.dumps(document, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_unweighted_quantiles_are_numpys(case: tuple[np.ndarray, np.ndarray, Any]) -> None:
    truth, predicted, _ = case
    result = evaluate_regression(truth, predicted)

    expected = np.quantile(truth - predicted, RESIDUAL_QUANTILES)
    keys = ["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"]
    assert list(result.residual_quantiles) == keys
    np.testing.assert_allclose(list(result.residual_quantiles.values()), expected, atol=1e-9)


def _quantiles_of(residuals: Any, weights: Any = None) -> list[float]:
    zeros = np.zeros(len(residuals))
    return list(
        evaluate_regression(residuals, zeros, sample_weight=weights).residual_quantiles.values()
    )


@settings(max_examples=60, deadline=None)
@given(cases())
def test_weighted_quantiles_are_numpys_inverted_cdf(
    case: tuple[np.ndarray, np.ndarray, Any],
) -> None:
    truth, predicted, weights = case
    assume(weights is not None and weights.sum() > 0)
    residuals = truth - predicted
    weighted = evaluate_regression(truth, predicted, sample_weight=weights).residual_quantiles
    expected = np.quantile(residuals, RESIDUAL_QUANTILES, weights=weights, method="inverted_cdf")
    np.testing.assert_allclose(list(weighted.values()), expected, atol=1e-9)
    # Only the weights' proportions count (scaled exactly, by a power of two: the quantile
    # jumps where a cumulative share meets q, so a scale that rounds could cross a jump).
    scaled = evaluate_regression(truth, predicted, sample_weight=weights / 64)
    assert scaled.residual_quantiles == weighted
    order = np.random.default_rng(len(truth)).permutation(len(truth))
    shuffled = evaluate_regression(truth[order], predicted[order], sample_weight=weights[order])
    assert shuffled.residual_quantiles == weighted


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(VALUES, st.integers(0, 5)), min_size=1, max_size=30).filter(
        lambda rows: any(times for _, times in rows)
    )
)
def test_whole_weights_equal_repeated_rows(rows: list[tuple[float, int]]) -> None:
    residuals = np.array([value for value, _ in rows])
    times = np.array([count for _, count in rows])

    weighted = _quantiles_of(residuals, times.astype(float))

    repeated = np.quantile(np.repeat(residuals, times), RESIDUAL_QUANTILES, method="inverted_cdf")
    np.testing.assert_allclose(weighted, repeated, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("residuals", "weights", "median"),
    [
        ([0.0, 1.0], [1, 1000], 1.0),  # nearly all the weight on 1
        ([0.0, 1.0], [1000, 1], 0.0),
        ([0.0, 1.0], [2, 1], 0.0),  # as 0, 0, 1
        ([0.0, 1.0], [1, 2], 1.0),  # as 0, 1, 1
        ([1.0, 0.0], [2, 1], 1.0),  # the order of the rows does not matter
        ([0.0, 1.0], [0.001, 0.002], 1.0),  # nor the scale of the weights
    ],
)
def test_lopsided_weights_pull_the_median(
    residuals: list[float], weights: list[float], median: float
) -> None:
    assert _quantiles_of(residuals, weights)[RESIDUAL_QUANTILES.index(0.5)] == median


def test_zero_weights_drop_out() -> None:
    with_zeros = _quantiles_of([-50.0, 0.0, 7.0, 10.0, 99.0], [0, 1, 0, 3, 0])

    assert with_zeros == _quantiles_of([0.0, 10.0], [1, 3])


def test_one_row_of_weight_is_every_quantile() -> None:
    result = evaluate_regression([1.0, 5.0], [0.0, 0.0], sample_weight=[0.0, 2.0])

    assert set(result.residual_quantiles.values()) == {5.0}


@pytest.mark.parametrize(
    ("truth", "predicted", "expected"),
    [
        ([0.1, 0.1, 0.1], [0.1, 0.1, 0.1], 1.0),
        ([0.1, 0.1, 0.1], [0.1, 0.2, 0.1], 0.0),
        ([2.0, 2.0], [1.0, 3.0], 0.0),
    ],
)
def test_r2_of_a_constant_truth_is_forced_finite(
    truth: list[float], predicted: list[float], expected: float
) -> None:
    result = evaluate_regression(truth, predicted)

    assert result.metrics["r2"] == expected
    assert result.metrics["explained_variance"] == (1.0 if expected else 0.0)
    if truth[0] == 2.0:  # a mean that rounds exactly: sklearn agrees
        assert sk.r2_score(truth, predicted) == expected


def test_document_shape() -> None:
    result = evaluate_regression([3.0, 5.0, 2.5, 7.0], [2.5, 5.0, 3.0, 8.0], label="v1")

    document = result.to_dict()
    assert isinstance(result, RegressionEvaluation)
    assert list(document) == ["kind", "label", "n", "weighted", "metrics", "residual_quantiles"]
    assert (document["kind"], document["label"], document["n"]) == ("regression", "v1", 4)
    assert list(document["metrics"]) == [
        "rmse", "mse", "mae", "r2", "explained_variance", "max_error", "mean_residual",
    ]  # fmt: skip
    assert document["metrics"]["mean_residual"] == -0.25


def test_a_single_row_leaves_r2_out() -> None:
    result = evaluate_regression([3.0], [2.0])

    assert "r2" not in result.metrics
    assert result.metrics["rmse"] == 1.0


def _refused(match: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(InvalidDataError, match=match):
        evaluate_regression(*args, **kwargs)


def test_bad_inputs_say_which_and_how_many() -> None:
    _refused(r"inputs differ in length: y_true has 3, y_pred has 2", [1, 2, 3], [1, 2])
    _refused(
        r"y_pred must be finite; 2 of 4 value\(s\) are NaN or infinite, e.g. \[nan, inf\]",
        [1, 2, 3, 4],
        [1, np.nan, np.inf, 4],
    )
    _refused(r"y_true must be finite; 1 of 2", [-np.inf, 1.0], [1, 2])
    _refused(r"y_true must hold numbers", ["a", "b"], [1, 2])
    _refused(r"y_true is empty", [], [])
    _refused(r"y_pred must be one-dimensional", [1, 2], [[1, 2], [3, 4]])
    _refused(r"sample_weight has 1, y_true has 2", [1, 2], [1, 2], sample_weight=[1])
    _refused(r"sample_weight is zero everywhere", [1, 2], [1, 2], sample_weight=[0, 0])
    _refused(r"too large to square in float64", [1e200, 0.0], [-1e200, 0.0])
