"""Degenerate inputs, every check kind: the verdict a person expects, never a foreign error.

Each table row is (kind, case) and what a person expects of it: a status, or ``error: <what
the message says>`` (an aimops :class:`~aimops.errors.InvalidDataError` naming what was wrong).
Too little data is ``inconclusive``, never ``pass``; a constant that moved is drift and skew,
one that stayed is neither. Every result is sound besides: JSON without NaN, finite metrics,
a reason for every item without a verdict, and a one-line description that gives it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.errors import InvalidDataError
from aimops.monitors.checks.anomalies import detect_anomalies
from aimops.monitors.checks.base import STATUSES
from aimops.monitors.checks.consistency import check_feature_consistency
from aimops.monitors.checks.data_quality import check_data_quality
from aimops.monitors.checks.drift import check_drift
from aimops.monitors.checks.health import check_health
from aimops.monitors.checks.recording import list_checks
from aimops.monitors.checks.registry import describe_failure
from aimops.monitors.checks.sample_size import MIN_VALUES_FOR_NO_CHANGE, MIN_VALUES_TO_SCORE
from aimops.monitors.reports.check_page import render_check_report

# numpy's notes on NaN and overflow must never reach the user: aimops says what came of them
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

N = 200
RNG = np.random.default_rng(13)
NORMAL = RNG.normal(size=N)
HUGE = RNG.normal(size=2000) * 1e306
Frames = tuple[Any, Any]


def frames(reference: Any, current: Any, name: Any = "x") -> Frames:
    return pd.DataFrame({name: reference}), pd.DataFrame({name: current})


def near_constant(value: float, size: int = N) -> np.ndarray[Any, Any]:
    """95% ``value``, the rest other values."""
    rest = size // 20
    return np.r_[np.full(size - rest, value), np.arange(1.0, rest + 1) + value]


def alike_with_gaps() -> Frames:
    current = RNG.permutation(NORMAL)
    current[[3, 9, 27]] = [np.nan, np.inf, -np.inf]
    reference = NORMAL.copy()
    reference[[0, 50]] = [np.inf, np.nan]
    return frames(reference, current)


def one_column_lost_one_moved() -> Frames:
    reference = pd.DataFrame({"lost": NORMAL, "moved": np.zeros(N)})
    return reference, pd.DataFrame({"lost": np.nan, "moved": np.ones(N)}, index=range(N))


def one_column_lost_one_alike() -> Frames:
    reference = pd.DataFrame({"lost": NORMAL, "alike": np.zeros(N)})
    return reference, pd.DataFrame({"lost": np.nan, "alike": np.zeros(N)}, index=range(N))


def named_twice() -> Frames:
    reference = pd.DataFrame(np.zeros((N, 2)), columns=["x", "x"])
    return reference, reference.copy()


#: case -> (the two frames, drift's verdict, feature consistency's verdict)
PAIRS: dict[str, tuple[Callable[[], Frames], str, str]] = {
    "constant, stayed": (lambda: frames(np.zeros(N), np.zeros(N)), "pass", "pass"),
    "constant, moved": (lambda: frames(np.zeros(N), np.ones(N)), "fail", "fail"),
    "near-constant (95%), stayed": (
        lambda: frames(near_constant(0.0), RNG.permutation(near_constant(0.0))),
        "pass",
        "pass",
    ),
    "near-constant (95%), moved": (
        lambda: frames(near_constant(0.0), near_constant(1.0)),
        "fail",
        "fail",
    ),
    "constant against varied": (lambda: frames(np.zeros(N), NORMAL), "fail", "fail"),
    "varied against constant": (lambda: frames(NORMAL, np.zeros(N)), "fail", "fail"),
    "one text value, stayed": (lambda: frames(["a"] * N, ["a"] * N), "pass", "pass"),
    "one text value, moved": (lambda: frames(["a"] * N, ["b"] * N), "fail", "fail"),
    "booleans, stayed": (
        lambda: frames([True, False] * (N // 2), [False, True] * (N // 2)),
        "pass",
        "pass",
    ),
    "booleans, constant, moved": (lambda: frames([True] * N, [False] * N), "fail", "fail"),
    "all missing in both": (
        lambda: frames(np.full(N, np.nan), np.full(N, np.nan)),
        "inconclusive",
        "inconclusive",
    ),
    "all missing in current": (
        lambda: frames(NORMAL, np.full(N, np.nan)),
        "inconclusive",
        "inconclusive",
    ),
    "all missing in reference, as objects": (
        lambda: frames([None] * N, NORMAL),
        "inconclusive",
        "inconclusive",
    ),
    "all missing, nullable integers": (
        lambda: frames(pd.array([pd.NA] * N, dtype="Int64"), pd.array(range(N), dtype="Int64")),
        "inconclusive",
        "inconclusive",
    ),
    "only infinities": (
        lambda: frames(np.full(N, np.inf), np.full(N, -np.inf)),
        "inconclusive",
        "inconclusive",
    ),
    "no rows in either": (
        lambda: frames(np.array([]), np.array([])),
        "inconclusive",
        "inconclusive",
    ),
    "no rows in current": (lambda: frames(NORMAL, np.array([])), "inconclusive", "inconclusive"),
    "1 row each, different": (lambda: frames([1.0], [2.0]), "inconclusive", "inconclusive"),
    "2 rows each, different": (
        lambda: frames([1.0, 2.0], [3.0, 4.0]),
        "inconclusive",
        "inconclusive",
    ),
    "1 row against 200": (lambda: frames(NORMAL, [9.0]), "inconclusive", "inconclusive"),
    "5 rows each, alike": (
        lambda: frames([1.0, 2, 3, 4, 5], [1.5, 2, 3, 4, 6]),
        "inconclusive",
        "inconclusive",
    ),
    "5 rows each, far apart": (
        lambda: frames([1.0, 2, 3, 4, 5], [11.0, 12, 13, 14, 15]),
        "fail",
        "fail",
    ),
    "20 rows each, the same values": (
        lambda: frames(NORMAL[:20], NORMAL[:20][::-1]),
        "inconclusive",
        "inconclusive",
    ),
    "NaN and infinities among alike values": (alike_with_gaps, "pass", "pass"),
    "numbers near the float limit, alike": (
        lambda: frames(HUGE, RNG.permutation(HUGE)),
        "pass",
        "pass",
    ),
    "numbers near the float limit, spread 1.5 times": (
        lambda: frames(HUGE, HUGE * 1.5),
        "fail",
        "fail",
    ),
    "a column without values beside one that moved": (one_column_lost_one_moved, "fail", "fail"),
    "a column without values beside one alike": (
        one_column_lost_one_alike,
        "inconclusive",
        "inconclusive",
    ),
    "a column named twice": (
        named_twice,
        "error: names column(s) ['x'] more than once",
        "error: names column(s) ['x'] more than once",
    ),
    "a column in one frame only": (
        lambda: (pd.DataFrame({"x": NORMAL, "y": NORMAL}), pd.DataFrame({"x": NORMAL})),
        "error: lacks column(s) ['y']",
        "error: lacks column(s) ['y']",
    ),
    "no columns": (
        lambda: (pd.DataFrame(index=range(N)), pd.DataFrame(index=range(N))),
        "error: is empty (200 rows, 0 columns)",
        "error: is empty (200 rows, 0 columns)",
    ),
    "not a data frame": (
        lambda: (NORMAL, pd.DataFrame({"x": NORMAL})),
        "error: must be a pandas DataFrame",
        "error: must be a pandas DataFrame",
    ),
    "booleans against numbers": (
        lambda: frames([True] * N, np.ones(N)),
        "error: holds numbers",
        "error: holds numbers",
    ),
    "text against numbers": (
        lambda: frames(["1.0"] * N, np.ones(N)),
        "error: holds numbers",
        "error: holds numbers",
    ),
    "columns 1 and '1'": (
        lambda: (pd.DataFrame({1: NORMAL, "1": NORMAL}),) * 2,
        "error: have the same name as text",
        "error: have the same name as text",
    ),
    "complex numbers": (
        lambda: frames(NORMAL + 1j, NORMAL + 2j),
        "error: holds complex numbers",
        "error: holds complex numbers",
    ),
    # a drift method counts values; feature consistency compares them, which dicts allow
    "dicts, the same": (
        lambda: frames([{"a": 1}] * N, [{"a": 1}] * N),
        "error: cannot be counted",
        "pass",
    ),
}


def outcome_of(call: Callable[[], Any], expected: str) -> Any:
    """The result of ``call``, checked against ``expected`` (or the error it must raise)."""
    if expected.startswith("error: "):
        with pytest.raises(InvalidDataError, match=re.escape(expected.removeprefix("error: "))):
            call()
        return None
    result = call()
    assert result.status == expected, result.to_dict()
    assert_sound(result)
    return result


def assert_sound(result: Any) -> None:
    """JSON without NaN, finite metrics, a status a gate knows, and a one-line description
    that says why when there is no verdict."""
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["status"] in STATUSES
    assert all(math.isfinite(value) for value in result.metrics.values()), result.metrics
    line = describe_failure(result)
    assert isinstance(line, str) and line
    if result.status == "inconclusive":
        assert re.search(r"no verdict|fewer than|no requests", line), line


def assert_every_item_without_a_verdict_says_why(items: dict[str, Any], flag: str) -> None:
    for name, item in items.items():
        if getattr(item, flag) is None:
            assert item.inconclusive, name
        else:
            assert item.inconclusive is None and item.score is not None, name


@pytest.mark.parametrize("case", list(PAIRS))
def test_drift(case: str) -> None:
    make, expected, _ = PAIRS[case]
    result = outcome_of(lambda: check_drift(*make()), expected)
    if result is not None:
        assert_every_item_without_a_verdict_says_why(result.columns, "drifted")


@pytest.mark.parametrize("case", list(PAIRS))
def test_feature_consistency(case: str) -> None:
    make, _, expected = PAIRS[case]
    result = outcome_of(lambda: check_feature_consistency(*make()), expected)
    if result is not None:
        assert_every_item_without_a_verdict_says_why(result.features, "skewed")


SIZES = [MIN_VALUES_TO_SCORE - 1, MIN_VALUES_TO_SCORE, MIN_VALUES_FOR_NO_CHANGE - 1]
SIZES += [MIN_VALUES_FOR_NO_CHANGE, 200, 1000, 1001, 2000]  # 1001: distances from here on


@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize(
    ("values", "changed"),
    [
        (lambda rows: (np.zeros(rows), np.ones(rows)), True),
        (lambda rows: (np.zeros(rows), np.zeros(rows)), False),
        (lambda rows: (near_constant(0.0, rows), near_constant(5.0, rows)), True),
        (lambda rows: (["a"] * rows, ["b"] * rows), True),
    ],
    ids=["constant moved", "constant stayed", "near-constant moved", "text moved"],
)
def test_drift_and_consistency_agree_on_constants_at_every_size(
    values: Callable[[int], Frames], changed: bool, rows: int
) -> None:
    reference, current = frames(*values(rows))
    drifted = check_drift(reference, current).columns["x"].drifted
    skewed = check_feature_consistency(reference, current).features["x"].skewed
    # a change stands from 5 values a side on; "no change" needs 30
    judged = rows >= MIN_VALUES_TO_SCORE and (changed or rows >= MIN_VALUES_FOR_NO_CHANGE)
    assert drifted is skewed is (changed if judged else None)


def test_drift_keeps_the_score_of_a_column_it_cannot_judge_and_says_why() -> None:
    reference, current = frames([1.0, 2, 3, 4, 5, 6, 7, 8], [1.5, 2, 3, 4, 5, 6, 7, 9])
    column = check_drift(reference, current).columns["x"]
    assert (column.method, column.drifted, column.score) == ("ks", None, pytest.approx(1.0))
    assert column.inconclusive == (
        "no change found, but 8 values in current are too few to rule one out; 30 needed"
    )
    unscored = check_drift(*frames(NORMAL, [1.0, 2.0])).columns["x"]
    assert (unscored.score, unscored.inconclusive) == (
        None,
        "only 2 values in current; 5 needed on each side",
    )


def test_a_distance_on_a_small_current_frame_needs_a_test_behind_it() -> None:
    # 2000 reference values choose the Wasserstein distance, whose noise on 100 current values
    # often passes its threshold: a drift it finds stands only if a KS test confirms it
    reference = RNG.normal(size=2000)
    alike = check_drift(*frames(reference, RNG.normal(size=100))).columns["x"]
    assert alike.method == "wasserstein" and alike.drifted is not True
    moved = check_drift(*frames(reference, RNG.normal(size=100) + 3)).columns["x"]
    assert (moved.method, moved.drifted) == ("wasserstein", True)


def test_min_rows_still_holds_back_the_whole_verdict() -> None:
    result = check_drift(*frames(np.zeros(N), np.ones(N)), min_rows=500)
    assert result.status == "inconclusive" and result.columns["x"].drifted is True
    assert result.inconclusive == "current has 200 rows, fewer than min_rows (500)"
    assert describe_failure(result).startswith("no verdict: current has 200 rows")


# -- data quality ------------------------------------------------------------------------

SUITE = [
    {"expect": "not_null", "column": "x"},
    {"expect": "between", "column": "x", "min": 0, "max": 10},
    {"expect": "mean_between", "column": "x", "min": 0, "max": 10},
    {"expect": "stdev_between", "column": "x", "min": 0, "max": 10},
    {"expect": "row_count_between", "min": 1},
]


def table(values: Any) -> pd.DataFrame:
    return pd.DataFrame({"x": values})


#: case -> (the table, each expectation's status in SUITE's order, or an error; the check's)
TABLES: dict[str, tuple[Callable[[], Any], tuple[str, ...] | str, str]] = {
    "constant": (lambda: table(np.zeros(50)), ("pass", "pass", "pass", "pass", "pass"), "pass"),
    "near-constant (95%)": (lambda: table(near_constant(1.0, 50)), ("pass",) * 5, "pass"),
    "one row": (
        lambda: table([1.0]),
        ("pass", "pass", "pass", "inconclusive", "pass"),  # a stdev needs two values
        "inconclusive",
    ),
    "all missing": (
        lambda: table(np.full(50, np.nan)),
        ("fail", "inconclusive", "inconclusive", "inconclusive", "pass"),
        "fail",
    ),
    "no rows": (
        lambda: table(np.array([])),
        ("inconclusive", "inconclusive", "inconclusive", "inconclusive", "fail"),
        "fail",
    ),
    "NaN and both infinities": (
        lambda: table([1.0, np.nan, np.inf, -np.inf, 2.0]),
        ("fail", "fail", "inconclusive", "inconclusive", "pass"),  # no mean of inf and -inf
        "fail",
    ),
    "an infinity": (
        lambda: table([1.0, np.inf, 2.0]),
        ("pass", "fail", "fail", "inconclusive", "pass"),  # an infinite mean is out of bounds
        "fail",
    ),
    "booleans": (lambda: table([True, False, True]), ("pass",) * 5, "pass"),
    "text": (
        lambda: table(["a", "b", "c"]),
        ("pass", "inconclusive", "inconclusive", "inconclusive", "pass"),  # GX says why
        "inconclusive",
    ),
    "a column named twice": (
        lambda: pd.DataFrame(np.zeros((3, 2)), columns=["x", "x"]),
        "error: the table names column(s) ['x'] more than once",
        "",
    ),
    "a column missing": (
        lambda: pd.DataFrame({"y": [1.0]}),
        "error: columns not in the table: x",
        "",
    ),
}


@pytest.mark.parametrize("case", list(TABLES))
def test_data_quality(case: str) -> None:
    make, expected, status = TABLES[case]
    if isinstance(expected, str):
        outcome_of(lambda: check_data_quality(make(), SUITE), expected)
        return
    result = outcome_of(lambda: check_data_quality(make(), SUITE), status)
    assert tuple(outcome.status for outcome in result.expectations) == expected
    for outcome in result.expectations:
        assert (outcome.status == "inconclusive") == bool(outcome.error), outcome


def test_a_column_without_values_does_not_pass_its_value_expectations() -> None:
    # GX passes "between" on a column all missing: there is no value outside the bounds
    result = check_data_quality(table(np.full(50, np.nan)), SUITE[1:2])
    assert result.status == "inconclusive"
    assert result.expectations[0].error == "x has no values: all 50 are missing"
    assert describe_failure(result).endswith(
        "no verdict on 1: x between 0 and 10 (x has no values: all 50 are missing)"
    )


# -- health ------------------------------------------------------------------------------


def requests(
    count: int, *, latency: Any = 20.0, status: Any = 200, version: str = "v1", spread: bool = True
) -> pd.DataFrame:
    start = pd.Timestamp("2024-06-01")
    times = pd.date_range(start, periods=count, freq="s") if spread else [start] * count
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(times),
            "model_version": version,
            "latency_ms": latency,
            "status": status,
        },
        index=range(count),
    )


#: case -> (the log, the options, the verdict)
LOGS: dict[str, tuple[Callable[[], pd.DataFrame], dict[str, Any], str]] = {
    "no rows": (lambda: requests(0), {}, "inconclusive"),
    "one request": (lambda: requests(1), {}, "inconclusive"),
    "5 requests": (lambda: requests(5), {}, "inconclusive"),
    "a version that got no requests": (
        lambda: requests(500),
        {"model_version": "v9"},
        "inconclusive",
    ),
    "two versions, one with too few requests": (
        lambda: pd.concat([requests(500), requests(3, version="v2")], ignore_index=True),
        {},
        "inconclusive",
    ),
    "constant latency": (lambda: requests(500), {}, "pass"),
    "every request failed": (lambda: requests(500, status=500), {}, "fail"),
    "all at one instant": (lambda: requests(500, spread=False), {}, "pass"),
    "latencies near the float limit": (lambda: requests(500, latency=1e308), {}, "fail"),
    "a column named twice": (
        lambda: pd.concat([requests(500), requests(500)[["latency_ms"]]], axis=1),
        {},
        "error: requests names column(s) ['latency_ms'] more than once",
    ),
    "a missing latency": (
        lambda: requests(500, latency=np.nan),
        {},
        "error: column 'latency_ms' has missing",
    ),
    "an infinite latency": (
        lambda: requests(500, latency=np.inf),
        {},
        "error: must hold finite numbers >= 0",
    ),
    "latencies as text": (
        lambda: requests(500, latency="20"),
        {},
        "error: column 'latency_ms' must hold numbers",
    ),
    "statuses as booleans": (
        lambda: requests(500, status=True),
        {},
        "error: column 'status' holds True",
    ),
}


@pytest.mark.parametrize("case", list(LOGS))
def test_health(case: str) -> None:
    make, options, expected = LOGS[case]
    result = outcome_of(lambda: check_health(make(), **options), expected)
    if result is not None and case == "all at one instant":
        assert result.versions["v1"].throughput_rps is None  # no window to divide by


# -- anomalies ---------------------------------------------------------------------------

START = datetime(2024, 6, 1)


def series(values: list[Any]) -> list[tuple[datetime, Any]]:
    return [(START + timedelta(hours=hour), value) for hour, value in enumerate(values)]


#: case -> (the series, the options, the verdict)
SERIES: dict[str, tuple[Callable[[], Any], dict[str, Any], str]] = {
    "no points": (lambda: [], {}, "inconclusive"),
    "one point": (lambda: series([1.0]), {}, "inconclusive"),
    "two points": (lambda: series([1.0, 5.0]), {}, "inconclusive"),
    "five points and a spike": (lambda: series([1.0, 1, 1, 1, 9]), {}, "inconclusive"),
    "too few seasons": (lambda: series([3.0] * 30), {"season": 24}, "inconclusive"),
    "constant": (lambda: series([3.0] * 50), {}, "pass"),
    "constant, then a spike now": (lambda: series([3.0] * 49 + [10.0]), {}, "fail"),
    "near-constant (95%), an earlier spike": (
        lambda: series([3.0] * 20 + [10.0] + [3.0] * 27 + [3.1, 2.9]),
        {},
        "warn",
    ),
    "values near the float limit": (lambda: series([1e308, -1e308] * 10), {}, "pass"),
    "booleans": (lambda: series([True, False] * 10), {}, "pass"),
    "a NaN": (lambda: series([1.0] * 20 + [np.nan]), {}, "error: NaN or infinite"),
    "an infinity": (lambda: series([1.0] * 20 + [np.inf]), {}, "error: NaN or infinite"),
    "text": (lambda: series(["a"] * 20), {}, "error: values must be numbers"),
    "a repeated timestamp": (
        lambda: pd.Series([1.0] * 20, index=[pd.Timestamp("2024-06-01")] * 20),
        {},
        "error: repeated timestamps",
    ),
}


@pytest.mark.parametrize("case", list(SERIES))
def test_anomalies(case: str) -> None:
    make, options, expected = SERIES[case]
    result = outcome_of(lambda: detect_anomalies(make(), **options), expected)
    if result is not None:
        assert all(math.isfinite(point.score) for point in result.points)


# -- what is recorded and shown ----------------------------------------------------------


def inconclusive_results() -> dict[str, Any]:
    return {
        "drift": check_drift(*frames(NORMAL, [1.0, 2.0])),
        "feature_consistency": check_feature_consistency(*frames(NORMAL, np.full(N, np.nan))),
        "data_quality": check_data_quality(table(np.full(5, np.nan)), SUITE[1:2]),
        "health": check_health(requests(5)),
        "anomaly": detect_anomalies(series([1.0, 2.0])),
    }


def test_an_inconclusive_check_is_recorded_as_such_without_undefined_numbers() -> None:
    store = aimops.connect("sqlite://")
    for kind, result in inconclusive_results().items():
        assert result.status == "inconclusive", kind
        result.record(store, target="urn:aim:dataset:scores", key=f"degenerate/{kind}")
    recorded = {check["kind"]: check for check in list_checks(store)}
    assert {kind: check["status"] for kind, check in recorded.items()} == dict.fromkeys(
        inconclusive_results(), "inconclusive"
    )
    for check in recorded.values():
        assert all(math.isfinite(value) for value in check["metrics"].values())


def test_the_page_says_why_a_column_has_no_verdict() -> None:
    results = inconclusive_results()
    drift_page = render_check_report(results["drift"].to_dict())
    assert "Why no verdict" in drift_page and "only 2 values in current" in drift_page
    assert 'class="row-inconclusive"' in drift_page
    consistency_page = render_check_report(results["feature_consistency"].to_dict())
    assert "no values in serving: all are missing" in consistency_page
    assert 'class="row-inconclusive"' in consistency_page
