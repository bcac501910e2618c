"""Drift methods on prepared columns: each piece against scipy's, numpy's or pandas' definition.

check_drift's agreement with Evidently itself is in test_drift.py; these tests cover the edge
cases of how aimops gets there (sorted runs, merged blocks, distinct values, counts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2, ks_2samp, norm, wasserstein_distance

from aimops.errors import InvalidDataError
from aimops.monitors.checks import drift_columns
from aimops.monitors.checks.drift_columns import (
    MERGE_BLOCK,
    CountedValues,
    SortedNumbers,
    column_values,
    count_distinct_sorted,
    distinct_sorted,
    histogram_sorted,
    wasserstein_by_merge,
    wasserstein_over_distinct,
)
from aimops.monitors.checks.drift_methods import DRIFT_METHODS, default_method

Pair = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]
RNG = np.random.default_rng(2026)

NUMBER_PAIRS: dict[str, Callable[[], Pair]] = {
    "continuous, sizes differ": lambda: (RNG.normal(0, 1, 3000), RNG.normal(0.3, 1.2, 2001)),
    "several merge blocks": lambda: (
        RNG.lognormal(0, 1, 2 * MERGE_BLOCK),
        RNG.lognormal(0.1, 1, MERGE_BLOCK + 123),
    ),
    "blocks end at the last value": lambda: (
        RNG.normal(0, 1, MERGE_BLOCK),
        RNG.normal(0, 1, MERGE_BLOCK + 1),
    ),
    "last block of one term": lambda: (
        RNG.normal(0, 1, MERGE_BLOCK),
        RNG.normal(0, 1, MERGE_BLOCK + 2),
    ),
    "many ties": lambda: (
        RNG.integers(0, 30, 5000).astype(float),
        RNG.integers(5, 40, 4000).astype(float),
    ),
    "ties across frames": lambda: (
        RNG.normal(5, 1, 6000).round(1),
        RNG.normal(5.4, 1, 5000).round(1),
    ),
    "one constant each": lambda: (np.full(10, 2.0), np.full(7, 5.0)),
    "the same constant": lambda: (np.full(5, 1.5), np.full(3, 1.5)),
    "one value each": lambda: (np.array([1.0]), np.array([3.0])),
    "negative and positive zeros": lambda: (
        np.array([-0.0, 0.0, 1.0, -0.0, 3.0]),
        np.array([0.0, 0.0, 2.0, -0.0]),
    ),
    "few values in ref, many in cur": lambda: (
        RNG.choice([1.0, 2.0, 3.0], 5000),
        RNG.normal(2, 1, 4000),
    ),
    "large magnitudes": lambda: (RNG.normal(1e12, 1e6, 2000), RNG.normal(1e12 + 5e5, 1e6, 1500)),
    "integers": lambda: (RNG.integers(-50, 50, 3000), RNG.integers(-40, 60, 2500)),
}


def _sorted(pair: Pair) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    ref, cur = pair
    return np.sort(ref).astype(float), np.sort(cur).astype(float)


@pytest.mark.parametrize("case", list(NUMBER_PAIRS))
def test_wasserstein_equals_scipys_by_both_routes(case: str) -> None:
    ref, cur = NUMBER_PAIRS[case]()
    expected = wasserstein_distance(ref, cur)
    ref_sorted, cur_sorted = _sorted((ref, cur))

    merged = wasserstein_by_merge(np.concatenate([ref_sorted, cur_sorted]), len(ref))
    walked = wasserstein_over_distinct(ref_sorted, cur_sorted)
    chosen = SortedNumbers(ref, cur).wasserstein_distance()

    for value in (merged, walked, chosen):
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_wasserstein_walks_distinct_values_only_when_values_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes: list[str] = []
    monkeypatch.setattr(
        drift_columns, "wasserstein_by_merge", lambda *_: routes.append("merge") or 0.0
    )
    monkeypatch.setattr(
        drift_columns, "wasserstein_over_distinct", lambda *_: routes.append("walk") or 0.0
    )

    SortedNumbers(*NUMBER_PAIRS["continuous, sizes differ"]()).wasserstein_distance()
    SortedNumbers(*NUMBER_PAIRS["many ties"]()).wasserstein_distance()

    assert routes == ["merge", "walk"]


@pytest.mark.parametrize("case", list(NUMBER_PAIRS))
def test_distinct_values_and_counts_equal_pandas(case: str) -> None:
    ref, cur = NUMBER_PAIRS[case]()
    both = np.concatenate([ref, cur]).astype(float)
    values = SortedNumbers(ref, cur)
    uniques, ref_counts, cur_counts = values.value_counts()

    assert count_distinct_sorted(np.sort(ref)) == len(pd.unique(ref))
    assert len(distinct_sorted(np.sort(both))) == len(pd.unique(both))
    for limit in (0, 1, 2, 5, 20, 10**9):
        assert values.distinct_up_to(limit) == min(len(pd.unique(both)), limit + 1)
    expected = pd.Series(both).value_counts().sort_index()
    assert uniques.tolist() == expected.index.tolist()
    assert (ref_counts + cur_counts).tolist() == expected.tolist()
    assert ref_counts.tolist() == [np.sum(ref == value) for value in uniques]


def test_distinct_values_of_nothing() -> None:
    assert count_distinct_sorted(np.array([])) == 0
    assert len(distinct_sorted(np.array([]))) == 0


@pytest.mark.parametrize(
    "case", ["continuous, sizes differ", "ties across frames", "integers", "large magnitudes"]
)
def test_histogram_counts_equal_numpys(case: str) -> None:
    ref, cur = NUMBER_PAIRS[case]()
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]).astype(float), bins="sturges")
    ref_sorted, cur_sorted = _sorted((ref, cur))

    assert histogram_sorted(ref_sorted, edges).tolist() == np.histogram(ref, edges)[0].tolist()
    assert histogram_sorted(cur_sorted, edges).tolist() == np.histogram(cur, edges)[0].tolist()


def test_histogram_counts_values_on_the_edges_as_numpy_does() -> None:
    values = np.arange(0.0, 101.0)
    edges = np.linspace(0.0, 100.0, 11)

    assert histogram_sorted(values, edges).tolist() == np.histogram(values, edges)[0].tolist()


def test_numbers_drop_missing_and_infinite_values_and_are_not_changed() -> None:
    ref = np.array([3.0, np.nan, 1.0, np.inf, 2.0])
    cur = np.array([-np.inf, 5, 4])

    values = column_values(ref, cur)

    assert isinstance(values, SortedNumbers)
    assert (values.n_ref, values.n_cur) == (3, 2)
    assert values.ref.tolist() == [1.0, 2.0, 3.0] and values.cur.tolist() == [4.0, 5.0]
    assert np.isnan(ref[1]) and ref[0] == 3.0  # the caller's array is left alone


def _factorized(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> tuple[list[Any], ...]:
    """The earlier definition: pandas' factorize of both present values together."""
    present_ref = ref[pd.notna(ref)]
    present_cur = cur[pd.notna(cur)]
    codes, uniques = pd.factorize(np.concatenate([present_ref, present_cur]))
    size = len(uniques)
    ref_counts = np.bincount(codes[: len(present_ref)], minlength=size)
    cur_counts = np.bincount(codes[len(present_ref) :], minlength=size)
    return list(uniques), ref_counts.tolist(), cur_counts.tolist()


