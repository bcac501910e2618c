"""The check report: one static page per check result, from real checks of every kind.

Each page is parsed with the standard library's HTML parser and judged as a reader would see
it: the badge, the highlighted rows, the numbers, the links, and what a hostile label becomes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aimops.errors import InvalidInputError
from aimops.monitors import (
    check_data_quality,
    check_drift,
    check_feature_consistency,
    check_health,
    detect_anomalies,
    render_check_report,
    write_check_report,
)

EVIL = "<img src=x onerror=alert(1)>"
#: The pattern operators/web/app.py reads a page's policy with.
PAGE_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"')
VOID_TAGS = {"meta", "br", "hr", "img", "input", "link", "wbr"}

Row = tuple[str, list[str]]


class Page(HTMLParser):
    """What a page holds: its table rows (class and cell texts), tags, links and text."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[Row] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.unclosed: list[str] = []
        self.mismatched: list[str] = []
        self.texts: list[str] = []
        self.facts: dict[str, str] = {}  # the header's <dt> terms and their <dd> text
        self._cell: list[str] | None = None
        self._term = ""
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID_TAGS:
            self.unclosed.append(tag)
        if tag == "tr":
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag in ("td", "th", "dt", "dd"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if not self.unclosed or self.unclosed.pop() != tag:
            self.mismatched.append(tag)
        if tag in ("td", "th", "dt", "dd") and self._cell is not None:
            text = "".join(self._cell).strip()
            if tag == "dt":
                self._term = text
            elif tag == "dd":
                self.facts[self._term] = text
            else:
                self.rows[-1][1].append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def row(self, first_cell: str) -> Row:
        """The row whose first cell reads ``first_cell``."""
        found = [row for row in self.rows if row[1] and row[1][0] == first_cell]
        assert len(found) == 1, (first_cell, self.rows)
        return found[0]

    def value(self, key: str) -> str:
        """The value shown beside ``key`` in a key/value table."""
        return self.row(key)[1][1]

    def badge(self) -> str:
        badges = [attrs for tag, attrs in self.tags if "badge" in (attrs.get("class") or "")]
        return str(badges[0]["class"])


@pytest.fixture(scope="module")
def data_quality() -> dict[str, Any]:
    """A real Great Expectations run: two failures, a warning, one not evaluated, one pass."""
    frame = pd.DataFrame(
        {"id": [1, 2, 2, 4], EVIL: [34, 51, 130, 40], "plan": ["free", "pro", "gold", "free"]}
    )
    suite = [
        {"expect": "unique", "column": "id"},
        {"expect": "between", "column": EVIL, "min": 0, "max": 120, "severity": "warn"},
        {"expect": "in_set", "column": "plan", "values": ["free", "pro"]},
        {"expect": "mean_between", "column": "plan", "min": 0},
        {"expect": "row_count_between", "min": 1},
    ]
    return check_data_quality(frame, suite, name="Orders <nightly>").to_dict()


@pytest.fixture(scope="module")
def drift() -> dict[str, Any]:
    """``plan`` keeps its distribution; ``age`` and the hostile column move (40 rows a side,
    enough for a verdict either way)."""
    reference = pd.DataFrame(
        {
            "plan": list("aabbaabb") * 5,
            "age": [30.5, 41.0, 25.5, 38.0, 52.5, 29.0, 44.5, 35.0] * 5,
            EVIL: [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5] * 5,
        }
    )
    current = pd.DataFrame(
        {
            "plan": list("aabbaabb") * 5,
            "age": [60.5, 71.0, 65.5, 68.0, 72.5, 59.0, 64.5, 75.0] * 5,
            EVIL: [91.5, 92.5, 93.5, 94.5, 95.5, 96.5, 97.5, 98.5] * 5,
        }
    )
    return check_drift(reference, current).to_dict()


@pytest.fixture(scope="module")
def consistency() -> dict[str, Any]:
    """40 keyed rows a side, one key missing on each; a quarter of the cities changed."""
    ids = list(range(40))
    training = pd.DataFrame(
        {"id": ids, "age": [20.0, 30.0, 40.0, 50.0] * 10, "city": ["a", "a", "b", "b"] * 10}
    )
    serving = pd.DataFrame(
        {
            "id": [*ids[:-1], 100],
            "age": [20.0, 30.0, 40.0, 50.0] * 10,
            "city": ["a", "b", "b", "b"] * 10,
        }
    )
    return check_feature_consistency(training, serving, key="id").to_dict()


@pytest.fixture(scope="module")
def health() -> dict[str, Any]:
    """``v1`` is healthy; ``v2`` answers slowly and fails half its requests."""
    log = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=200, freq="s"),
            "model_version": ["v1"] * 100 + ["v2"] * 100,
            "latency_ms": [20.0] * 100 + [900.0] * 100,
            "status": [200] * 150 + [500] * 50,
        }
    )
    return check_health(log).to_dict()


