"""Data quality on real Great Expectations 1.x: verdicts, GX's detail, suites, files, errors."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aimops.errors import InvalidDataError, InvalidInputError, NotFoundError
from aimops.monitors.checks import data_quality
from aimops.monitors.checks.data_quality import DataQualityResult, check_data_quality

SUITE: list[dict[str, Any]] = [
    {"expect": "not_null", "column": "age"},
    {"expect": "between", "column": "age", "min": 0, "max": 120},
    {"expect": "in_set", "column": "plan", "values": ["free", "pro"]},
    {"expect": "unique", "column": "id"},
    {"expect": "row_count_between", "min": 1, "max": 10**7},
    {"expect": "mean_between", "column": "age", "min": 20, "max": 50},
    {"expect": "stdev_between", "column": "age", "max": 50},
    {"expect": "median_between", "column": "age", "min": 20},
]
YAML_SUITE = """\
expectations:
  - {expect: not_null, column: age}
  - expect: in_set
    column: plan
    values: [free, pro]
    severity: warn
"""


def good_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "age": [25.0, 31.0, 47.0, 38.0, 52.0, 29.0],
            "plan": ["free", "pro", "free", "pro", "free", "free"],
        }
    )


def bad_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 2, 4, 5, 6],
            "age": [25.0, None, 47.0, 180.0, -3.0, 29.0],
            "plan": ["free", "pro", "gold", "pro", "trial", "free"],
        }
    )


@pytest.fixture(scope="module")
def passed() -> DataQualityResult:
    return check_data_quality(good_frame(), SUITE, name="customers")


@pytest.fixture(scope="module")
def failed() -> DataQualityResult:
    return check_data_quality(bad_frame(), SUITE)


def test_module_example_runs() -> None:
    assert doctest.testmod(data_quality).failed == 0


def test_a_met_suite_passes_with_every_expectation_in_order(passed: DataQualityResult) -> None:
    assert passed.status == "pass"
    assert passed.name == "customers" and passed.n_rows == 6
    assert [outcome.expect for outcome in passed.expectations] == [e["expect"] for e in SUITE]
    assert all(outcome.success and outcome.error is None for outcome in passed.expectations)
    assert passed.metrics == {
        "expectations": 8.0,
        "failed": 0.0,
        "failed_error": 0.0,
        "failed_warn": 0.0,
        "not_evaluated": 0.0,
        "success_percent": 100.0,
    }
    row_count = passed.expectations[4]
    assert row_count.gx_type == "expect_table_row_count_to_be_between"
    assert (
        row_count.observed_value == 6
        and row_count.description == "row count between 1 and 10000000"
    )
    assert passed.expectations[6].description == "stdev of age at most 50"


def test_a_failed_expectation_fails_the_check_with_gx_detail(failed: DataQualityResult) -> None:
    assert failed.status == "fail"
    by_expect = {outcome.expect: outcome for outcome in failed.expectations}
    not_null, between = by_expect["not_null"], by_expect["between"]
    assert (not_null.success, not_null.unexpected_count, not_null.unexpected_examples) == (
        False,
        1,
        [None],  # GX's NaN, made JSON-safe
    )
    assert not_null.unexpected_percent == pytest.approx(100 / 6)
    assert between.unexpected_count == 2 and sorted(between.unexpected_examples) == [-3.0, 180.0]
    assert sorted(by_expect["in_set"].unexpected_examples) == ["gold", "trial"]
    assert by_expect["unique"].unexpected_examples == [2, 2]
    assert by_expect["mean_between"].observed_value == pytest.approx(55.6)
    assert by_expect["mean_between"].status == "fail"
    assert by_expect["row_count_between"].success is True
    assert failed.metrics["failed_error"] == 6.0
    assert failed.metrics["success_percent"] == pytest.approx(25.0)
    assert [outcome.index for outcome in failed.failed] == [0, 1, 2, 3, 5, 6]


def test_the_result_is_json_compatible(failed: DataQualityResult) -> None:
    document = json.loads(json.dumps(failed.to_dict(), allow_nan=False))
    assert document["kind"] == "data_quality" and document["status"] == "fail"
    assert document["metrics"]["expectations"] == 8.0
    first = document["expectations"][0]
    assert first["status"] == "fail" and first["severity"] == "error"
    assert first["description"] == "age is not null"


def test_only_warn_severity_failures_warn() -> None:
    suite = [
        {"expect": "unique", "column": "id"},
        {"expect": "in_set", "column": "plan", "values": ["free"], "severity": "warn"},
    ]
    result = check_data_quality(good_frame(), suite)
    assert result.status == "warn"
    assert (result.metrics["failed_warn"], result.metrics["failed_error"]) == (1.0, 0.0)
    assert result.expectations[1].status == "warn"


def test_an_expectation_gx_cannot_evaluate_is_inconclusive() -> None:
    result = check_data_quality(
        good_frame(), [{"expect": "mean_between", "column": "plan", "min": 0}]
    )
    assert result.status == "inconclusive"
    assert result.expectations[0].error and "numeric" in result.expectations[0].error
    assert result.metrics["not_evaluated"] == 1.0


def test_a_yaml_suite_as_text_and_as_a_file(tmp_path: Path) -> None:
    from_text = check_data_quality(bad_frame(), YAML_SUITE)
    assert [o.status for o in from_text.expectations] == ["fail", "warn"]
    path = tmp_path / "suite.yaml"
    path.write_text(YAML_SUITE, encoding="utf-8")
    assert check_data_quality(good_frame(), path).status == "pass"
    json_path = tmp_path / "suite.json"
    json_path.write_text(json.dumps({"expectations": SUITE[:2]}), encoding="utf-8")
    assert check_data_quality(bad_frame(), str(json_path)).status == "fail"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_file_is_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"customers{suffix}"
    frame = bad_frame()
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    result = check_data_quality(path, SUITE[:4])
    assert result.status == "fail" and result.n_rows == 6
    assert [o.unexpected_count for o in result.expectations] == [1, 2, 2, 2]


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ([], "the suite has no expectations"),
        ({"expect": "unique"}, "a suite is a list"),
        (["unique"], "suite entry 0 is a str"),
        (
            [{"expect": "unique", "column": "id"}, {"expect": "nope"}],
            "suite entry 1: unknown expect 'nope'",
        ),
        (
            [{"expect": "unique", "column": "id", "colour": 1}],
            "suite entry 0 (unique): unknown keys colour",
        ),
        ([{"expect": "row_count_between", "column": "id", "min": 1}], "unknown keys column"),
        ([{"expect": "unique"}], "suite entry 0 (unique): 'column' must name a column"),
        ([{"expect": "unique", "column": "id", "severity": "info"}], "severity must be"),
        ([{"expect": "between", "column": "age"}], "give 'min', 'max' or both"),
        ([{"expect": "between", "column": "age", "min": "0"}], "'min' must be a number"),
        ([{"expect": "between", "column": "age", "max": float("nan")}], "'max' must be finite"),
        ([{"expect": "between", "column": "age", "min": 5, "max": 1}], "'min' is above 'max'"),
        ([{"expect": "in_set", "column": "plan"}], "'values' must be a list"),
        ([{"expect": "in_set", "column": "plan", "values": []}], "'values' is empty"),
        ([{"expect": "unique", "column": "id"}] * 2, "suite entry 1 repeats entry 0"),
        ("expectations: [", "the suite text is not valid YAML"),
        ("- {expect: unique}", "must be a mapping with an 'expectations:' list"),
        ("expectations: []\nowner: me", "unknown keys: owner"),
    ],
)
def test_a_bad_suite_is_named(suite: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_data_quality(good_frame(), suite)
    assert message in str(raised.value)
    assert not isinstance(raised.value, InvalidDataError)


def test_missing_columns_are_named_before_gx_runs() -> None:
    suite = [
        {"expect": "not_null", "column": "income"},
        {"expect": "unique", "column": "id"},
        {"expect": "between", "column": "score", "min": 0},
    ]
    with pytest.raises(
        InvalidDataError,
        match=r"columns not in the table: income, score; the table has: id, age, plan",
    ):
        check_data_quality(good_frame(), suite)


def test_an_empty_table_has_nothing_to_evaluate_but_its_row_count() -> None:
    suite = [{"expect": "unique", "column": "id"}, {"expect": "row_count_between", "min": 1}]
    result = check_data_quality(good_frame().iloc[0:0], suite)
    unique, rows = result.expectations
    assert (unique.status, unique.error) == ("inconclusive", "the table has no rows")
    assert (rows.status, rows.observed_value) == ("fail", 0)
    assert check_data_quality(good_frame().iloc[0:0], suite[:1]).status == "inconclusive"


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"suite file .*nope\.yaml does not exist"):
        check_data_quality(good_frame(), tmp_path / "nope.yaml")
    with pytest.raises(NotFoundError, match=r"table file .*nope\.csv does not exist"):
        check_data_quality(tmp_path / "nope.csv", SUITE)
