"""The serving simulator: a clean day passes the checks, and each injected fault is caught."""

from __future__ import annotations

import datetime
import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aimops.errors import InvalidDataError
from aimops.monitors import check_drift, check_feature_consistency, check_health
from aimops.monitors.serving import simulator
from aimops.monitors.serving.simulator import (
    LOG_COLUMNS,
    ProbabilisticModel,
    ServingDay,
    simulate_serving_day,
)

DAY = datetime.date(2024, 5, 1)
DRIFTED = ["mean radius", "mean texture", "worst smoothness"]


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).data
    return frame


@pytest.fixture(scope="module")
def model(features: pd.DataFrame) -> ProbabilisticModel:
    target = load_breast_cancer(as_frame=True).target
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, target)


@pytest.fixture(scope="module")
def clean_day(model: ProbabilisticModel, features: pd.DataFrame) -> ServingDay:
    return simulate_serving_day(model, features, model_version="v1", day=DAY)


def simulate(model: ProbabilisticModel, features: pd.DataFrame, **faults: object) -> ServingDay:
    return simulate_serving_day(model, features, model_version="v1", day=DAY, **faults)


def served_features(day: ServingDay, features: pd.DataFrame) -> pd.DataFrame:
    return day.requests[list(features.columns)]


def test_the_log_has_the_columns_and_a_daytime_peak(
    clean_day: ServingDay, features: pd.DataFrame
) -> None:
    log = clean_day.requests
    assert list(log.columns) == [*LOG_COLUMNS, *features.columns]
    assert len(log) == 2000 and log["request_id"].is_unique
    assert str(log["timestamp"].dt.tz) == "UTC"
    assert (log["timestamp"].dt.date == DAY).all() and log["timestamp"].is_monotonic_increasing
    hours = log["timestamp"].dt.hour
    assert hours.between(12, 16).sum() > 3 * hours.between(0, 4).sum()
    assert set(log["status"]) <= {200, 500, 503}
    scores = log.loc[log["status"] == 200, "score"]
    assert scores.notna().all() and scores.between(0, 1).all()
    assert 30 < log["latency_ms"].median() < 50
    assert 100 < np.percentile(log["latency_ms"], 99) < 220


def test_a_clean_day_passes_health_and_drift(clean_day: ServingDay, features: pd.DataFrame) -> None:
    assert check_health(clean_day.requests).status == "pass"
    drift = check_drift(features, served_features(clean_day, features))
    assert drift.status == "pass", drift.drifted_columns


def test_a_latency_regression_fails_on_p99(
    model: ProbabilisticModel, features: pd.DataFrame
) -> None:
    result = check_health(simulate(model, features, latency_regression_ms=500.0).requests)
    assert result.status == "fail"
    assert result.versions["v1"].violations == ["latency_p99_max_ms"]
    assert result.versions["v1"].latency_p99_ms > 500


def test_an_error_rate_of_5_percent_fails_on_success_rate(
    model: ProbabilisticModel, features: pd.DataFrame
) -> None:
    day = simulate(model, features, error_rate=0.05)
    result = check_health(day.requests)
    assert result.status == "fail"
    assert result.versions["v1"].violations == ["success_rate_min"]
    assert 0.03 < result.versions["v1"].error_rate < 0.07
    failed = day.requests["status"] != 200
    assert set(day.requests.loc[failed, "status"]) == {500, 503}
    assert day.requests.loc[failed, "score"].isna().all()


def test_covariate_drift_is_flagged_on_exactly_the_drifted_columns(
    model: ProbabilisticModel, features: pd.DataFrame
) -> None:
    day = simulate(model, features, drift=dict.fromkeys(DRIFTED, 0.5))
    result = check_drift(features, served_features(day, features))
    assert result.status in ("warn", "fail")
    assert sorted(result.drifted_columns) == sorted(DRIFTED)
    assert check_health(day.requests).status == "pass"


def test_the_snapshot_per_entity_shows_training_serving_skew(
    model: ProbabilisticModel, features: pd.DataFrame
) -> None:
    keyed = features.assign(patient_id=[f"p{n}" for n in range(len(features))])
    clean = simulate(model, keyed, entity_key="patient_id")
    assert clean.feature_snapshot["patient_id"].is_unique
    assert "patient_id" in clean.requests.columns
    assert check_feature_consistency(keyed, clean.feature_snapshot, key="patient_id").status == (
        "pass"
    )
    drifted = simulate(model, keyed, entity_key="patient_id", drift={"mean radius": 0.5})
    skew = check_feature_consistency(keyed, drifted.feature_snapshot, key="patient_id")
    assert skew.skewed_features == ["mean radius"]


def test_the_same_seed_gives_the_same_log(
    model: ProbabilisticModel, features: pd.DataFrame
) -> None:
    first, again = simulate(model, features, seed=7), simulate(model, features, seed=7)
    pd.testing.assert_frame_equal(first.requests, again.requests)
    pd.testing.assert_frame_equal(first.feature_snapshot, again.feature_snapshot)
    other = simulate(model, features, seed=8)
    assert not first.requests["latency_ms"].equals(other.requests["latency_ms"])


def test_write_and_read_round_trip(clean_day: ServingDay, tmp_path: Path) -> None:
    folder = clean_day.write(tmp_path / "day=2024-05-01")
    assert sorted(path.name for path in folder.iterdir()) == [
        "features.parquet",
        "requests.parquet",
    ]
    back = ServingDay.read(folder)
    pd.testing.assert_frame_equal(back.requests, clean_day.requests)
    pd.testing.assert_frame_equal(back.feature_snapshot, clean_day.feature_snapshot)
    assert check_health(back.requests).status == "pass"


def test_reading_a_folder_without_a_day_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataError, match=r"requests\.parquet"):
        ServingDay.read(tmp_path)


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"requests": 0}, "requests"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"latency_regression_ms": -1.0}, "latency_regression_ms"),
        ({"drift": {"no such column": 0.5}}, "no such column"),
        ({"entity_key": "patient_id"}, "entity_key"),
    ],
)
def test_arguments_that_cannot_be_simulated_are_refused(
    model: ProbabilisticModel, features: pd.DataFrame, faults: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidDataError, match=message):
        simulate(model, features, **faults)


def test_the_docstring_example_runs() -> None:
    assert doctest.testmod(simulator).failed == 0
