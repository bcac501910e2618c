"""Windows of serving: a fleet's traffic split across versions by weights, written as window
folders, read back by time span together with whole days, and its faults caught per version."""

from __future__ import annotations

import doctest
import itertools
import math
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimops.errors import AimopsError, InvalidDataError, InvalidInputError
from aimops.monitors.checks.health import check_health
from aimops.monitors.serving import logs, windows
from aimops.monitors.serving.logs import (
    day_folder,
    latest_day,
    read_window,
    window_folder,
)
from aimops.monitors.serving.simulator import ServingDay, simulate_serving_day
from aimops.monitors.serving.windows import simulate_serving_window

DAY = date(2026, 11, 26)
START = datetime(2026, 11, 26, 10, tzinfo=UTC)
END = START + timedelta(minutes=10)
COLUMNS = ["timestamp", "model_version", "latency_ms", "status"]


class Scorer:
    """P(class 1) rises with age: enough of a model for predict_proba."""

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        positive = 1 / (1 + np.exp(-(rows["age"].to_numpy() - 45.0) / 10))
        return np.column_stack([1 - positive, positive])


class Broken:
    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return np.full((len(rows), 2), 7.0)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"age": rng.normal(45, 12, 400), "tenure": rng.gamma(2.0, 3.0, 400)})


def simulate(features: pd.DataFrame, where: Path, **changes: Any) -> dict[str, ServingDay]:
    arguments: dict[str, Any] = {
        "model": "churn",
        "weights": {"3": 90, "4": 10},
        "start": START,
        "end": END,
        "requests": 4000,
        "seed": 7,
        "root": where,
    }
    arguments.update(changes)
    models = arguments.pop("models", {"3": Scorer(), "4": Scorer()})
    served: dict[str, ServingDay] = simulate_serving_window(models, features, **arguments)
    return served


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_docstring_examples_run() -> None:
    assert doctest.testmod(windows).failed == 0
    assert doctest.testmod(logs).failed == 0


def test_traffic_is_split_by_the_weights_and_read_back(
    features: pd.DataFrame, tmp_path: Path
) -> None:
    served = simulate(features, tmp_path)
    assert list(served) == ["3", "4"]
    log = read_window("churn", ["3", "4"], START, END, root=tmp_path)
    assert list(log.columns) == COLUMNS and len(log) == 4000
    share = (log["model_version"] == "churn/4").mean()
    assert abs(share - 0.10) < 3 * math.sqrt(0.1 * 0.9 / 4000)  # within sampling error
    for version, day in served.items():
        folder = window_folder(f"churn/{version}", START, END, root=tmp_path)
        assert folder.name == "100000.000000-101000.000000"
        pd.testing.assert_frame_equal(ServingDay.read(folder).requests, day.requests)
        assert set(day.requests["model_version"]) == {f"churn/{version}"}
        assert day.requests["timestamp"].is_monotonic_increasing
    ids = pd.concat([day.requests for day in served.values()])["request_id"]
    assert ids.is_unique
    assert log["timestamp"].between(START, END, inclusive="left").all()
    # one version alone, and only the columns asked for
    alone = read_window("churn", ["4"], START, END, root=tmp_path, columns=["score", "age"])
    assert list(alone.columns) == ["score", "age"] and len(alone) == len(served["4"].requests)


def test_the_same_seed_gives_the_same_logs_whatever_the_order_of_the_weights(
    features: pd.DataFrame, tmp_path: Path
) -> None:
    first = simulate(features, tmp_path, write=False)
    again = simulate(features, tmp_path, write=False, weights={"4": 10, "3": 90})
    for version in ("3", "4"):
        pd.testing.assert_frame_equal(first[version].requests, again[version].requests)
    other = simulate(features, tmp_path, write=False, seed=8)
    assert not first["3"].requests["latency_ms"].equals(other["3"].requests["latency_ms"])
    assert files_under(tmp_path) == []  # write=False writes nothing


def test_a_version_of_weight_zero_gets_nothing_and_no_folder(
    features: pd.DataFrame, tmp_path: Path
) -> None:
    served = simulate(features, tmp_path, weights={"3": 100, "4": 0}, models={"3": Scorer()})
    assert list(served) == ["3"] and len(served["3"].requests) == 4000
    assert not window_folder("churn/4", START, END, root=tmp_path).exists()
    log = read_window("churn", ["3", "4"], START, END, root=tmp_path)
    assert set(log["model_version"]) == {"churn/3"}


