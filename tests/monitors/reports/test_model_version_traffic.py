"""The traffic part of a model version's page, from a real store and real ramps.

``churn`` is rolled out (1), ramped to a new champion (2: every step passes, complete), ramped
again (3: the first step passes, the second fails its latency and success gates, rolled back)
and once more (4: one step passed, ramping); 1 is also rolled out in ``staging``. The ramps run
through the engine with request logs given as DataFrames, a file router and no MLflow. Each
page is parsed with the standard library's HTML parser and judged as a reader sees it: the
serving table, every traffic change, the weight chart, each ramp's schedule and each step's
verdict and gates; hostile names and reasons stay text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from aimops.metadata import AimStore
from aimops.metadata.lifecycle.routers import FileRouter, TrafficState
from aimops.metadata.recording import record_model_version
from aimops.metadata.urns import Urn, model_version_urn
from aimops.monitors.ramps.engine import advance_ramp, start_ramp
from aimops.monitors.reports.model_version_page import (
    render_model_version_page,
    write_model_version_page,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
HOSTILE_MODEL = "<script>alert(1)</script>"
HOSTILE_REASON = '<img src=x onerror="alert(2)"> go \u202egnp.exe'
HOSTILE_ACTOR = '"><b>mallory'
HOSTILE_ENVIRONMENT = "<i>canary</i>"
#: The tags a page with traffic may hold (the SVG chart's among them), and no other.
TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "p", "div", "h1", "span",
    "dl", "dt", "dd", "main", "section", "h2", "h3", "h4", "table", "thead", "tbody", "tr",
    "th", "td", "ul", "li", "ol", "a", "code", "br", "footer", "svg", "line", "text",
    "polyline", "circle",
}  # fmt: skip


@dataclass
class Table:
    """A table as a reader sees it: the headings above it, its head and its rows (each its
    class and its cells' text; a key-value table's rows are [key, value])."""

    h2: str
    h3: str
    h4: str
    head: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def facts(self) -> dict[str, str]:
        return {cells[0]: cells[1] for _, cells in self.rows}

    def column(self, name: str) -> list[str]:
        index = self.head.index(name)
        return [cells[index] for _, cells in self.rows]


class Page(HTMLParser):
    """Every table with the headings above it, every heading's text, each badge (class, text)
    and the tags the page opens."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.headings: dict[str, list[str]] = {"h2": [], "h3": [], "h4": []}
        self.badges: list[tuple[str, str, str]] = []  # (h2, class, text)
        self.schedules: list[list[tuple[str, str]]] = []  # each li's (class, text)
        self.tags: set[str] = set()
        self._open: dict[str, list[str]] = {}
        self._where = {"h2": "", "h3": "", "h4": ""}
        self._in_head = False
        self._badge = ""
        self._li = ""
        self.feed(page)
        self.close()

    def tables_in(self, h2: str) -> list[Table]:
        return [table for table in self.tables if table.h2 == h2]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        found = dict(attrs)
        if tag == "table":
            self.tables.append(Table(**self._where))
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head:
            self.tables[-1].rows.append((found.get("class") or "", []))
        elif tag == "ol":
            self.schedules.append([])
        elif tag == "li" and self.schedules:
            self._li = found.get("class") or ""
        if tag == "span" and "badge" in (found.get("class") or ""):
            self._badge = str(found["class"])
        if tag in ("th", "td", "h2", "h3", "h4", "span", "li"):
            self._open[tag] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        if tag not in self._open:
            return
        text = "".join(self._open.pop(tag)).strip()
        if tag in ("h2", "h3", "h4"):
            self.headings[tag].append(text)
            self._where[tag] = text
            for lower in {"h2": ("h3", "h4"), "h3": ("h4",), "h4": ()}[tag]:
                self._where[lower] = ""
        elif tag in ("th", "td") and self._in_head:
            self.tables[-1].head.append(text)
        elif tag in ("th", "td"):
            self.tables[-1].rows[-1][1].append(text)
        elif tag == "span" and self._badge:
            self.badges.append((self._where["h2"], self._badge, text))
            self._badge = ""
        elif tag == "li" and self.schedules:
            self.schedules[-1].append((self._li, text))

    def handle_data(self, data: str) -> None:
        for parts in self._open.values():
            parts.append(data)