OTHER_PAIRS: dict[str, Callable[[], Pair]] = {
    "strings with None and NaN": lambda: (
        np.array(["b", None, "a", "b", np.nan, "c"], dtype=object),
        np.array(["a", "d", None, "d", "b"], dtype=object),
    ),
    "booleans": lambda: (RNG.random(500) < 0.3, RNG.random(400) < 0.6),
    "booleans, one value in ref": lambda: (np.ones(50, dtype=bool), RNG.random(40) < 0.5),
    "categories with NaN": lambda: (
        pd.Series(pd.Categorical(["x", None, "y", "x"])).to_numpy(),
        pd.Series(pd.Categorical(["y", "z", None], categories=["x", "y", "z"])).to_numpy(),
    ),
    "nullable booleans": lambda: (
        pd.Series([True, None, False, True], dtype="boolean").to_numpy(),
        pd.Series([None, False, False], dtype="boolean").to_numpy(),
    ),
    "nullable strings": lambda: (
        pd.Series(["a", None, "b"], dtype="string").to_numpy(),
        pd.Series(["b", "b", None, "c"], dtype="string").to_numpy(),
    ),
    "numbers and strings mixed": lambda: (
        np.array([1, "a", 2.5, "a", 1.0], dtype=object),
        np.array(["a", 3, 1], dtype=object),
    ),
}