def test_start_is_in_the_span_and_end_is_not(tmp_path: Path) -> None:
    moments = [START, START + timedelta(microseconds=1), END - timedelta(milliseconds=1), END]
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(moments),
            "model_version": "churn/3",
            "latency_ms": [10.0, 20.0, 30.0, 40.0],
            "status": [200, 200, 500, 200],
        }
    )
    # a log that also holds a request at its end: the timestamps say which rows are in
    ServingDay(frame, frame).write(window_folder("churn/3", START, END, root=tmp_path))
    whole = read_window("churn", ["3"], START, END, root=tmp_path)
    assert whole["latency_ms"].tolist() == [10.0, 20.0, 30.0]
    later = read_window("churn", ["3"], START + timedelta(microseconds=1), END, root=tmp_path)
    assert later["latency_ms"].tolist() == [20.0, 30.0]
    halves = [
        read_window("churn", ["3"], a, b, root=tmp_path)
        for a, b in ((START, START + timedelta(minutes=5)), (START + timedelta(minutes=5), END))
    ]
    assert sum(map(len, halves)) == len(whole)


def test_spans_split_anywhere_add_up(features: pd.DataFrame, tmp_path: Path) -> None:
    simulate(features, tmp_path)
    cuts = [START, START + timedelta(minutes=3, microseconds=17), START + timedelta(minutes=7), END]
    spans = list(itertools.pairwise(cuts))
    parts = [read_window("churn", ["3", "4"], a, b, root=tmp_path) for a, b in spans]
    assert sum(map(len, parts)) == 4000
    for (a, b), part in zip(spans, parts, strict=True):
        assert part["timestamp"].between(a, b, inclusive="left").all()


def test_whole_days_are_read_with_the_windows(features: pd.DataFrame, tmp_path: Path) -> None:
    day = simulate_serving_day(Scorer(), features, model_version="churn/3", day=DAY, requests=5000)
    day.write(day_folder("churn/3", DAY, root=tmp_path))
    simulate(features, tmp_path, weights={"4": 100}, models={"4": Scorer()})
    log = read_window("churn", ["3", "4"], START, END, root=tmp_path)
    in_span = day.requests["timestamp"].between(START, END, inclusive="left")
    assert (log["model_version"] == "churn/3").sum() == in_span.sum() > 0
    assert (log["model_version"] == "churn/4").sum() == 4000
    whole = read_window("churn", ["3"], START - timedelta(hours=10), END + timedelta(days=3),
                        root=tmp_path)  # fmt: skip
    assert len(whole) == 5000


def test_a_window_across_midnight(features: pd.DataFrame, tmp_path: Path) -> None:
    start = datetime(2026, 11, 26, 23, 55, tzinfo=UTC)
    end = start + timedelta(minutes=10)
    served = simulate(features, tmp_path, start=start, end=end)
    folder = window_folder("churn/3", start, end, root=tmp_path)
    assert (
        folder.relative_to(tmp_path).as_posix() == "churn/3/2026-11-26/235500.000000-240500.000000"
    )
    midnight = datetime(2026, 11, 27, tzinfo=UTC)
    after = read_window("churn", ["3", "4"], midnight, midnight + timedelta(hours=1), root=tmp_path)
    expected = sum(int((d.requests["timestamp"] >= midnight).sum()) for d in served.values())
    assert len(after) == expected and 0 < expected < 4000


def test_nothing_served_is_an_empty_frame_with_the_columns(tmp_path: Path) -> None:
    empty = read_window("churn", ["3", "4"], START, END, root=tmp_path)
    assert list(empty.columns) == COLUMNS and empty.empty
    assert empty.dtypes.astype(str).to_dict() == {
        "timestamp": "datetime64[ns, UTC]",
        "model_version": "object",
        "latency_ms": "float64",
        "status": "int64",
    }
    assert check_health(empty).status == "inconclusive"
    assert read_window("churn", ["3"], START, START, root=tmp_path).empty


def test_an_empty_span_over_logs_is_empty_with_the_logs_types(
    features: pd.DataFrame, tmp_path: Path
) -> None:
    simulate(features, tmp_path)
    before = read_window("churn", ["3", "4"], START - timedelta(hours=1), START, root=tmp_path)
    same = read_window("churn", ["3", "4"], START, START, root=tmp_path)
    for frame in (before, same):
        assert frame.empty and list(frame.columns) == COLUMNS
        assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
        assert frame["model_version"].dtype == object


