"""Statuses judged a whole column at once (integers, integral floats, text) give the verdicts,
and refuse the values with the messages, that judging them one by one gives: an object column
of the values the typed column gives one by one (which is judged value by value, as every
column was before) is the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from aimops.errors import InvalidDataError
from aimops.monitors.checks.health import check_health

STATUSES = [200, 201, 204, 301, 399, 100, 199, 400, 404, 429, 500, 503, 599]


def log(statuses: Any, versions: Any = None) -> pd.DataFrame:
    """One request a second, to churn/3 and churn/4 in turn unless ``versions`` are given."""
    count = len(statuses)
    if versions is None:
        versions = [("churn/3", "churn/4")[i % 2] for i in range(count)]
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-11-26", periods=count, freq="s", tz="UTC"),
            "model_version": versions,
            "latency_ms": np.linspace(5.0, 900.0, count),
            "status": statuses,
        }
    )


def as_objects(statuses: Any) -> pd.Series:
    """The values a column of ``statuses`` gives one by one, in an object column."""
    return pd.Series(list(pd.Series(statuses)), dtype=object)


COLUMNS = {
    "int64": lambda: np.array(STATUSES * 40, dtype=np.int64),
    "uint16": lambda: np.array(STATUSES * 40, dtype=np.uint16),
    "nullable Int64": lambda: pd.array(STATUSES * 40, dtype="Int64"),
    "integral floats": lambda: np.array(STATUSES * 40, dtype=np.float64),
    "float32": lambda: np.array(STATUSES * 40, dtype=np.float32),
    "text": lambda: np.array(["ok", "OK", "error", "Error", "oK"] * 100, dtype=object),
    "pandas strings": lambda: pd.array(["ok", "ERROR", "Ok"] * 200, dtype="string"),
}


@pytest.mark.parametrize("make", COLUMNS.values(), ids=list(COLUMNS))
def test_whole_columns_judge_as_value_by_value(make: Any) -> None:
    statuses = make()
    fast = check_health(log(statuses), min_requests=1)
    slow = check_health(log(as_objects(statuses)), min_requests=1)
    assert fast.to_dict() == slow.to_dict()
    assert fast.versions["churn/3"].errors > 0  # some failed, some succeeded
    assert fast.versions["churn/3"].errors < fast.versions["churn/3"].requests


def test_a_mixed_column_is_still_read() -> None:
    statuses = [200, "ok", 503.0, "ERROR", np.int64(404), 302] * 50
    result = check_health(log(pd.Series(statuses, dtype=object)), min_requests=1)
    assert sum(v.errors for v in result.versions.values()) == 150


@pytest.mark.parametrize(
    ("statuses", "shown"),
    [
        (np.array([200, 42, 700], dtype=np.int64), "42"),
        (np.array([200, 600], dtype=np.uint64), "600"),
        (np.array([200, 2**64 - 1], dtype=np.uint64), str(2**64 - 1)),
        (pd.array([200, 99], dtype="Int64"), repr(np.int64(99))),  # as iterating gives it
        (np.array([200.0, 200.5, 42.0]), "200.5"),
        (np.array([200.0, 42.0, 200.5]), "42"),
        (np.array([200.0, np.inf]), "inf"),
        (np.array([200.0, -np.inf]), "-inf"),
        (np.array([200.0, 1e300]), str(int(1e300))),
        (np.array([True, False]), "True"),
        (np.array(["ok", "maybe", "nope"], dtype=object), "'maybe'"),
        (pd.array(["ok", "Fine"], dtype="string"), "'Fine'"),
        (pd.Series(["ok", 200, 42], dtype=object), "42"),
    ],
)
def test_bad_statuses_are_refused_alike(statuses: Any, shown: str) -> None:
    expected = f"column 'status' holds {shown}: expected an HTTP code (100-599), 'ok' or 'error'"
    messages = []
    for column in (statuses, as_objects(statuses)):
        with pytest.raises(InvalidDataError) as raised:
            check_health(log(column), min_requests=1)
        messages.append(str(raised.value))
    assert messages == [expected, expected]


@pytest.mark.parametrize(
    "versions",
    [
        ["churn/3", "churn/4", "churn/3", "churn/5"] * 30,
        pd.Categorical(["b", "a"] * 60),
        pd.array(["x", "y", "x"] * 40, dtype="string"),
        [3, "3", 3.0, 4] * 30,
        np.array([1.5, 2.5] * 60),
    ],
)
def test_versions_come_in_the_order_they_first_appear(versions: Any) -> None:
    frame = log(np.array([200, 500, 200] * 40), versions)
    result = check_health(frame, min_requests=1)
    expected = list(dict.fromkeys(str(name) for name in dict.fromkeys(pd.Series(versions))))
    assert list(result.versions) == expected
    first = pd.Series(versions).iloc[0]
    alone = check_health(frame, min_requests=1, model_version=first)
    assert alone.versions[str(first)].requests == sum(1 for v in pd.Series(versions) if v == first)


def test_a_version_that_cannot_name_one_is_refused() -> None:
    with pytest.raises(InvalidDataError, match=r"must hold names \(text or numbers\), not list"):
        check_health(log([200, 200], versions=pd.Series(["churn/3", ["a"]], dtype=object)))
