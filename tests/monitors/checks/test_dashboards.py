"""Dashboard links: a URL template filled with the model version and a check's time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aimops.errors import InvalidInputError
from aimops.monitors.checks.dashboards import dashboard_template, dashboard_url

GRAFANA = (
    "https://grafana.example.com/d/serving?var-model={model}&var-version={version}"
    "&from={start_ms}&to={end_ms}"
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WINDOW = (
    datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 26, 10, 59, 30, 250_000, tzinfo=UTC),
)


def test_every_placeholder_is_filled_in() -> None:
    template = (
        "https://dash.example.com/{model_version}?m={model}&v={version}&s={start}&e={end}"
        "&from={start_ms}&to={end_ms}&dag={dag_id}"
    )
    url = dashboard_url(
        template, model_version="churn/3", window=WINDOW, extra={"dag_id": "monitor"}
    )
    start_ms, end_ms = ((moment - EPOCH) // timedelta(milliseconds=1) for moment in WINDOW)
    assert end_ms - start_ms == 59 * 60_000 + 30_250
    assert url == (
        "https://dash.example.com/churn%2F3?m=churn&v=3"
        "&s=2026-11-26T10%3A00%3A00Z&e=2026-11-26T10%3A59%3A30.250000Z"
        f"&from={start_ms}&to={end_ms}&dag=monitor"
    )


def test_values_are_percent_encoded_so_they_cannot_change_the_url() -> None:
    url = dashboard_url(GRAFANA, model_version="churn & retention model/12", window=WINDOW)
    assert url.startswith(
        "https://grafana.example.com/d/serving?var-model=churn%20%26%20retention%20model"
        "&var-version=12&from="
    )
    hostile = dashboard_url(
        "https://dash.example.com/{task_id}", extra={"task_id": "x?admin=1#/../y"}
    )
    assert hostile == "https://dash.example.com/x%3Fadmin%3D1%23%2F..%2Fy"


def test_times_are_utc_and_naive_ones_are_taken_as_utc() -> None:
    naive = (datetime(2026, 11, 26, 10, 0), datetime(2026, 11, 26, 11, 0))
    berlin = timezone(timedelta(hours=1))
    shifted = (
        datetime(2026, 11, 26, 11, 0, tzinfo=berlin),
        datetime(2026, 11, 26, 12, 0, tzinfo=berlin),
    )
    template = "https://d.example.com/?s={start}&e={end}&from={start_ms}&to={end_ms}"
    ten = (datetime(2026, 11, 26, 10, tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)
    expected = (
        "https://d.example.com/?s=2026-11-26T10%3A00%3A00Z&e=2026-11-26T11%3A00%3A00Z"
        f"&from={ten}&to={ten + 3_600_000}"
    )
    assert dashboard_url(template, window=naive) == expected
    assert dashboard_url(template, window=shifted) == expected


def test_a_placeholder_the_check_cannot_fill_is_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as raised:
        dashboard_url(GRAFANA + "&env={environment}", model_version="churn/3", window=WINDOW)
    assert str(raised.value) == (
        "the dashboard URL template names environment, which this check cannot fill; it knows "
        "end, end_ms, model, model_version, start, start_ms, version"
    )
    with pytest.raises(InvalidInputError, match="names end_ms, start_ms, which"):
        dashboard_url(GRAFANA, model_version="churn/3")  # no window: a log without times
    with pytest.raises(InvalidInputError, match=r"it knows nothing$"):
        dashboard_url("https://d.example.com/{model}")


@pytest.mark.parametrize(
    "template",
    ["javascript:alert('{model}')", "file:///etc/{model}", "//d.example.com/{model}", ""],
)
def test_only_a_web_address_is_a_template(template: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^a dashboard URL template is an http"):
        dashboard_url(template, model_version="churn/3")


def test_the_template_comes_from_the_argument_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIMOPS_DASHBOARD_URL_TEMPLATE", raising=False)
    assert dashboard_template() is None
    assert dashboard_template("  ") is None
    monkeypatch.setenv("AIMOPS_DASHBOARD_URL_TEMPLATE", f" {GRAFANA} ")
    assert dashboard_template() == GRAFANA
    assert dashboard_template("") == GRAFANA
    assert (
        dashboard_template("https://mine.example.com/{model}") == "https://mine.example.com/{model}"
    )


def test_a_malformed_template_is_refused_naming_it() -> None:
    from aimops.errors import InvalidInputError
    from aimops.monitors.checks.dashboards import dashboard_url

    with pytest.raises(InvalidInputError, match=r"^the dashboard URL template .* is malformed"):
        dashboard_url("https://grafana.example.com/d/x?var-model={model", model_version="a/1")