def test_faults_hit_only_their_version(features: pd.DataFrame, tmp_path: Path) -> None:
    weights = {"3": 50, "4": 50}
    clean = simulate(features, tmp_path / "clean", weights=weights)
    faulty = simulate(
        features,
        tmp_path / "faulty",
        weights=weights,
        faults={"4": {"latency_regression_ms": 900, "error_rate": 0.05, "drift": {"age": 2.0}}},
    )
    healthy = check_health(read_window("churn", ["3", "4"], START, END, root=tmp_path / "clean"))
    sick = check_health(read_window("churn", ["3", "4"], START, END, root=tmp_path / "faulty"))
    assert healthy.status == "pass"
    assert sick.versions["churn/3"] == healthy.versions["churn/3"]  # untouched, to the request
    before, after = healthy.versions["churn/4"], sick.versions["churn/4"]
    assert before.latency_p99_ms is not None and after.latency_p99_ms is not None
    assert 700 < after.latency_p99_ms - before.latency_p99_ms < 1100
    assert after.status == "fail"
    assert after.violations == ["success_rate_min", "latency_p99_max_ms"]
    assert after.error_rate is not None and 0.03 < after.error_rate < 0.07
    shift = faulty["4"].requests["age"].mean() - clean["4"].requests["age"].mean()
    assert 1.5 * features["age"].std() < shift < 2.5 * features["age"].std()
    pd.testing.assert_frame_equal(faulty["3"].requests, clean["3"].requests)


def test_latest_day_ignores_window_folders(features: pd.DataFrame, tmp_path: Path) -> None:
    day = simulate_serving_day(Scorer(), features, model_version="churn/3", day=DAY, requests=50)
    day.write(day_folder("churn/3", DAY - timedelta(days=1), root=tmp_path))
    simulate(features, tmp_path)  # windows in 2026-11-26, which has no whole day
    found = latest_day("churn/3", root=tmp_path)
    assert found.day == DAY - timedelta(days=1)
    assert found.requests == day_folder("churn/3", found.day, root=tmp_path) / "requests.parquet"


def test_folders_that_are_not_windows_are_ignored(features: pd.DataFrame, tmp_path: Path) -> None:
    served = simulate(features, tmp_path, weights={"3": 100}, models={"3": Scorer()})
    folder = day_folder("churn/3", DAY, root=tmp_path)
    for name in ("latest", "100000-101000", "250000.000000-260000.000000",
                 "101000.000000-100000.000000", "100000.000000-100000.000000"):  # fmt: skip
        served["3"].write(folder / name)
    assert len(read_window("churn", ["3"], START, END, root=tmp_path)) == 4000