def served(
    model: str, split: dict[str, int], *, slow: str | None = None, failing: str | None = None
) -> pd.DataFrame:
    """``split[v]`` requests to each version: 40 ms and status 200, unless ``slow`` (900 ms)
    or ``failing`` (one in five is a 500)."""
    frames = []
    for version, count in split.items():
        statuses = [500 if version == failing and n % 5 == 0 else 200 for n in range(count)]
        frames.append(pd.DataFrame({
            "timestamp": pd.Timestamp(T0) + pd.to_timedelta(range(count), unit="s"),
            "model_version": f"{model}/{version}",
            "latency_ms": 900.0 if version == slow else 40.0,
            "status": statuses,
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


class MemoryRouter:
    """A router that keeps each deployment's traffic in memory (a file router refuses a model
    name with a ``/``, which a URN takes)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], TrafficState] = {}

    def check(self, model: str, environment: str) -> None:
        return None

    def apply(self, state: TrafficState) -> None:
        self.states[state.model, state.environment] = state

    def current(self, model: str, environment: str) -> TrafficState | None:
        return self.states.get((model, environment))


@dataclass
class Ramped:
    store: AimStore
    router: FileRouter | MemoryRouter
    folder: Path
    clock: list[dt.datetime]

    def publish(self, model: str, *numbers: int) -> None:
        for number in numbers:
            version = record_model_version(self.store, model, number)
            self.store.put_aspect(
                version, "lifecycle",
                {"state": "published", "transition": "publish", "previous": "publishable",
                 "actor": "ana", "at": T0},
            )  # fmt: skip

    def tick(self) -> dt.datetime:
        self.clock[0] += dt.timedelta(minutes=10)
        return self.clock[0]

    def start(self, version: str | Urn, **options: object) -> None:
        start_ramp(
            self.store, version, bake_time=0, router=self.router, mlflow=False, now=self.tick(),
            **options,
        )  # fmt: skip

    def advance(self, version: str | Urn, requests: pd.DataFrame, **options: object) -> str:
        done = advance_ramp(
            self.store, version, requests=requests, router=self.router, mlflow=False,
            alert=False, now=self.tick(), **options,
        )  # fmt: skip
        return done.did


@pytest.fixture(scope="module")
def ramped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ramped]:
    folder = tmp_path_factory.mktemp("traffic")
    store = AimStore.open(f"sqlite:///{folder / 'aim.db'}")
    world = Ramped(store, FileRouter(folder / "traffic"), folder, [T0])
    world.publish("churn", 1, 2, 3, 4)
    world.start("churn/1")  # no champion: an initial rollout
    assert world.advance("churn/1", served("churn", {"1": 150})) == "promoted"
    world.start("churn/1", environment="staging")
    assert world.advance("churn/1", served("churn", {"1": 150}), environment="staging") == (
        "promoted"
    )
    world.start("churn/2", schedule=[10, 50, 100])
    for did in ("advanced", "advanced", "promoted"):
        assert world.advance("churn/2", served("churn", {"2": 150, "1": 300})) == did
    world.start("churn/3", schedule=[5, 25, 100], reason=HOSTILE_REASON, actor=HOSTILE_ACTOR)
    assert world.advance("churn/3", served("churn", {"3": 150, "2": 300})) == "advanced"
    failing = served("churn", {"3": 150, "2": 300}, slow="3", failing="3")
    assert world.advance("churn/3", failing) == "rolled_back"
    world.start("churn/4", schedule=[5, 50, 100])
    assert world.advance("churn/4", served("churn", {"4": 150, "2": 300})) == "advanced"
    yield world
    store.close()


def test_the_serving_table_shows_traffic_champion_and_ramp_per_environment(
    ramped: Ramped,
) -> None:
    page = Page(render_model_version_page(ramped.store, "churn/1"))
    (serving,) = page.tables_in("Serving")
    assert serving.head[:4] == ["Environment", "Traffic", "Champion", "Ramp"]
    production, staging = (cells for _, cells in serving.rows)
    assert production[:3] == ["production", "0 %", "no (the champion is churn/2)"]
    assert production[3] == "complete step 1 of 1 (100 %)urn:aim:ramp:churn/production/1"
    assert staging[:3] == ["staging", "100 %", "yes"]
    assert staging[3] == "complete step 1 of 1 (100 %)urn:aim:ramp:churn/staging/1"
    assert serving.column("Deployment") == [
        "urn:aim:deployment:churn/production", "urn:aim:deployment:churn/staging",
    ]  # fmt: skip

    page = Page(render_model_version_page(ramped.store, "churn/4"))
    ((_, row),) = page.tables_in("Serving")[0].rows
    assert row[:4] == [
        "production", "50 %", "no (the champion is churn/2)",
        "ramping step 2 of 3 (50 %)urn:aim:ramp:churn/production/4",
    ]  # fmt: skip
    assert ("Serving", "badge ramp-ramping", "ramping") in page.badges


def test_the_traffic_table_lists_every_change_with_its_weights(ramped: Ramped) -> None:
    text = render_model_version_page(ramped.store, "churn/3")
    page = Page(text)
    assert page.headings["h3"][:1] == ["production: churn/3 serves 0 %"]
    (changes,) = page.tables_in("Traffic")  # 3 never served in staging
    assert changes.head == [
        "When", "Revision", "Change", "Weights", "churn/3", "Champion", "Actor", "Reason",
    ]  # fmt: skip
    assert changes.column("Revision") == [str(n) for n in range(1, 12)]
    moment = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    assert all(re.fullmatch(moment, when) for when in changes.column("When"))
    assert changes.column("Change") == [
        "ramp_started", "promoted", "ramp_started", "ramp_step", "ramp_step", "promoted",
        "ramp_started", "ramp_step", "rolled_back", "ramp_started", "ramp_step",
    ]  # fmt: skip
    assert changes.column("Weights")[2:9] == [
        "churn/1 90 %, churn/2 10 %", "churn/1 50 %, churn/2 50 %", "churn/2 100 %",
        "churn/2 100 %", "churn/2 95 %, churn/3 5 %", "churn/2 75 %, churn/3 25 %",
        "churn/2 100 %",
    ]  # fmt: skip
    assert changes.column("churn/3")[5:10] == ["0 %", "5 %", "25 %", "0 %", "0 %"]
    assert changes.column("Champion")[:3] == ["none", "churn/1", "churn/1"]
    assert changes.column("Champion")[-1] == "churn/2"
    rolled_back = changes.rows[8][1]
    assert rolled_back[6] == HOSTILE_ACTOR
    assert rolled_back[7].startswith("step 2 of 3 (25%) failed: success_rate:")
    # the version's weight over time, drawn without a script: 0, 5, 25, back to 0
    chart = re.search(r'<svg class="weights"[^>]*>.*?</svg>', text, re.S)
    assert chart and 'aria-label="weight of churn/3 in production over time"' in chart.group()
    weights = re.findall(r"<title>[^<]*: (\d+) %</title>", chart.group())
    assert weights == ["0", "5", "25", "0"]


def test_each_ramp_shows_its_schedule_note_and_every_step_s_analysis(ramped: Ramped) -> None:
    page = Page(render_model_version_page(ramped.store, "churn/3"))
    heading = "urn:aim:ramp:churn/production/3: churn/3 in productionrolled_back"
    assert page.headings["h3"][1] == heading
    ramp = page.tables_in("Ramps")[0].facts
    assert ramp["Status"] == "rolled_back" and ramp["Step"] == "step 2 of 3 (25 %)"
    assert ramp["Champion when it started"] == "churn/2"
    assert ramp["Started by"] == HOSTILE_ACTOR
    assert ramp["Reason"] == HOSTILE_REASON.replace("\u202e", "\\u202e")
    assert ramp["Failed analyses"] == "1 of 1 allowed"
    assert ramp["Note"].startswith("step 2 of 3 (25%) failed: success_rate:")
    assert page.schedules == [[("step-done", "5 %"), ("step-current", "25 %"), ("", "100 %")]]
    assert page.headings["h4"] == ["Step 1 of 3 at 5 %pass", "Step 2 of 3 at 25 %fail"]
    verdicts = [text for h2, kind, text in page.badges if h2 == "Ramps" and "status-" in kind]
    assert verdicts[:1] == ["pass"] and "fail" in verdicts
    first, first_gates, second, second_gates = page.tables_in("Ramps")[1:]
    assert first.facts["Requests"] == "churn/2: 300, churn/3: 150"
    assert first.facts["Decision"] == "advance"
    assert re.fullmatch(r"2026-03-01 \S+ UTC \u2192 2026-03-01 \S+ UTC", first.facts["Window"])
    assert first_gates.head == ["Gate", "Status", "Value", "Limit", "Detail"]
    assert {cells[1] for _, cells in first_gates.rows} == {"pass"}
    assert second.facts["Decision"] == "roll_back"
    failed = [cells[0] for row_class, cells in second_gates.rows if row_class == "row-fail"]
    assert failed == [
        "success_rate", "latency_p99", "latency_p99_vs_champion", "success_rate_vs_champion",
    ]  # fmt: skip
    p99 = next(cells for _, cells in second_gates.rows if cells[0] == "latency_p99")
    assert p99[1:] == ["fail", "900", "500", "900 ms > 500 ms"]


def test_a_completed_ramp_marks_its_last_step_and_each_passed_analysis(ramped: Ramped) -> None:
    page = Page(render_model_version_page(ramped.store, "churn/2"))
    ((_, serving),) = page.tables_in("Serving")[0].rows
    assert serving[:3] == ["production", "50 %", "yes"]  # 4 is ramping at 50 %
    assert page.schedules == [[("step-done", "10 %"), ("step-done", "50 %"),
                               ("step-current", "100 %")]]  # fmt: skip
    assert page.headings["h4"] == [
        "Step 1 of 3 at 10 %pass", "Step 2 of 3 at 50 %pass", "Step 3 of 3 at 100 %pass",
    ]  # fmt: skip
    ramp = page.tables_in("Ramps")[0].facts
    assert ramp["Status"] == "complete" and ramp["Note"] == (
        "step 3 of 3 (100%) passed: 2 is the champion"
    )
    decisions = [t.facts["Decision"] for t in page.tables_in("Ramps") if "Decision" in t.facts]
    assert decisions == ["advance", "advance", "promote"]
    assert not [row for t in page.tables_in("Ramps") for row, _ in t.rows if row == "row-fail"]


def test_a_version_never_deployed_says_so_and_the_written_page_has_no_script(
    ramped: Ramped,
) -> None:
    record_model_version(ramped.store, "churn", 9)
    page = Page(render_model_version_page(ramped.store, "churn/9"))
    assert [cells for _, cells in page.tables_in("Serving")[0].rows] == [
        ["Traffic", "0 %"], ["Champion", "no"], ["Ramp", "none"],
    ]  # fmt: skip
    assert not page.tables_in("Traffic") and not page.tables_in("Ramps")
    written = write_model_version_page(ramped.store, "churn/3", ramped.folder / "pages")
    text = written.read_text(encoding="utf-8")
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "\u202e" not in text and "\\u202e" in text
    assert Page(text).tags <= TAGS
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    assert policy and policy.group(1).startswith("default-src 'none'; style-src 'sha256-")


def test_a_hostile_model_name_stays_text_in_every_traffic_part(tmp_path: Path) -> None:
    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    router = MemoryRouter()
    world = Ramped(store, router, tmp_path, [T0])
    world.publish(HOSTILE_MODEL, 1, 2)
    first, second = (model_version_urn(HOSTILE_MODEL, n) for n in (1, 2))  # a "/" in the name
    where = {"environment": HOSTILE_ENVIRONMENT}
    world.start(first, **where)
    assert world.advance(first, served(HOSTILE_MODEL, {"1": 150}), **where) == "promoted"
    world.start(second, schedule=[20, 100], reason=HOSTILE_REASON, **where)
    slow = served(HOSTILE_MODEL, {"2": 150, "1": 300}, slow="2")
    assert world.advance(second, slow, **where) == "rolled_back"
    assert router.states[HOSTILE_MODEL, HOSTILE_ENVIRONMENT].weights == {"1": 100}
    text = render_model_version_page(store, second)
    assert "<script" not in text and "<img" not in text and "\u202e" not in text
    assert "<i>" not in text and "&lt;i&gt;canary&lt;/i&gt;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;/1 80 %" in text
    page = Page(text)
    assert page.tags <= TAGS
    assert page.headings["h3"][0] == f"{HOSTILE_ENVIRONMENT}: {HOSTILE_MODEL}/2 serves 0 %"
    (changes,) = page.tables_in("Traffic")
    assert changes.column("Weights")[-2:] == [
        f"{HOSTILE_MODEL}/1 80 %, {HOSTILE_MODEL}/2 20 %", f"{HOSTILE_MODEL}/1 100 %",
    ]  # fmt: skip
    ((_, serving),) = page.tables_in("Serving")[0].rows
    assert serving[2] == f"no (the champion is {HOSTILE_MODEL}/1)"
    ramp = page.tables_in("Ramps")[0].facts
    assert ramp["Champion when it started"] == f"{HOSTILE_MODEL}/1"
    assert ramp["Reason"] == HOSTILE_REASON.replace("\u202e", "\\u202e")
    assert page.headings["h4"] == ["Step 1 of 2 at 20 %fail"]
    store.close()
