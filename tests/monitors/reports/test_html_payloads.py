"""Every HTML page aimops writes keeps hostile names inert, in a real browser.

A corpus of payloads (script breakouts, event handlers, ``javascript:`` URLs, template syntax,
a bidirectional override, NUL and control characters, a lone surrogate, a very long name...)
goes into every name field of every kind of page: the evaluation report, the comparison report
(conclusive, inconclusive, and compared from the store), the page of each check kind and of an
unknown one, the page and the Evidently report a drift job writes, a model version's page (its
file and the plugin's), and the Airflow plugin's other pages. Each page is written to disk and
opened in one headless Chromium from its ``file://`` URL (no server, no sandbox header: as a
user opening the file), and must run none of it (no ``window.__pwned``, no dialog, no injected
script, element or handler, no blocked attempt in the console) and show each name as text
where the page shows it.

aimops' own pages show a name as :func:`~aimops.monitors.reports.page.visible_text` makes it
(controls, bidirectional overrides and lone surrogates as escapes); Evidently's shows it as
it is, as text. Results are computed from the names aimops' functions accept (no lone
surrogate), and the lone surrogate is added to their documents, which the pages take from
anywhere; the drift job records its columns' scores as metrics, so its columns are the names
the store takes (no NUL, at most 256 characters), the rest going into its values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.errors import MalformedUrnError
from aimops.metadata.urns import Urn, dataset_urn
from aimops.monitors import (
    check_data_quality,
    check_drift,
    check_feature_consistency,
    check_health,
    compare,
    detect_anomalies,
    evaluate_binary,
    evaluate_multiclass,
    evaluate_regression,
    fairness,
    write_check_report,
    write_report,
)
from aimops.monitors.checks.jobs import CheckOutcome
from aimops.monitors.evaluation.recorded_comparison import compare_recorded
from aimops.monitors.reports.page import visible_text, write_text_atomically

PAYLOADS: dict[str, str] = {
    "script": "</script><script>window.__pwned='script'</script>",
    "img": "\"><img src=x onerror=window.__pwned='img'>",
    "javascript": "javascript:window.__pwned='javascript'",
    "svg": "<svg onload=window.__pwned='svg'>",
    "template": "{{7*7}}${7*7}<%= 7*7 %>",
    "quotes": "'-alert(1)-'\"-confirm(2)-\"",
    "comment": "<!--<script>window.__pwned='comment'</script>",
    "anchor": "<a href=\"javascript:window.__pwned='anchor'\">click</a>",
    "style": "<style>*{display:none!important}</style>",
    "entity": "&lt;b&gt;&amp;&#x3c;",
    "rtl": "invoice\u202egnp.exe",
    "control": "nul\x00esc\x1b[2Jbell\x07cr\r\nend",
    "separators": "line\u2028para\u2029end",
    "surrogate": "lone\ud800surrogate",
    "long": "long-" + "x" * 1000,
}
NAMES = list(PAYLOADS.values())
SURROGATE = PAYLOADS["surrogate"]
#: The names aimops' functions take (text UTF-8 can encode).
STORABLE = [name for name in NAMES if name != SURROGATE]
#: The names the store takes as metric names (a drift job records one per column).
STORED = [name for name in STORABLE if "\x00" not in name and len(name) < 200]

#: Sets window.__pwned on any dialog, before any script of the page runs.
DIALOG_TRAP = (
    "for (const name of ['alert', 'confirm', 'prompt', 'print']) {"
    "  window[name] = (message) => { window.__pwned = name + ': ' + message; };"
    "}"
)
#: What the browser has: whether anything ran or was injected, and the text of elements.
INSPECT = """
const texts = (selector) => [...document.querySelectorAll(selector)].map((n) => n.textContent);
const active = [...document.querySelectorAll('*')].filter((node) => [...node.attributes].some(
  (attribute) => attribute.name.startsWith('on') || (['href', 'src', 'action', 'xlink:href']
    .includes(attribute.name) && /^\\s*(javascript|data|vbscript):/i.test(attribute.value))));