@pytest.mark.parametrize(
    ("start", "end", "name"),
    [
        (START, END, "2026-11-26/100000.000000-101000.000000"),
        (START + timedelta(microseconds=5), END, "2026-11-26/100000.000005-101000.000000"),
        (datetime(2026, 11, 26, 23, 0, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC),
         "2026-11-26/230000.000000-240000.000000"),
        (datetime(2026, 11, 26, 12, tzinfo=UTC), datetime(2026, 11, 27, 12, tzinfo=UTC),
         "2026-11-26/120000.000000-360000.000000"),
        (datetime(2026, 11, 27, 1, tzinfo=timezone(timedelta(hours=2))),  # 23:00 UTC
         datetime(2026, 11, 27, 2, tzinfo=timezone(timedelta(hours=2))),
         "2026-11-26/230000.000000-240000.000000"),
    ],
)  # fmt: skip
def test_window_names_are_utc_times_of_the_start_day(
    start: datetime, end: datetime, name: str
) -> None:
    assert window_folder("churn/3", start, end, root="/r").as_posix() == f"/r/churn/3/{name}"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (START.replace(tzinfo=None), END, "start must be a timezone-aware datetime"),
        (START, END.replace(tzinfo=None), "end must be a timezone-aware datetime"),
        (END, START, "a window's start must be before its end"),
        (START, START, "a window's start must be before its end"),
        (START, START + timedelta(days=1, microseconds=1), "a window lasts at most a day"),
        (DAY, END, "start must be a datetime, not date"),
        (pd.Timestamp(START) + pd.Timedelta(1, "ns"), END, "finer than"),
    ],
)
def test_a_window_that_cannot_be_named_is_refused(start: Any, end: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        window_folder("churn/3", start, end, root="/r")


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"weights": {"3": 100, "4": -10}}, InvalidInputError, "weight of version 4 is -10"),
        ({"weights": {"3": 90.0, "4": 10}}, InvalidInputError, r"weight of version 3 is 90.0 \("),
        ({"weights": {"3": True, "4": 99}}, InvalidInputError, "weight of version 3 is True"),
        ({"weights": {"3": 60, "4": 30}}, InvalidInputError, "weights must sum to 100, not 90"),
        ({"weights": {}}, InvalidInputError, "weights must sum to 100, not 0"),
        ({"weights": [("3", 100)]}, InvalidInputError, "weights must be a mapping"),
        ({"weights": {"3": 50, 3: 50}}, InvalidInputError, "version 3 is given twice"),
        ({"weights": {"3": 50, "a/b": 50}}, InvalidInputError, "is one name such as '3'"),
        ({"weights": {"3": 50, "5": 50}}, InvalidInputError, "version 5 has weight 50 but no"),
        ({"models": {"3": Scorer(), "4": "a model"}}, InvalidInputError,
         "the model of version 4 must have predict_proba"),
        ({"start": END, "end": START}, InvalidInputError, "a window's start must be before"),
        ({"end": START}, InvalidInputError, "a window's start must be before its end"),
        ({"start": START.replace(tzinfo=None)}, InvalidInputError, "start must be a timezone-"),
        ({"end": END.replace(tzinfo=None)}, InvalidInputError, "end must be a timezone-aware"),
        ({"end": START + timedelta(days=2)}, InvalidInputError, "a window lasts at most a day"),
        ({"start": START + timedelta(microseconds=100), "end": START + timedelta(microseconds=900)},
         InvalidInputError,
         "holds no whole millisecond"),
        ({"start": datetime(2300, 1, 1, tzinfo=UTC), "end": datetime(2300, 1, 1, 1, tzinfo=UTC)},
         InvalidInputError, "within the times pandas holds"),
        ({"requests": 0}, InvalidDataError, "requests must be a whole number from 1 to"),
        ({"requests": 10**8}, InvalidDataError, "requests must be a whole number from 1 to"),
        ({"requests": 2.5}, InvalidDataError, "requests must be a whole number from 1 to"),
        ({"seed": -1}, InvalidInputError, "seed must be a whole number >= 0"),
        ({"write": "yes"}, InvalidInputError, "write must be True or False"),
        ({"model": "../churn"}, InvalidInputError, "a served model version is 'name/version'"),
        ({"model": ""}, InvalidInputError, "model must not be empty"),
        ({"faults": {"5": {"error_rate": 0.1}}}, InvalidInputError,
         "faults name version 5, which weights do not have"),
        ({"faults": {"4": {"errors": 0.1}}}, InvalidInputError, r"unknown fault\(s\) \['errors'\]"),
        ({"faults": {"4": {"error_rate": 2}}}, InvalidDataError,
         r"faults of version 4: error_rate must be in \[0, 1\], not 2"),
        ({"faults": {"4": {"latency_regression_ms": -5}}}, InvalidDataError,
         "faults of version 4: latency_regression_ms must be >= 0"),
        ({"faults": {"4": {"drift": {"income": 1.0}}}}, InvalidDataError,
         "faults of version 4: drift names 'income'"),
        ({"faults": {"4": 0.5}}, InvalidInputError, "the faults of version 4 must be a mapping"),
        ({"models": {"3": Scorer(), "4": Broken()}}, InvalidDataError,
         r"the model of churn/4: model.predict_proba must give probabilities"),
        ({"root": 42}, InvalidInputError, "the serving logs' root must be a path"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named_and_nothing_is_written(
    features: pd.DataFrame, tmp_path: Path, changes: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        simulate(features, tmp_path, **changes)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (pd.DataFrame(), "features must be a non-empty pandas DataFrame"),
        (pd.DataFrame({"age": [30.0], "status": [1]}), r"features has column\(s\) \['status'\]"),
    ],
)
def test_features_that_cannot_be_served_are_refused(
    features: pd.DataFrame, message: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidDataError, match=message):
        simulate(features, tmp_path)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"versions": "34"}, InvalidInputError, "versions must be a collection"),
        ({"versions": []}, InvalidInputError, "versions must name at least one version"),
        ({"versions": ["3/4"]}, InvalidInputError, "a version is one name"),
        ({"versions": [".."]}, InvalidInputError, "a served model version is 'name/version'"),
        ({"model": ""}, InvalidInputError, "model must not be empty"),
        ({"start": END, "end": START}, InvalidInputError, "start must not be after end"),
        ({"start": START.replace(tzinfo=None)}, InvalidInputError, "start must be a timezone"),
        ({"columns": "status"}, InvalidInputError, "columns must be a collection"),
        ({"columns": []}, InvalidInputError, "columns must name at least one column"),
        ({"columns": ["status", "status"]}, InvalidInputError, "names .'status'. more than once"),
        ({"columns": ["status", "income"]}, InvalidDataError, r"has no column\(s\) \['income'\]"),
        ({"root": b"/tmp"}, InvalidInputError, "the serving logs' root must be a path"),
    ],
)  # fmt: skip
def test_bad_reads_are_named(
    features: pd.DataFrame, tmp_path: Path, changes: dict[str, Any], error: type, message: str
) -> None:
    simulate(features, tmp_path)
    arguments: dict[str, Any] = {"model": "churn", "versions": ["3", "4"], "start": START,
                                 "end": END, "root": tmp_path} | changes  # fmt: skip
    with pytest.raises(error, match=message):
        read_window(**arguments)


