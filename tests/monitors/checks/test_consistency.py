"""Feature consistency: TFDV's skew distances per feature, the keyed match rate, clear errors."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from aimops.errors import InvalidDataError
from aimops.monitors.checks import consistency
from aimops.monitors.checks.consistency import check_feature_consistency
from aimops.monitors.checks.registry import check_kinds


def test_docstring_examples_run() -> None:
    assert doctest.testmod(consistency).failed == 0


def test_numeric_score_is_scipys_jensen_shannon_distance_on_training_deciles() -> None:
    rng = np.random.default_rng(7)
    training = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
    serving = pd.DataFrame({"x": rng.normal(0.5, 1.3, 1500)})
    result = check_feature_consistency(training, serving)
    edges = np.quantile(training["x"], np.linspace(0.1, 0.9, 9))
    p = np.bincount(np.digitize(training["x"], edges), minlength=10) / 2000
    q = np.bincount(np.digitize(serving["x"], edges), minlength=10) / 1500
    feature = result.features["x"]
    assert feature.method == "jensenshannon"
    assert feature.score == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert feature.skewed and result.status == "fail"


def test_same_distribution_passes_and_out_of_range_values_count_in_the_end_buckets() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, 5000)
    same = check_feature_consistency(
        pd.DataFrame({"x": values[:2500]}), pd.DataFrame({"x": values[2500:]})
    )
    assert same.status == "pass" and same.features["x"].score < 0.05
    shifted = check_feature_consistency(
        pd.DataFrame({"x": values}), pd.DataFrame({"x": values + 100.0})
    )
    # every serving value lands in the top bucket, which holds 10% of training
    expected = jensenshannon(np.full(10, 0.1), np.eye(10)[9], base=2)
    assert shifted.features["x"].score == pytest.approx(expected)


def test_categorical_score_is_the_l_infinity_distance_of_the_frequencies() -> None:
    training = pd.DataFrame({"city": (["a"] * 5 + ["b"] * 3 + ["c"] * 2) * 20})
    serving = pd.DataFrame({"city": (["a"] * 2 + ["b"] * 4 + ["d"] * 4) * 20})
    # shares a: .5 vs .2, b: .3 vs .4, c: .2 vs 0, d: 0 vs .4 -> largest gap 0.4
    feature = check_feature_consistency(training, serving).features["city"]
    assert feature.method == "linf"
    assert feature.score == pytest.approx(0.4)
    assert feature.skewed and feature.match_rate is None
    # the same shares in 10 values a side: as far apart, but 10 values are within chance
    few = check_feature_consistency(training[:10], serving[:10]).features["city"]
    assert few.score == pytest.approx(0.4) and few.skewed is None
    assert few.inconclusive is not None and "finds no difference" in few.inconclusive


def test_thresholds_per_feature_and_warn_status() -> None:
    training = pd.DataFrame({"city": ["a", "a", "b", "b"] * 20})
    serving = pd.DataFrame({"city": ["a", "b", "b", "b"] * 20})
    lenient = check_feature_consistency(training, serving, thresholds={"city": 0.3})
    assert lenient.status == "pass" and lenient.features["city"].threshold == 0.3
    warned = check_feature_consistency(training, serving, skew_status="warn")
    assert warned.status == "warn" and warned.skewed_features == ["city"]


def test_key_join_gives_exact_match_rates_and_key_counts() -> None:
    training = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "amount": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
            "city": ["a", "b", None, "d", "e", "f"],
        }
    )
    serving = pd.DataFrame(
        {
            "id": [5, 4, 3, 2, 1, 7],
            "amount": [5.0 * (1 + 1e-12), 4.5, np.nan, 2.0, 1.0, 9.0],
            "city": ["e", "d", None, "x", "a", "g"],
        }
    )
    result = check_feature_consistency(
        training, serving, key="id", thresholds={"amount": 1.0, "city": 1.0}
    )
    assert result.join is not None
    assert (result.join.matched, result.join.missing_in_serving) == (5, 1)
    assert result.join.missing_in_training == 1
    # of ids 1..5: amount differs only for 4 (NaN == NaN, 1e-12 relative is equal)
    assert result.features["amount"].match_rate == pytest.approx(4 / 5)
    assert result.features["city"].match_rate == pytest.approx(4 / 5)
    assert result.metrics["match_rate_min"] == pytest.approx(0.8)
    assert result.status == "fail"  # below min_match_rate 0.99 even though distributions pass
    relaxed = check_feature_consistency(
        training, serving, key="id", thresholds={"amount": 1.0, "city": 1.0}, min_match_rate=0.8
    )
    # a match rate met on 5 joined rows (and 5 values a side) clears nothing
    assert relaxed.status == "inconclusive" and relaxed.skewed_features == []
    assert "4 of 5 joined rows match, too few to rule skew out" in str(
        relaxed.features["city"].inconclusive
    )


def test_to_dict_is_json_and_follows_the_check_contract() -> None:
    frame = pd.DataFrame({"id": range(40), "x": np.arange(40.0), "c": ["a", "b"] * 20})
    result = check_feature_consistency(frame, frame, key="id")
    document = json.loads(json.dumps(result.to_dict()))
    assert result.kind in check_kinds() and document["kind"] == "feature_consistency"
    assert document["status"] == "pass"
    assert document["metrics"] == {"skewed_features": 0.0, "max_score": 0.0, "match_rate_min": 1.0}
    assert document["features"]["c"]["method"] == "linf"


@pytest.mark.parametrize(
    ("training", "serving", "options", "message"),
    [
        (pd.DataFrame(), pd.DataFrame({"x": [1.0]}), {}, "training is empty"),
        (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"y": [1.0]}), {}, "'x'"),
        (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": ["a"]}), {}, "column 'x' holds numbers"),
        (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]}), {"key": "id"}, "'id'"),
        (
            pd.DataFrame({"id": [1, 1], "x": [1.0, 2.0]}),
            pd.DataFrame({"id": [1, 2], "x": [1.0, 2.0]}),
            {"key": "id"},
            "key column 'id' has duplicate",
        ),
        (
            pd.DataFrame({"id": [1], "x": [1.0]}),
            pd.DataFrame({"id": [2], "x": [1.0]}),
            {"key": "id"},
            "no value in both",
        ),
        (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]}), {"features": ["z"]}, "'z'"),
        (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]}), {"thresholds": {"x": -1}}, "'x'"),
    ],
)
def test_bad_input_names_the_column(
    training: pd.DataFrame, serving: pd.DataFrame, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidDataError, match=message):
        check_feature_consistency(training, serving, **options)


@pytest.mark.parametrize(
    ("training_values", "serving_values"),
    [
        ([0.0] * 200, [1.0] * 200),  # a constant feature that moved
        ([0.0] * 190 + [1.0] * 10, [1.0] * 200),  # 95% zeros in training, all ones in serving
        ([5.0] * 200, [5.0] * 100 + [7.0] * 100),  # half of serving moved off the constant
    ],
    ids=["constant moved", "near-constant moved", "half moved"],
)
def test_a_constant_or_near_constant_feature_that_moved_is_skewed(
    training_values: list[float], serving_values: list[float]
) -> None:
    training = pd.DataFrame({"flag": training_values, "x": np.arange(200.0)})
    serving = pd.DataFrame({"flag": serving_values, "x": np.arange(len(serving_values)) * 1.0})
    result = check_feature_consistency(training, serving)
    assert result.skewed_features == ["flag"], result.to_dict()
    assert result.status == "fail"


def test_a_constant_feature_that_stayed_is_not_skewed() -> None:
    training = pd.DataFrame({"flag": [0.0] * 200})
    serving = pd.DataFrame({"flag": [0.0] * 150})
    assert check_feature_consistency(training, serving).skewed_features == []