@pytest.mark.parametrize("case", list(OTHER_PAIRS))
def test_counted_values_equal_factorize_of_both_together(case: str) -> None:
    ref, cur = OTHER_PAIRS[case]()

    values = column_values(ref, cur)

    assert isinstance(values, CountedValues)
    uniques, ref_counts, cur_counts = values.value_counts()
    expected = _factorized(ref, cur)
    assert (list(uniques), ref_counts.tolist(), cur_counts.tolist()) == expected
    assert (values.n_ref, values.n_cur) == (sum(expected[1]), sum(expected[2]))
    for limit in (1, 2, 5):
        assert values.distinct_up_to(limit) == min(len(expected[0]), limit + 1)


def test_only_missing_values_count_nothing() -> None:
    values = CountedValues(np.array(["a"], dtype=object), np.array([None, np.nan], dtype=object))

    assert (values.n_ref, values.n_cur) == (1, 0)


def _old_default(kind: str, ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> str:
    """Evidently's choice written with pandas' distinct count of both together."""
    distinct = len(pd.unique(np.concatenate([ref, cur])))
    if len(ref) <= 1000:
        if kind == "numerical" and distinct > 5:
            return "ks"
        return "z" if distinct <= 2 else "chisquare"
    return "wasserstein" if kind == "numerical" and distinct > 5 else "jensenshannon"


@pytest.mark.parametrize("rows", [1000, 1001])
@pytest.mark.parametrize("kind", ["numerical", "categorical"])
@pytest.mark.parametrize(
    "ref_values, cur_values",
    [
        ([1.0], [1.0]),
        ([1.0], [2.0]),
        ([1.0, 2.0], [3.0]),
        ([1.0, 2.0, 3.0], [4.0, 5.0]),
        ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),  # 3 + 3 distinct: 6 together
        ([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0]),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0]),
        ([-0.0, 0.0, 1.0], [0.0, 2.0]),
    ],
)
def test_default_method_matches_the_distinct_count_of_both(
    rows: int, kind: str, ref_values: list[float], cur_values: list[float]
) -> None:
    ref = np.resize(np.array(ref_values), rows)
    cur = np.resize(np.array(cur_values), 700)

    chosen = default_method(kind, column_values(ref, cur))  # type: ignore[arg-type]

    assert chosen == _old_default(kind, ref, cur)