def test_a_file_that_is_not_a_log_is_named(tmp_path: Path) -> None:
    folder = window_folder("churn/3", START, END, root=tmp_path)
    folder.mkdir(parents=True)
    (folder / "requests.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidDataError, match=r"cannot read requests from .*requests.parquet"):
        read_window("churn", ["3"], START, END, root=tmp_path)


def test_logs_of_other_time_units_and_zones_read_as_utc_nanoseconds(tmp_path: Path) -> None:
    moments = pd.date_range(START, periods=4, freq="4min")  # the last one at 10:12, outside
    frame = pd.DataFrame({"timestamp": moments.as_unit("ms"), "model_version": "churn/3",
                          "latency_ms": 1.0, "status": ["ok", "ok", "error", "ok"]})  # fmt: skip
    ServingDay(frame, frame).write(day_folder("churn/3", DAY, root=tmp_path))
    naive = frame.assign(timestamp=moments.tz_localize(None), model_version="churn/4")
    ServingDay(naive, naive).write(day_folder("churn/4", DAY, root=tmp_path))
    log = read_window("churn", ["3", "4"], START, END, root=tmp_path)
    assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert log["timestamp"].tolist() == list(moments[:3]) * 2
    assert log["status"].tolist() == ["ok", "ok", "error"] * 2
    assert check_health(log, min_requests=1).versions["churn/4"].errors == 1


HOSTILE = [
    None, "", " ", "\x00", "\ud800", "x" * 5000, "a/b", "..", -1, 0, 1.5, math.nan, math.inf,
    True, 2**63, [], {}, ["3"], {"3": "x"}, b"3", np.int64(-5), object(),
    datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2026, 11, 26, 10), date(2026, 11, 26),
]  # fmt: skip


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    key=st.sampled_from(["model", "weights", "start", "end", "requests", "seed", "faults",
                         "models", "write", "root"]),
    value=st.sampled_from(HOSTILE) | st.dictionaries(
        st.sampled_from(["3", "4", "5", 3]), st.sampled_from(HOSTILE) | st.integers(-5, 105),
        max_size=2,
    ),
)  # fmt: skip
def test_hostile_arguments_give_a_result_or_an_aimops_error(
    features: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory, key: str, value: Any
) -> None:
    folder = tmp_path_factory.mktemp("hostile")
    if key == "root" and isinstance(value, str):
        value = folder / value.replace("/", "_")  # text stays inside the test's folder
    simulating = {"requests": 20, key: value}
    try:
        simulate(features, folder, **simulating)
    except AimopsError as error:
        assert str(error).strip()
    reading = {"model": "churn", "versions": ["3", "4"], "start": START, "end": END,
               "root": folder}  # fmt: skip
    if key in reading:
        reading[key] = value
    try:
        read_window(**reading)
    except AimopsError as error:
        assert str(error).strip()
