"""Anomaly detection: spikes flagged by modified z-score, seasonal medians, verdicts, bad input."""

from __future__ import annotations

import doctest
import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.errors import InvalidDataError, InvalidInputError
from aimops.monitors.checks import anomalies
from aimops.monitors.checks.anomalies import detect_anomalies

START = datetime(2024, 3, 1, tzinfo=UTC)


def hourly(values: list[float] | np.ndarray) -> list[tuple[datetime, float]]:
    return [(START + timedelta(hours=i), float(v)) for i, v in enumerate(values)]


def noisy(n: int, seed: int = 7) -> np.ndarray:
    return 100.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def daily_cycle(days: int, seed: int = 3) -> np.ndarray:
    """Hourly values peaking at noon (~150) and lowest at midnight (~50)."""
    hours = np.arange(24 * days)
    wave = 100.0 - 50.0 * np.cos(2 * np.pi * (hours % 24) / 24)
    return wave + np.random.default_rng(seed).normal(0.0, 1.0, len(hours))


def test_a_spike_in_a_flat_noisy_series_is_flagged_and_nothing_else() -> None:
    values = noisy(60)
    values[30] = 120.0
    result = detect_anomalies(hourly(values))

    flagged = [i for i, point in enumerate(result.points) if point.anomalous]
    assert flagged == [30]
    assert result.points[30].score > 3.5
    assert max(p.score for i, p in enumerate(result.points) if i != 30) < 3.5
    assert result.points[30].expected == pytest.approx(100.0, abs=1.0)
    assert (result.status, result.anomalies, result.spread) == ("warn", 1, "mad")
    assert result.metrics["max_score"] == result.points[30].score


def test_the_score_is_the_modified_z_score() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 50.0]
    result = detect_anomalies(hourly(values))

    median = float(np.median(values))
    mad = float(np.median(np.abs(np.array(values) - median)))
    assert result.points[-1].score == pytest.approx((50.0 - median) / (1.4826 * mad))
    assert result.points[0].score == pytest.approx((median - 1.0) / (1.4826 * mad))


def test_a_noon_level_at_midnight_is_flagged_only_with_the_daily_season() -> None:
    values = daily_cycle(days=7)
    midnight = 24 * 4  # day 5, hour 0
    values[midnight] = 150.0  # what noon looks like
    series = hourly(values)

    seasonal = detect_anomalies(series, season=24)
    plain = detect_anomalies(series)

    assert [i for i, p in enumerate(seasonal.points) if p.anomalous] == [midnight]
    assert seasonal.points[midnight].expected == pytest.approx(50.0, abs=2.0)
    assert not plain.points[midnight].anomalous
    assert seasonal.season == 24 and seasonal.min_points == 96


def test_an_anomalous_latest_point_fails() -> None:
    values = noisy(30)
    values[-1] = 80.0
    result = detect_anomalies(hourly(values))

    assert result.status == "fail"
    assert result.metrics["latest_score"] > 3.5
    assert result.points[-1].anomalous


def test_a_quiet_series_passes() -> None:
    result = detect_anomalies(hourly(noisy(40)))

    assert (result.status, result.anomalies) == ("pass", 0)
    assert result.metrics["anomalies"] == 0.0


def test_too_few_points_are_inconclusive_but_still_scored() -> None:
    values = noisy(9)
    values[-1] = 150.0

    result = detect_anomalies(hourly(values))
    assert result.status == "inconclusive"
    assert result.points[-1].anomalous

    assert detect_anomalies(hourly(daily_cycle(days=3)), season=24).status == "inconclusive"
    assert detect_anomalies(hourly(values), min_points=5).status == "fail"


def test_an_empty_series_is_inconclusive_with_no_scores() -> None:
    result = detect_anomalies([])

    assert result.status == "inconclusive"
    assert result.metrics == {"anomalies": 0.0}


def test_a_constant_series_scores_zero_everywhere() -> None:
    result = detect_anomalies(hourly([5.0] * 20))

    assert result.status == "pass"
    assert result.spread == "none"
    assert all(point.score == 0.0 for point in result.points)


def test_with_mad_zero_the_mean_absolute_deviation_finds_the_one_change() -> None:
    values = [5.0] * 20
    values[12] = 6.0
    result = detect_anomalies(hourly(values))

    assert result.spread == "mean_absolute_deviation"
    assert [i for i, p in enumerate(result.points) if p.anomalous] == [12]
    assert result.points[12].score == pytest.approx(1.0 / (1.2533 * 1.0 / 20))


def test_unsorted_points_are_sorted() -> None:
    values = noisy(20)
    values[5] = 130.0
    series = hourly(values)

    result = detect_anomalies(list(reversed(series)))

    assert [p.timestamp for p in result.points] == [when for when, _ in series]
    assert [i for i, p in enumerate(result.points) if p.anomalous] == [5]


def test_a_pandas_series_indexed_by_time_is_accepted() -> None:
    values = noisy(20)
    values[-1] = 130.0
    index = pd.date_range("2024-03-01", periods=20, freq="h", tz="UTC")

    result = detect_anomalies(pd.Series(values, index=index))

    assert result.status == "fail"
    assert result.points[-1].timestamp == index[-1]


def test_the_result_is_json_compatible_and_follows_the_check_contract() -> None:
    values = noisy(20)
    values[3] = 130.0
    result = detect_anomalies(hourly(values))

    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["kind"] == "anomaly" == type(result).kind
    assert document["status"] == "warn"
    assert set(document["metrics"]) == {"anomalies", "latest_score", "max_score"}
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert document["points"][3]["anomalous"] is True
    assert document["points"][3]["timestamp"] == "2024-03-01T03:00:00+00:00"
    assert set(document["points"][0]) == {"timestamp", "value", "expected", "score", "anomalous"}


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (hourly([1.0, math.nan, 2.0, math.inf]), "2 of 4 values are NaN or infinite"),
        ([(START, 1.0), (START, 2.0)], "repeated timestamps"),
        ([("2024-03-01", 1.0)], "timestamps must be datetimes"),
        ([(START, "high")], "values must be numbers"),
        ([(START, 1.0, 2.0)], "expected \\(timestamp, value\\) pairs"),
        ([(START, 1.0), (datetime(2024, 3, 2), 2.0)], "naive and timezone-aware"),
    ],
)
def test_bad_data_is_refused_with_a_clear_message(series: list, message: str) -> None:
    with pytest.raises(InvalidDataError, match=message):
        detect_anomalies(series)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"season": 1}, "season must be at least 2"),
        ({"season": 2.5}, "season must be a whole number"),
        ({"threshold": 0.0}, "threshold must be a positive number"),
        ({"threshold": math.nan}, "threshold must be a positive number"),
        ({"min_points": 0}, "min_points must be at least 1"),
    ],
)
def test_bad_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        detect_anomalies(hourly(noisy(20)), **settings)


def test_points_recorded_in_a_store() -> None:
    store = aimops.connect("sqlite://")
    urn = store.put_entity("urn:aim:modelVersion:m/1")
    values = daily_cycle(days=5)
    values[-1] = 150.0  # a noon level at 23:00, where ~52 is expected
    store.put_points(urn, "latency_ms", hourly(values))

    recorded = store.get_points(urn, "latency_ms")
    result = detect_anomalies(recorded, season=24)

    assert len(result.points) == 120
    assert result.status == "fail"
    assert result.points[-1].value == pytest.approx(150.0)
    assert result.anomalies == 1


def test_the_docstring_examples_run() -> None:
    outcome = doctest.testmod(anomalies)
    assert outcome.attempted > 0 and outcome.failed == 0