const shown = [];
const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  if (!['SCRIPT', 'STYLE'].includes(node.parentNode.nodeName)) shown.push(node.nodeValue);
}
return JSON.stringify({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  scripts: document.scripts.length,
  styles: [...document.querySelectorAll('style')].filter(
    (style) => style.textContent.includes('display:none!important')).length,
  active: active.map((node) => node.outerHTML.slice(0, 200)),
  title: document.title,
  text: shown.join('\\n'),
  selected: Object.fromEntries(arguments[0].map((selector) => [selector, texts(selector)])),
});
"""
PWNED = "return window.__pwned !== undefined"
REPORT_READY = (
    "const root = document.getElementById('aimops-report');"
    "return root !== null && (root.getAttribute('data-ready') === 'true'"
    " || document.querySelector('.error') !== null)"
)


def joined(field: str, names: list[str] = NAMES) -> str:
    """One value holding every payload, for a field that takes one name."""
    return f"{field}: " + " | ".join(names)


def urn_allows(name: str) -> bool:
    try:
        Urn("dataset", (name,))
    except MalformedUrnError:
        return False
    return True


class Browser:
    """Opens a written page and says what it ran and what it shows."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def inspect(
        self, path: Path | None, *, selectors: tuple[str, ...] = (), ready: str = "return true"
    ) -> dict[str, Any]:
        """What the page at ``path`` (None: the page open now) holds once ``ready`` is true."""
        from selenium.webdriver.support.ui import WebDriverWait

        if path is not None:
            self.driver.get(path.resolve().as_uri())
        WebDriverWait(self.driver, 30).until(
            lambda driver: driver.execute_script(PWNED) or driver.execute_script(ready)
        )
        # JSON carries a lone surrogate across; WebDriver's own transport cannot.
        seen: dict[str, Any] = json.loads(self.driver.execute_script(INSPECT, list(selectors)))
        seen["console"] = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] in {"SEVERE", "ERROR"}
            or "Content Security Policy" in entry["message"]
        ]
        return seen


@pytest.fixture(scope="module")
def chromium(browser: Any) -> Iterator[Browser]:
    """The module's one browser (conftest's), with every dialog trapped."""
    trap = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DIALOG_TRAP})
    try:
        yield Browser(browser)
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": trap["identifier"]}
        )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("html-payloads")


def assert_inert(seen: dict[str, Any], scripts: int) -> None:
    """Nothing ran, nothing was injected, nothing was even tried: a blocked attempt (a CSP
    violation) or a script error would mean that a payload reached markup or code."""
    assert seen["pwned"] is None
    assert seen["active"] == []
    assert seen["scripts"] == scripts  # the page's own, no injected one
    assert seen["styles"] == 0  # the style payload as a style element
    assert seen["console"] == []


def assert_shows(texts: list[str], names: list[str], *, exact: bool = True) -> None:
    """Each of ``names`` is shown as its visible text: as a whole element's text when
    ``exact``, else within one."""
    for name in names:
        shown = visible_text(name)
        found = shown in texts if exact else any(shown in text for text in texts)
        assert found, (name[:60], [text[:60] for text in texts[:20]])


# -- the evaluation and comparison reports ---------------------------------------------------

RNG = np.random.default_rng(13)
Y = np.array([0, 1] * 30)
SCORES = np.clip(0.3 + 0.4 * Y + RNG.normal(0, 0.2, Y.size), 0, 1)