@pytest.fixture(scope="module")
def anomaly() -> dict[str, Any]:
    start = datetime(2024, 1, 1)
    values = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 9.9, 10.2, 25.0, 10.0]
    series = [(start + timedelta(hours=hour), value) for hour, value in enumerate(values)]
    return detect_anomalies(series).to_dict()


@pytest.fixture(scope="module")
def documents(
    data_quality: dict[str, Any],
    drift: dict[str, Any],
    consistency: dict[str, Any],
    health: dict[str, Any],
    anomaly: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    return {
        "data_quality": data_quality,
        "drift": drift,
        "feature_consistency": consistency,
        "health": health,
        "anomaly": anomaly,
    }


@pytest.mark.parametrize(
    ("kind", "heading", "status"),
    [
        ("data_quality", "Data quality check", "fail"),
        ("drift", "Data drift check", "fail"),
        ("feature_consistency", "Feature consistency check", "fail"),
        ("health", "Service health check", "fail"),
        ("anomaly", "Anomaly detection check", "warn"),
    ],
)
def test_every_kind_shows_its_verdict_metrics_and_nothing_active(
    documents: dict[str, dict[str, Any]], kind: str, heading: str, status: str
) -> None:
    document = documents[kind]
    page_html = render_check_report(document, checked_at="2024-06-01T02:00:00Z")
    page = Page(page_html)

    assert document["status"] == status
    assert page.badge() == f"badge status-{status}"
    assert f'<span class="badge status-{status}">{status}</span>' in page_html
    assert heading in page.text
    assert page.facts == {"Checked at": "2024-06-01T02:00:00Z"}
    for metric in document["metrics"]:
        if kind == "drift" and metric.startswith("drift."):  # a column's score: its own row
            cells = page.row(metric.removeprefix("drift."))[
                1
            ]  # name, kind, method, threshold, score
            assert cells[4] not in ("", "\u2014"), metric
            continue
        assert page.row(metric)[1][1] != "\u2014", metric  # every headline number is shown
    assert "<script" not in page_html.lower()
    assert not page.unclosed and not page.mismatched
    assert not [tag for tag, _ in page.tags if tag in ("script", "img", "iframe", "link")]


def test_the_policy_allows_exactly_the_page_s_own_style(drift: dict[str, Any]) -> None:
    page_html = render_check_report(drift)

    found = PAGE_POLICY.search(page_html)
    assert found is not None
    policy = html.unescape(found.group(1))
    style = re.search(r"<style>(.*?)</style>", page_html, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert policy.startswith(f"default-src 'none'; style-src 'sha256-{digest}'")
    assert page_html.count("<style") == 1 and " style=" not in page_html


def test_data_quality_names_each_failing_expectation_in_a_highlighted_row(
    data_quality: dict[str, Any],
) -> None:
    page = Page(render_check_report(data_quality))

    unique = page.row("id is unique")
    assert unique[0] == "row-fail"
    assert unique[1][1:7] == [
        "expect_column_values_to_be_unique", "id", "error", "fail", "\u2014", "2 (50%)"
    ]  # fmt: skip
    assert unique[1][7] == "2, 2"
    in_set = page.row("plan in ['free', 'pro']")
    assert in_set[0] == "row-fail" and in_set[1][6:8] == ["1 (25%)", '"gold"']
    hostile = page.row(f"{EVIL} between 0 and 120")
    assert hostile[0] == "row-warn" and hostile[1][2:5] == [EVIL, "warn", "warn"]
    assert hostile[1][7] == "130"
    not_evaluated = page.row("mean of plan at least 0")
    assert not_evaluated[0] == "row-inconclusive" and not_evaluated[1][8]  # GX's message
    row_count = page.row("row count at least 1")
    assert row_count[0] == "" and row_count[1][4:6] == ["pass", "4"]
    assert page.value("Rows checked") == "4"
    assert page.value("success_percent") == "20"
    assert "Orders <nightly>" in page.text  # the result's name is the title


def test_drift_lists_drifted_columns_first_and_the_share_against_its_threshold(
    drift: dict[str, Any],
) -> None:
    page = Page(render_check_report(drift))

    columns = [row for row in page.rows if row[1] and row[1][0] in ("plan", "age", EVIL)]
    assert [(row[1][0], row[0]) for row in columns] == [
        ("age", "row-fail"), (EVIL, "row-fail"), ("plan", "")
    ]  # fmt: skip
    age = columns[0][1]
    assert age[1:4] == ["numerical", "ks", "0.05"] and age[5] == "yes"
    assert float(age[4]) == pytest.approx(drift["columns"]["age"]["score"], rel=1e-3)
    assert page.value("Drifted columns") == "2 of 3"
    assert page.value("Drift share") == "0.6667"
    assert page.value("Share threshold") == "0.5"
    assert page.value("Dataset drift") == "yes"


def test_feature_consistency_highlights_the_skewed_feature_and_sums_up_the_join(
    consistency: dict[str, Any],
) -> None:
    page = Page(render_check_report(consistency))

    assert page.row("city") == (
        "row-fail",
        ["city", "categorical", "L-infinity distance", "0.25", "0.1", "0.7436", "yes"],
    )
    assert page.row("age") == (
        "",
        ["age", "numeric", "Jensen-Shannon distance", "0", "0.1", "1", "no"],
    )
    assert page.value("Join key") == "id"
    assert page.value("Keys matched") == "39"
    assert page.value("Keys missing in serving") == "1"
    assert page.value("Keys missing in training") == "1"


def test_health_highlights_the_version_that_misses_its_objectives(
    health: dict[str, Any],
) -> None:
    page = Page(render_check_report(health))

    assert page.row("v2") == (
        "row-fail",
        ["v2", "100", "50", "0.5", "900", "900", "900", "0.5025", "fail",
         "success_rate_min, latency_p99_max_ms"],
    )  # fmt: skip
    assert page.row("v1")[0] == "" and page.row("v1")[1][8:] == ["pass", "\u2014"]
    assert page.value("success_rate_min") == "0.99"
    assert page.value("latency_p99_max_ms") == "500"
    assert page.value("min_requests") == "100"


def test_anomaly_lists_the_flagged_points_and_counts_them(anomaly: dict[str, Any]) -> None:
    page = Page(render_check_report(anomaly))

    flagged = page.row("2024-01-01T10:00:00")
    assert flagged[0] == "row-fail"
    assert flagged[1][1:3] == ["25", "10"] and float(flagged[1][3]) > 3.5
    assert page.value("Flagged points") == "1 of 12"
    assert page.value("Score threshold") == "3.5"
    assert "2024-01-01T09:00:00" not in page.text  # only flagged points are listed


def test_a_hostile_label_anywhere_is_shown_as_text(
    data_quality: dict[str, Any], drift: dict[str, Any]
) -> None:
    for document in (data_quality, drift):
        page_html = render_check_report(
            document,
            title=EVIL,
            links={EVIL: 'https://example.org/?q=<b>&x="y"'},
            checked_at=EVIL,
            targets=[EVIL, "urn:aim:dataset:orders"],
        )
        page = Page(page_html)

        assert "<img" not in page_html
        assert html.escape(EVIL) in page_html
        assert not [tag for tag, _ in page.tags if tag == "img"]
        assert page.text.count(EVIL) >= 4  # title, heading, checked at, a target, a row...
        [anchor] = [attrs for tag, attrs in page.tags if tag == "a"]
        assert anchor["href"] == 'https://example.org/?q=<b>&x="y"'  # one attribute, intact
        assert not page.unclosed and not page.mismatched


def test_only_web_and_relative_links_become_anchors(health: dict[str, Any]) -> None:
    links = {
        "Evidently report": "https://reports.example.org/drift.html",
        "Grafana": "http://grafana:3000/d/abc",
        "Previous": "../2024-05-31/health.html",
        "Script": "javascript:alert(1)",
        "Spaced script": "  JavaScript:alert(1)",
        "Split script": "java\tscript:alert(1)",
        "Data": "data:text/html,<b>hi</b>",
        "Mail": "mailto:oncall@example.org",
    }
    page_html = render_check_report(health, links=links)
    page = Page(page_html)

    anchors = {attrs["href"] for tag, attrs in page.tags if tag == "a"}
    assert anchors == {
        "https://reports.example.org/drift.html",
        "http://grafana:3000/d/abc",
        "../2024-05-31/health.html",
    }
    assert "Script: javascript:alert(1)" in page.text  # still there, as text
    assert "Mail: mailto:oncall@example.org" in page.text
    assert 'href="javascript' not in page_html.lower() and "<b>" not in page_html


def test_an_unknown_kind_and_extra_keys_are_shown_as_key_values() -> None:
    document = {
        "kind": "latency_budget",
        "status": "excellent",
        "metrics": {"budget_left": 0.25, "calls": 3},
        "owner": "team <ml>",
        "flags": [True, None, "x"],
        "detail": {"nested": {"a": [1, 2]}, "none": None},
    }
    page_html = render_check_report(document, targets="urn:aim:deployment:churn")
    page = Page(page_html)

    assert page.badge() == "badge status-unknown" and "excellent" in page.text
    assert "latency_budget check" in page.text
    assert page.value("budget_left") == "0.25" and page.value("calls") == "3"
    assert page.value("owner") == "team <ml>"
    assert page.value("flags") == "yes, \u2014, x"
    assert page.value("detail") == '{"nested": {"a": [1, 2]}, "none": null}'
    assert page.facts == {"Targets": "urn:aim:deployment:churn"}  # one target, not its letters
    assert not page.unclosed and not page.mismatched


def test_a_document_of_a_known_kind_with_odd_parts_still_renders(
    drift: dict[str, Any], anomaly: dict[str, Any]
) -> None:
    odd_drift = {**drift, "columns": ["age"], "engine": "evidently"}
    page = Page(render_check_report(odd_drift))
    assert page.value("columns") == "age" and page.value("engine") == "evidently"

    odd_anomaly = {**anomaly, "points": [None, {"anomalous": True}], "metrics": None}
    page = Page(render_check_report(odd_anomaly))
    assert page.value("Flagged points") == "1 of 2" and "No metrics." in page.text

    bare = Page(render_check_report({}))
    assert bare.badge() == "badge status-unknown" and "Unknown check" in bare.text


@pytest.mark.parametrize("odd", [None, True, 0, -1.5, "", [], {}, ["x", 1], {"a": {"b": None}}])
def test_any_json_value_in_any_place_renders(
    documents: dict[str, dict[str, Any]], odd: Any
) -> None:
    for document in documents.values():
        for variant in _variants(document, odd):
            page = Page(render_check_report(variant))
            assert page.badge() and not page.unclosed and not page.mismatched


def _variants(document: dict[str, Any], odd: Any) -> Iterator[dict[str, Any]]:
    """``document`` with ``odd`` in place of each value, and of each field of its first row."""
    for key, value in document.items():
        yield {**document, key: odd}
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for field in value[0]:
                yield {**document, key: [{**value[0], field: odd}, *value[1:]]}
        elif isinstance(value, dict) and value:
            name, first = next(iter(value.items()))
            for field in first if isinstance(first, dict) else ():
                yield {**document, key: {**value, name: {**first, field: odd}}}


def test_a_document_must_be_a_mapping(drift: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match=r"result\.to_dict\(\)"):
        render_check_report([drift])  # type: ignore[arg-type]


def test_write_check_report_replaces_the_page_whole(
    health: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "checks" / "health.html"
    assert write_check_report(health, target, title="first") == target
    with target.open("rb", buffering=0) as reader:  # someone reading the first page...
        first = reader.read(200)
        write_check_report(health, str(target), title="second", targets=["urn:aim:model:m"])
        assert (first + reader.read()).count(b"<title>first") == 1  # ...keeps reading it whole
    assert "<title>second (fail)</title>" in target.read_text(encoding="utf-8")

    def disk_full(source: object, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("aimops.monitors.reports.page.os.replace", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        write_check_report(health, target, title="third")
    assert "<title>second (fail)</title>" in target.read_text(encoding="utf-8")
    assert [path.name for path in target.parent.iterdir()] == ["health.html"]  # no leftovers
