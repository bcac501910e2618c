"""Service health: latency percentiles, error rate and throughput per version, and verdicts."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest

from aimops.errors import InvalidDataError
from aimops.monitors.checks import health
from aimops.monitors.checks.health import check_health


def request_log(
    count: int = 600,
    *,
    version: str = "v1",
    latency_scale: float = 50.0,
    error_every: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """``count`` requests one per second, gamma latencies around ``latency_scale`` ms."""
    rng = np.random.default_rng(seed)
    status = [200] * count
    if error_every:
        status = [503 if i % error_every == 0 else 200 for i in range(count)]
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-05-01", periods=count, freq="s"),
            "model_version": version,
            "latency_ms": rng.gamma(4.0, latency_scale / 4.0, count),
            "status": status,
            "score": rng.random(count),
        }
    )


def test_docstring_examples_run() -> None:
    assert doctest.testmod(health).failed == 0


def test_clean_log_passes_with_numpys_percentiles_and_throughput() -> None:
    log = request_log()
    result = check_health(log)
    version = result.versions["v1"]
    expected = np.percentile(log["latency_ms"].to_numpy(), [50, 90, 99])
    assert [version.latency_p50_ms, version.latency_p90_ms, version.latency_p99_ms] == list(
        expected
    )
    assert version.throughput_rps == pytest.approx(600 / 599)
    assert version.throughput_rpm == pytest.approx(600 / 599 * 60)
    assert (result.status, version.violations, version.error_rate) == ("pass", [], 0.0)
    assert result.metrics["latency_p99_ms"] == expected[2]
    assert result.metrics["requests"] == 600.0


def test_latency_regression_fails_on_p99() -> None:
    log = request_log()
    log.loc[log.index[-20:], "latency_ms"] = 2000.0
    result = check_health(log)
    assert result.status == "fail"
    assert result.versions["v1"].violations == ["latency_p99_max_ms"]


def test_injected_errors_fail_on_success_rate_and_strings_are_understood() -> None:
    result = check_health(request_log(error_every=50))  # 2% errors
    version = result.versions["v1"]
    assert version.errors == 12 and version.success_rate == pytest.approx(0.98)
    assert (result.status, version.violations) == ("fail", ["success_rate_min"])
    words = request_log(error_every=50)
    words["status"] = np.where(words["status"] == 200, "OK", "error")
    assert check_health(words).versions["v1"].errors == 12


def test_tiny_log_is_inconclusive_and_overall_is_the_worst_version() -> None:
    assert check_health(request_log(20)).status == "inconclusive"
    canary = request_log(300, version="v2", latency_scale=900.0, seed=3)
    both = pd.concat([request_log(), canary], ignore_index=True)
    result = check_health(both)
    assert {name: v.status for name, v in result.versions.items()} == {"v1": "pass", "v2": "fail"}
    assert result.status == "fail"
    assert result.metrics["v2.requests"] == 300.0 and "requests" not in result.metrics
    only_stable = check_health(both, model_version="v1")
    assert list(only_stable.versions) == ["v1"] and only_stable.status == "pass"


def test_objectives_merge_with_defaults_and_none_drops_one() -> None:
    log = request_log(error_every=50)
    relaxed = check_health(log, objectives={"success_rate_min": 0.95, "latency_p50_max_ms": 1.0})
    assert relaxed.objectives == {
        "success_rate_min": 0.95,
        "latency_p99_max_ms": 500.0,
        "latency_p50_max_ms": 1.0,
    }
    assert relaxed.versions["v1"].violations == ["latency_p50_max_ms"]
    dropped = check_health(log, objectives={"success_rate_min": None})
    assert dropped.status == "pass"


def test_to_dict_is_json_with_kind_status_and_metrics() -> None:
    document = json.loads(json.dumps(check_health(request_log()).to_dict()))
    assert (document["kind"], document["status"]) == ("health", "pass")
    assert set(document["metrics"]) == set(health.HEADLINE_METRICS)
    assert document["versions"]["v1"]["requests"] == 600


def test_single_request_has_no_throughput() -> None:
    result = check_health(request_log(1), min_requests=1)
    assert result.versions["v1"].throughput_rps is None
    assert "throughput_rps" not in result.metrics


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda log: log.drop(columns="latency_ms"), "'latency_ms'"),
        (lambda log: log.assign(latency_ms="fast"), "column 'latency_ms' must hold numbers"),
        (lambda log: log.assign(latency_ms=-1.0), "column 'latency_ms'"),
        (lambda log: log.assign(timestamp="yesterday"), "column 'timestamp'"),
        (lambda log: log.assign(status="maybe"), "column 'status' holds 'maybe'"),
        (lambda log: log.assign(status=42), "column 'status' holds 42"),
        (lambda log: log.assign(model_version=None), "column 'model_version'"),
    ],
)
def test_bad_logs_name_the_column(change: object, message: str) -> None:
    with pytest.raises(InvalidDataError, match=message):
        check_health(change(request_log(10)))  # type: ignore[operator]


def test_no_requests_are_too_few_requests() -> None:
    absent = check_health(request_log(10), model_version="v9")
    assert absent.status == "inconclusive" and absent.versions["v9"].requests == 0
    assert absent.versions["v9"].latency_p99_ms is None
    empty = check_health(request_log(10).iloc[:0])
    assert (empty.status, empty.versions, empty.window_seconds) == ("inconclusive", {}, 0.0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InvalidDataError, match="unknown objective"):
        check_health(request_log(10), objectives={"latency_max": 1.0})
    with pytest.raises(InvalidDataError, match="min_requests"):
        check_health(request_log(10), min_requests=0)