def evaluation_documents() -> list[dict[str, Any]]:
    """A binary evaluation with its fairness slices, a multiclass and a regression one and a
    fairness result of its own, every name a payload."""
    binary = evaluate_binary(Y, SCORES).to_dict()
    binary |= {
        "label": joined("label"),
        "model_version": joined("model_version"),
        "dataset": joined("dataset"),
        "urn": joined("urn"),
        "metrics": binary["metrics"] | dict.fromkeys(NAMES, 0.5),
    }
    binary["confusion"]["labels"] = [joined("negative"), joined("positive")]
    groups = [STORABLE[row % len(STORABLE)] for row in range(Y.size)]
    slices = fairness(Y, SCORES, groups, attribute=joined("attribute", STORABLE)).to_dict()
    slices["groups"].append(slices["groups"][0] | {"group": SURROGATE})
    binary["fairness"] = slices
    classes = np.array([STORABLE[row % len(STORABLE)] for row in range(4 * len(STORABLE))])
    probabilities = RNG.dirichlet(np.ones(len(STORABLE)), classes.size)
    multiclass = evaluate_multiclass(classes, probabilities).to_dict()
    multiclass["per_class"].append(multiclass["per_class"][0] | {"class": SURROGATE})
    regression = evaluate_regression(SCORES, Y).to_dict()
    alone = fairness(Y, SCORES, groups).to_dict()
    return [
        binary,
        multiclass | {"label": joined("multiclass")},
        regression | {"label": joined("regression")},
        alone | {"attribute": joined("alone"), "label": joined("slices")},
    ]


def test_the_evaluation_report_runs_no_payload_and_shows_every_name(
    chromium: Browser, folder: Path
) -> None:
    path = write_report(evaluation_documents(), folder / "evaluation.html", title=joined("title"))
    selectors = (
        "h1", ".legend button", ".card h3", ".card .detail", "table.metrics thead th",
        "table.metrics tbody th", "table.fairness tbody th", "#aimops-report h2",
        "table.confusion th", "table.per-class tbody th",
    )  # fmt: skip
    seen = chromium.inspect(path, selectors=selectors, ready=REPORT_READY)

    assert_inert(seen, scripts=2)  # report.js and the JSON data
    chosen = seen["selected"]
    assert seen["title"] == visible_text(joined("title"))
    assert_shows(chosen["h1"], [joined("title")])
    assert_shows(chosen[".legend button"], [joined("label")])
    assert_shows(chosen[".card h3"], [joined("label")])
    shown_as = {"model_version": "model version", "dataset": "dataset", "urn": "urn"}
    details = [f"{shown}: {joined(field)}" for field, shown in shown_as.items()]
    assert_shows(chosen[".card .detail"], details)
    assert_shows(chosen["table.metrics thead th"], [joined("multiclass"), joined("regression")])
    assert_shows(chosen["table.metrics tbody th"], NAMES)  # metric names
    assert_shows(chosen["table.fairness tbody th"], NAMES)  # group names
    assert_shows(chosen["#aimops-report h2"], [joined("attribute", STORABLE)], exact=False)
    assert_shows(chosen["#aimops-report h2"], [joined("alone"), joined("label")], exact=False)
    assert_shows(chosen["table.confusion th"], [f"actual {joined('positive')}"])
    assert_shows(chosen["table.confusion th"], [f"predicted {name}" for name in STORABLE])
    assert_shows(chosen["table.per-class tbody th"], NAMES)  # class names


def comparisons() -> list[dict[str, Any]]:
    """A conclusive comparison of versions named by payloads (one clearly best, so that a
    winner is named) and an inconclusive one, on too few rows."""
    names = STORABLE[:8]
    scores = {name: np.clip(SCORES + RNG.normal(0, 0.3, Y.size), 0, 1) for name in names}
    scores[names[3]] = Y * 0.8 + 0.1  # a perfect ranking: the winner
    conclusive = compare(Y, scores, metrics=["auroc"])
    assert conclusive.winners["auroc"] == names[3]
    few = compare(
        [0, 1, 1, 0], {STORABLE[8]: [0.2, 0.9, 0.6, 0.4], STORABLE[9]: [0.3, 0.8, 0.4, 0.5]},
        metrics=["auroc"],
    )  # fmt: skip
    assert few.inconclusive is not None
    return [
        conclusive.to_dict() | {"label": joined("conclusive")},
        few.to_dict() | {"label": joined("inconclusive")},
    ]