def _js_reference(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any], kind: str) -> float:
    """Evidently's Jensen-Shannon distance: scipy's, over Sturges' bins or the distinct values."""
    if kind == "numerical" and len(pd.unique(ref)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        ref_shares = np.histogram(ref, edges)[0] / len(ref)
        cur_shares = np.histogram(cur, edges)[0] / len(cur)
    else:
        keys = pd.unique(np.concatenate([ref, cur]))
        ref_shares = pd.Series(ref).value_counts().reindex(keys, fill_value=0) / len(ref)
        cur_shares = pd.Series(cur).value_counts().reindex(keys, fill_value=0) / len(cur)
    return float(jensenshannon(np.asarray(ref_shares), np.asarray(cur_shares)))


@pytest.mark.parametrize(
    "case", ["continuous, sizes differ", "few values in ref, many in cur", "ties across frames"]
)
@pytest.mark.parametrize("kind", ["numerical", "categorical"])
def test_jensen_shannon_equals_scipys(case: str, kind: str) -> None:
    ref, cur = NUMBER_PAIRS[case]()

    score = DRIFT_METHODS["jensenshannon"].score(column_values(ref, cur), kind)  # type: ignore[arg-type]

    assert score == pytest.approx(_js_reference(ref, cur, kind), rel=1e-9, abs=1e-12)


def test_jensen_shannon_of_categories_equals_scipys() -> None:
    ref = RNG.choice(np.array(["a", "b", "c"], dtype=object), 3000, p=[0.5, 0.3, 0.2])
    cur = RNG.choice(np.array(["a", "b", "d"], dtype=object), 2000, p=[0.2, 0.3, 0.5])

    score = DRIFT_METHODS["jensenshannon"].score(column_values(ref, cur), "categorical")

    assert score == pytest.approx(_js_reference(ref, cur, "categorical"), rel=1e-9)


@pytest.mark.parametrize("case", ["continuous, sizes differ", "many ties", "integers"])
def test_ks_equals_scipys(case: str) -> None:
    ref, cur = NUMBER_PAIRS[case]()

    score = DRIFT_METHODS["ks"].score(column_values(ref, cur), "numerical")

    assert score == pytest.approx(ks_2samp(ref, cur).pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    "ref, cur",
    [
        (RNG.integers(0, 4, 800), RNG.integers(0, 4, 500)),
        (RNG.choice(np.array(["x", "y", "z"], dtype=object), 600), np.array(["z", "y"] * 50)),
    ],
)
def test_chi_square_equals_scipys(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> None:
    keys = pd.unique(np.concatenate([ref, cur]))
    ref_counts = pd.Series(ref).value_counts().reindex(keys, fill_value=0).to_numpy()
    cur_counts = pd.Series(cur).value_counts().reindex(keys, fill_value=0).to_numpy()
    expected = ref_counts * len(cur) / len(ref)
    statistic = ((cur_counts - expected) ** 2 / expected).sum()

    score = DRIFT_METHODS["chisquare"].score(column_values(ref, cur), "categorical")

    assert score == pytest.approx(chi2.sf(statistic, len(keys) - 1), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    "ref, cur",
    [
        (np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1])),
        (RNG.random(700) < 0.3, RNG.random(400) < 0.4),
        (np.array(["b", "a", "b", "b"], dtype=object), np.array(["a", "a", "b"], dtype=object)),
        (np.array([2.5, 7.0, 7.0]), np.array([7.0, 2.5, 2.5, 2.5])),
    ],
)
def test_z_test_equals_the_two_proportion_z_test(
    ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]
) -> None:
    smallest = min(pd.unique(np.concatenate([ref, cur])))
    p_ref, p_cur = np.mean(ref != smallest), np.mean(cur != smallest)
    pooled = (p_ref * len(ref) + p_cur * len(cur)) / (len(ref) + len(cur))
    z = (p_ref - p_cur) / np.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))

    score = DRIFT_METHODS["z"].score(column_values(ref, cur), "categorical")

    assert score == pytest.approx(2 * (1 - norm.cdf(abs(z))), rel=1e-9, abs=1e-300)


def test_z_test_of_one_shared_value_is_one() -> None:
    values = column_values(np.array(["a", "a"], dtype=object), np.array(["a"], dtype=object))

    assert DRIFT_METHODS["z"].score(values, "categorical") == 1.0


def test_number_methods_refuse_values_that_are_not_numbers() -> None:
    values = column_values(np.array(["a", "b"], dtype=object), np.array(["a"], dtype=object))

    with pytest.raises(InvalidDataError, match="needs numbers"):
        DRIFT_METHODS["wasserstein"].score(values, "numerical")
