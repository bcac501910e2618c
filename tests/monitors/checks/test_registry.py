"""One registry of check kinds: a kind declared once is listed, recorded, described and drawn."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from aimops.cli import cli
from aimops.errors import CheckFailedError, InvalidInputError
from aimops.metadata import AimStore
from aimops.monitors.checks.base import RecordableCheck
from aimops.monitors.checks.jobs import CheckOutcome
from aimops.monitors.checks.recording import list_checks, record_check
from aimops.monitors.checks.registry import (
    CheckKind,
    CheckPage,
    check_kind,
    check_kinds,
    describe_failure,
    forget_check_kind,
    register_check_kind,
)
from aimops.monitors.reports import blocks
from aimops.monitors.reports.check_page import render_check_report

BUILT_IN = {"anomaly", "data_quality", "drift", "feature_consistency", "health"}


@dataclass(frozen=True)
class FreshnessResult(RecordableCheck):
    """A toy check: how many hours old each table is."""

    kind: ClassVar[str] = "freshness"
    ages: dict[str, float]
    status: str
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "metrics": self.metrics,
                "tables": self.ages, "max_age_hours": 24}  # fmt: skip


def _describe(document: Mapping[str, Any]) -> str:
    stale = [name for name, age in document["tables"].items() if age > document["max_age_hours"]]
    return f"stale tables: {', '.join(stale)}"


def _sections(document: Mapping[str, Any]) -> list[str]:
    rows = [
        ("row-fail" if age > 24 else "", [name, age]) for name, age in document["tables"].items()
    ]
    return [blocks.section("Tables", blocks.table(("Table", "Age (hours)"), rows))]


@pytest.fixture
def freshness() -> Iterator[CheckKind]:
    kind = register_check_kind(
        CheckKind(
            name="freshness", title="Data freshness", result=FreshnessResult, describe=_describe,
            page=CheckPage(rows="tables", rows_type=Mapping, sections=_sections,
                           shown=frozenset({"max_age_hours"})),
            metrics=("stale_tables",),
        )
    )  # fmt: skip
    yield kind
    forget_check_kind("freshness")


def _stale() -> FreshnessResult:
    return FreshnessResult(
        ages={"orders": 2.0, "refunds": 30.5}, status="fail", metrics={"stale_tables": 1.0}
    )


def test_the_built_in_kinds_declare_themselves() -> None:
    assert set(check_kinds()) >= BUILT_IN
    assert {name: check_kind(name).title for name in ("drift", "health")} == {
        "drift": "Data drift",
        "health": "Service health",
    }
    assert check_kind("drift").metrics == ("drift_share", "drifted_columns")


def test_a_toy_kind_is_listed_recorded_described_and_rendered(
    freshness: CheckKind, tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    assert "freshness" in check_kinds()
    result = _stale()
    with AimStore.open(url) as store:
        urn = record_check(store, result, target="urn:aim:dataset:warehouse", key="nightly/fresh")
        [listed] = list_checks(store, kind="freshness")
        points = store.get_points("urn:aim:dataset:warehouse", "check.freshness.stale_tables")
    assert listed["urn"] == str(urn) and listed["status"] == "fail"
    assert [point.value for point in points] == [1.0]
    # the CLI's --kind takes it and lists the check
    shown = CliRunner().invoke(cli, ["checks", "list", "--kind", "freshness", "--json",
                                     "--store", url])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert [found["urn"] for found in json.loads(shown.output)] == [str(urn)]
    # its own words for what failed, in a task's failure too
    assert describe_failure(result) == "stale tables: refunds"
    with pytest.raises(CheckFailedError, match=r"stale tables: refunds \[urn:aim:check:nightly"):
        CheckOutcome(urn, result).raise_for_status()
    # its page: its title, its section with the stale row marked, nothing left unshown
    page = render_check_report(result.to_dict())
    assert "<title>Data freshness check (fail)</title>" in page
    assert '<tr class="row-fail"><td>refunds</td><td class="num">30.5</td></tr>' in page
    assert "Other details" not in page


def test_an_unregistered_kind_is_refused_everywhere(tmp_path: Any) -> None:
    with AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}") as store:
        with pytest.raises(
            InvalidInputError, match="unknown check kind 'freshness'; kinds: anomaly"
        ):
            record_check(store, _stale(), target="urn:aim:dataset:warehouse")
        with pytest.raises(InvalidInputError, match="unknown check kind"):
            list_checks(store, kind="freshness")
    refused = CliRunner().invoke(cli, ["checks", "list", "--kind", "freshness"])
    assert refused.exit_code == 2 and "'freshness' is not a check kind" in refused.output
    # a page still shows what it does not know, as plain tables
    page = render_check_report(_stale().to_dict())
    assert "freshness check" in page and "Other details" in page


def test_a_second_kind_under_a_taken_name_is_refused(freshness: CheckKind) -> None:
    @dataclass(frozen=True)
    class Other:
        status: str = "pass"

    with pytest.raises(InvalidInputError, match="'freshness' is registered already"):
        register_check_kind(CheckKind(name="freshness", title="x", result=Other,
                                      describe=lambda document: ""))  # fmt: skip
    assert check_kind("freshness") is freshness