def test_comparison_reports_show_payload_versions_as_text_and_why_one_is_inconclusive(
    chromium: Browser, folder: Path, recorded: Recorded
) -> None:
    items = [*comparisons(), recorded.comparison]
    path = write_report(items, folder / "comparison.html", title=joined("title"))
    selectors = (
        "#aimops-report h2", "#aimops-report h3", "table.deltas td.text", "td.winner",
        ".legend button", "[data-field=inconclusive]", ".report-section > .details .detail",
    )  # fmt: skip
    seen = chromium.inspect(path, selectors=selectors, ready=REPORT_READY)

    assert_inert(seen, scripts=2)
    chosen = seen["selected"]
    conclusive, few, from_store = items
    assert_shows(chosen["#aimops-report h2"], [f"Comparison: {item['label']}" for item in items])
    assert_shows(chosen["table.deltas td.text"], conclusive["labels"])  # versions and baseline
    every_version = conclusive["labels"] + few["labels"] + from_store["labels"]
    assert_shows(chosen[".legend button"], every_version)
    details = [f"baseline: {item['baseline']}" for item in items]
    assert_shows(chosen[".report-section > .details .detail"], details)
    # The conclusive comparison names its winner; the inconclusive ones say why instead.
    assert_shows(chosen["td.winner"], [conclusive["winners"]["auroc"]])
    assert chosen["#aimops-report h3"].count("Winners") == 1
    reasons = [f"No winners. {few['inconclusive']}", f"No winners. {from_store['inconclusive']}"]
    assert chosen["[data-field=inconclusive]"] == [visible_text(reason) for reason in reasons]
    assert few["inconclusive"].startswith("inconclusive: 2 positive and 2 negative rows")
    assert from_store["inconclusive"].startswith(f"inconclusive: {STORED[0]!r} was evaluated")
    assert set(from_store["winners"].values()) == {None}


# -- what a store holds: a recorded comparison, a drift job's pages, the plugin's pages ------

#: Evidently's table shows ten columns a page: nine named by a payload each, and a
#: categorical one named by the rest, whose values are all the payloads.
EVIDENTLY_NUMERICAL = STORED[:9]
EVIDENTLY_CATEGORICAL = " | ".join(STORED[9:])
EVIDENTLY_COLUMNS = [*EVIDENTLY_NUMERICAL, EVIDENTLY_CATEGORICAL]


def drift_frame(shift: int) -> pd.DataFrame:
    rows = 60
    frame = pd.DataFrame(
        {name: RNG.normal(shift * (i % 2), 1, rows) for i, name in enumerate(EVIDENTLY_NUMERICAL)}
    )
    frame[EVIDENTLY_CATEGORICAL] = [NAMES[(row * (1 + shift)) % len(NAMES)] for row in range(rows)]
    return frame


class Recorded:
    """A store holding evaluations of versions named by payloads, too few rows each, and a
    drift job's check (its page and Evidently's report written beside it)."""

    def __init__(self, folder: Path) -> None:
        from aimops.monitors.checks.jobs import run_drift

        self.store = aimops.connect(f"sqlite:///{folder / 'aim.db'}")
        labels = [STORED[0], joined("recorded", STORED)]
        urns = [
            evaluate_binary([0, 1, 1, 0], [0.2, 0.9, 0.6 + i / 10, 0.4], label=label).record(
                self.store, key=f"h13/{i}"
            )
            for i, label in enumerate(labels)
        ]
        self.evaluation = urns[1]
        self.comparison = compare_recorded(self.store, urns) | {"label": joined("from the store")}
        self.targets = [dataset_urn(name) for name in STORED]
        self.drift: CheckOutcome = run_drift(
            self.store, drift_frame(1), reference=drift_frame(0), targets=self.targets,
            key="h13/drift", evidently_report=True, report_dir=folder,
        )  # fmt: skip

    def opener(self) -> Any:
        return self.store


@pytest.fixture(scope="module")
def recorded(folder: Path) -> Iterator[Recorded]:
    pytest.importorskip("evidently")
    found = Recorded(folder)
    yield found
    found.store.close()


EVIDENTLY_READY = "return document.querySelectorAll('tbody tr').length >= 10"
EXPAND_ROWS = (
    "const buttons = [...document.querySelectorAll('tbody tr td:first-child button')];"
    "buttons.forEach((button) => button.click());"
    "return buttons.length"
)
PLOTTED = "return document.querySelectorAll('svg.main-svg').length >= 10"


def test_evidently_s_report_runs_no_payload_even_opened_as_a_file(
    chromium: Browser, recorded: Recorded
) -> None:
    seen = chromium.inspect(recorded.drift.reports["evidently"], ready=EVIDENTLY_READY)

    assert_inert(seen, scripts=4)  # Evidently's data, its globals, its library and the draw
    for name in EVIDENTLY_COLUMNS:  # as Evidently shows names: as they are, as text
        assert name in seen["text"], name[:60]
    # Its details draw charts (the categorical column's values, every payload, on an axis).
    assert chromium.driver.execute_script(EXPAND_ROWS) == len(EVIDENTLY_COLUMNS)
    assert_inert(chromium.inspect(None, ready=PLOTTED), scripts=4)


def test_the_drift_job_s_page_and_the_plugin_s_pages_run_no_payload(
    chromium: Browser, recorded: Recorded, folder: Path
) -> None:
    from aimops.operators.web.pages import check_page, evaluation_page

    rows, targets = "tbody tr > :first-child", "dd li"
    seen = chromium.inspect(recorded.drift.reports["check"], selectors=(rows, targets))
    assert_inert(seen, scripts=0)
    assert_shows(seen["selected"][rows], EVIDENTLY_COLUMNS)
    assert_shows(seen["selected"][targets], [str(urn) for urn in recorded.targets])

    def anyone(dag_id: str) -> bool:
        return True

    urn = str(recorded.drift.urn)
    status, page, saved = check_page(recorded.opener, urn, None, anyone)
    assert (status, saved) == (200, False)
    seen = chromium.inspect(
        write_text_atomically(folder / "plugin-check.html", page), selectors=(rows,)
    )
    assert_inert(seen, scripts=0)
    assert_shows(seen["selected"][rows], EVIDENTLY_COLUMNS)
    status, report, saved = check_page(recorded.opener, urn, "evidently", anyone)
    assert (status, saved) == (200, True)  # the very file the browser found inert above
    assert report == recorded.drift.reports["evidently"].read_text(encoding="utf-8")

    status, page = evaluation_page(recorded.opener, str(recorded.evaluation), anyone)
    assert status == 200
    seen = chromium.inspect(
        write_text_atomically(folder / "plugin-evaluation.html", page),
        selectors=("h1", ".legend button"),
        ready=REPORT_READY,
    )
    assert_inert(seen, scripts=2)
    assert_shows(seen["selected"]["h1"], [joined("recorded", STORED)], exact=False)
    assert_shows(seen["selected"][".legend button"], [joined("recorded", STORED)])


# -- check pages -----------------------------------------------------------------------------


def check_documents() -> dict[str, dict[str, Any]]:
    """A real result of every check kind, its names the payloads (the lone surrogate added to
    its document), and a document of an unknown kind."""
    plan = joined("plan", STORABLE)
    frame = pd.DataFrame({name: [1.0, 2.0, 3.0, None] for name in STORABLE})
    frame[plan] = STORABLE[:4]
    suite = [{"expect": "not_null", "column": name} for name in STORABLE]
    suite.append({"expect": "in_set", "column": plan, "values": STORABLE[:2]})
    data_quality = check_data_quality(frame, suite, name=joined("check", STORABLE)).to_dict()
    data_quality["expectations"].append(data_quality["expectations"][0] | {"column": SURROGATE})
    data_quality["name"] = joined("check")
    reference = pd.DataFrame({name: np.arange(8.0) for name in STORABLE})
    key = joined("key", STORABLE)
    training = reference.assign(**{key: range(8)})
    consistency = check_feature_consistency(training, training, key=key).to_dict()
    versions = [STORABLE[row % len(STORABLE)] for row in range(20 * len(STORABLE))]
    log = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=len(versions), freq="s"),
            "model_version": versions,
            "latency_ms": [20.0 + 10 * (row % 7) for row in range(len(versions))],
            "status": [200 if row % 5 else 500 for row in range(len(versions))],
        }
    )
    values = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 9.9, 10.2, 25.0, 10.0]
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=12, freq="h"))
    documents = {
        "data_quality": data_quality,
        "drift": check_drift(reference, reference + 5).to_dict(),
        "feature_consistency": consistency,
        "health": check_health(log, min_requests=5).to_dict(),
        "anomaly": detect_anomalies(series).to_dict(),
    }
    for kind, rows in (("drift", "columns"), ("feature_consistency", "features"),
                       ("health", "versions")):  # fmt: skip
        found = documents[kind][rows]
        first = next(iter(found.values()))
        found[SURROGATE] = first | ({"model_version": SURROGATE} if kind == "health" else {})
    documents["unknown"] = {
        "kind": joined("kind"),
        "status": joined("status"),
        "metrics": dict.fromkeys(NAMES, 1.0),
        **dict.fromkeys(NAMES, joined("value")),
    }
    return documents


@pytest.fixture(scope="module")
def check_pages(folder: Path) -> dict[str, Path]:
    """Each check's page with hostile links, targets and time; the data quality page takes
    its heading from the check's name, the others from a hostile title."""
    links = dict(zip(NAMES, NAMES, strict=True)) | {
        f"web {name}": f"https://example.org/?q={name}" for name in NAMES
    }
    targets = [str(dataset_urn(name)) for name in NAMES if urn_allows(name)] + [joined("target")]
    pages = {}
    for kind, document in check_documents().items():
        title = None if kind == "data_quality" else joined("title")
        pages[kind] = write_check_report(
            document, folder / f"check-{kind}.html", links=links, targets=targets, title=title,
            checked_at=joined("checked"),
        )  # fmt: skip
    return pages


FIRST, SECOND, THIRD = (f"tbody tr > :nth-child({n})" for n in (1, 2, 3))
CHECK_SELECTORS = ("h1", "dd", "dd li", "nav li", "nav a", ".kind", ".badge", FIRST, SECOND, THIRD)
#: What each kind's own tables show of the payloads: (the cells, the names).
CHECK_ROWS: dict[str, list[tuple[str, list[str]]]] = {
    "data_quality": [(THIRD, [*NAMES, joined("plan", STORABLE)])],  # the column
    "drift": [(FIRST, NAMES)],
    "feature_consistency": [(FIRST, NAMES), (SECOND, [joined("key", STORABLE)])],  # join key
    "health": [(FIRST, NAMES)],
    "anomaly": [],
    "unknown": [
        (FIRST, NAMES),  # the metrics' names, then the document's other keys
        (SECOND, [joined("value")]),
        (".badge", [joined("status")]),
        (".kind", [f"{joined('kind')} check"]),
    ],
}


@pytest.mark.parametrize("kind", list(CHECK_ROWS))
def test_every_check_page_runs_no_payload_and_shows_every_name(
    chromium: Browser, check_pages: dict[str, Path], kind: str
) -> None:
    seen = chromium.inspect(check_pages[kind], selectors=CHECK_SELECTORS)

    assert_inert(seen, scripts=0)
    chosen = seen["selected"]
    heading = joined("check") if kind == "data_quality" else joined("title")
    assert_shows(chosen["h1"], [heading])
    assert seen["title"].startswith(visible_text(heading))
    assert_shows(chosen["dd"], [joined("checked")])
    targets = [str(dataset_urn(name)) for name in NAMES if urn_allows(name)]
    assert len(targets) == len(NAMES) - 1  # all but the lone surrogate
    assert_shows(chosen["dd li"], [*targets, joined("target")])
    assert_shows(chosen["nav li"], NAMES, exact=False)  # each link's name
    # A javascript: URL is no link: its name and the URL as text.
    script_url = PAYLOADS["javascript"]
    assert_shows(chosen["nav li"], [f"{script_url}: {script_url}"])
    assert script_url not in chosen["nav a"] and chosen["nav a"]
    for selector, names in CHECK_ROWS[kind]:
        assert_shows(chosen[selector], names)


# -- the model version's page ----------------------------------------------------------------


class PayloadPolicy:
    """A lifecycle policy named by the payloads, that finds evidence named by them: the page
    shows whatever a policy recorded."""

    name = joined("policy", STORED)

    def judge(self, store: Any, version: Any) -> Any:
        from aimops.metadata.lifecycle import Evidence

        return Evidence(found=tuple(STORED))


@dataclass(frozen=True)
class VersionNames:
    """What a model version's page shows of the payloads, as it was recorded."""

    model: str = joined("model", STORED)
    description: str = joined("description", STORED)
    uri: str = joined("uri", STORED)
    # a step's URN holds all three, and a URN is at most 1024 characters, encoded
    dag: str = joined("dag", STORED[:4])
    run: str = joined("run", STORED[4:8])
    task: str = joined("task", STORED[8:])
    reason: str = joined("reason", STORED)
    check: str = joined("check", STORED)
    actors: tuple[str, ...] = (PAYLOADS["script"], PAYLOADS["img"], PAYLOADS["rtl"])


def record_model_version_with_payloads(store: Any, folder: Path) -> Urn:
    """A version named, described, registered, evaluated, checked, reviewed and rejected (from
    a DAG run and task), then deprecated, every name a payload."""
    from aimops.metadata.lifecycle import deprecate, reject, request_review
    from aimops.metadata.recording import record_model_version, record_run, record_step
    from aimops.metadata.urns import run_urn, step_urn
    from aimops.monitors.checks.jobs import run_data_quality
    from aimops.monitors.evaluation.jobs import evaluate_model

    names = VersionNames()
    run = record_run(store, orchestrator="airflow", pipeline=names.dag, run_id=names.run)
    version = record_model_version(
        store, names.model, 1, produced_by=record_step(store, run, names.task),
        description=names.description, uri=names.uri, framework=names.uri,
        mlflow_run_id=names.uri,
    )  # fmt: skip
    frame = pd.DataFrame({"label": Y, "score": SCORES})
    evaluate_model(
        store, model_version=version, predictions=frame, dataset_name=STORED[0], report_dir=folder
    )
    suite = [{"expect": "not_null", "column": "label"}]
    run_data_quality(
        store, frame, suite, model_version=version, name=names.check, report_dir=folder
    )
    origin = {"kind": "airflow", "run": str(run_urn("airflow", names.dag, names.run)),
              "task": str(step_urn("airflow", names.dag, names.run, names.task))}  # fmt: skip
    first, second, third = names.actors
    request_review(store, version, actor=first, policy=PayloadPolicy(), origin=origin, mlflow=False)
    reject(store, version, actor=second, reason=names.reason, origin=origin, mlflow=False)
    deprecate(store, version, actor=third, reason=names.reason, mlflow=False)
    return version


def test_the_model_version_s_pages_run_no_payload_and_show_every_name(
    chromium: Browser, folder: Path
) -> None:
    from aimops.monitors.reports.model_version_page import write_model_version_page
    from aimops.operators.web.pages import model_version_page

    names = VersionNames()
    store = aimops.connect(f"sqlite:///{folder / 'model-version.db'}")
    version = record_model_version_with_payloads(store, folder)
    status, served = model_version_page(lambda: store, str(version), lambda dag_id: True)
    assert status == 200
    pages = {
        "file": write_model_version_page(store, version, folder),
        "plugin": write_text_atomically(folder / "plugin-model-version.html", served),
    }
    store.close()
    produced_by = f"Airflow DAG {names.dag}, run {names.run}, task {names.task}"
    for source, path in pages.items():
        seen = chromium.inspect(path, selectors=("h1", "dd", "td", "td li"))

        assert_inert(seen, scripts=0)
        chosen = seen["selected"]
        assert seen["title"] == visible_text(f"{names.model}/1 · deprecated"), source
        assert_shows(chosen["h1"], [f"{names.model}/1"])
        assert_shows(chosen["dd"], [names.description, names.uri, produced_by])
        assert_shows(chosen["td"], [names.reason, *names.actors, PayloadPolicy.name])
        assert_shows(chosen["td"], [produced_by, names.check])  # the transitions' origin
        assert_shows(chosen["td li"], STORED)  # the evidence the policy found
