"""The page of a model version, from a real store: a version registered by an Airflow task,
evaluated (a passing and a failing evaluation, a comparison), checked (a passing and a failing
data-quality check), then reviewed, approved and deprecated with a hostile reason.

Each page is parsed with the standard library's HTML parser and judged as a reader sees it:
the state, the history with its actors and reasons, the evidence and its links, the
evaluations and checks newest first, and what hostile strings become.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aimops.errors import GateFailedError, MissingEntityError
from aimops.metadata import AimStore
from aimops.metadata.lifecycle import approve, deprecate, request_review
from aimops.metadata.recording import record_model_version, record_run, record_step
from aimops.metadata.urns import Urn
from aimops.monitors.checks.jobs import run_data_quality
from aimops.monitors.evaluation.jobs import compare_models, evaluate_model
from aimops.monitors.reports.model_version_page import (
    render_model_version_page,
    write_model_version_page,
)
from aimops.monitors.reports.page import report_path

HOSTILE_REASON = "<script>window.__pwned=1</script> superseded \u202egnp.exe"
HOSTILE_DESCRIPTION = '"><img src=x onerror=alert(1)>'
HOSTILE_NAME = "<b>nightly</b> \u202echeck"
RNG = np.random.default_rng(7)
LABELS = np.array([0, 1] * 40)
SCORES = np.clip(0.3 + 0.4 * LABELS + RNG.normal(0, 0.15, LABELS.size), 0, 1)
PREDICTIONS = pd.DataFrame({"label": LABELS, "score": SCORES})


class Page(HTMLParser):
    """What a page holds: each section's table rows (class and cell texts), its links (href:
    texts), the header's facts, its title, heading and state badge, and the tags it opens."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[tuple[str, list[str]]]] = {}
        self.links: dict[str, list[str]] = {}
        self.facts: dict[str, str] = {}
        self.tags: list[str] = []
        self.texts: dict[str, str] = {}  # title, h1, h2 (the last one) and span: their text
        self._open: dict[str, list[str]] = {}  # the elements being read, and their text so far
        self._href = ""
        self._term = ""
        self.feed(page)
        self.close()
        for section, rows in self.rows.items():  # the tables' heads hold no cell
            self.rows[section] = [(row_class, cells) for row_class, cells in rows if cells]

    @property
    def title(self) -> str:
        return self.texts["title"]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "tr":
            self.rows.setdefault(self.texts.get("h2", ""), []).append(
                (found.get("class") or "", [])
            )
        if tag in ("td", "dt", "dd", "h1", "h2", "title", "a", "span"):
            self._open[tag] = []
        if tag == "a":
            self._href = found.get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._open:
            return
        text = "".join(self._open.pop(tag)).strip()
        if tag == "td":
            self.rows[self.texts.get("h2", "")][-1][1].append(text)
        elif tag == "dt":
            self._term = text
        elif tag == "dd":
            self.facts[self._term] = text
        elif tag == "a":
            self.links.setdefault(self._href, []).append(text)
        elif tag == "span":
            self.texts.setdefault(tag, text)  # the header's: the state
        else:
            self.texts[tag] = text

    def handle_data(self, data: str) -> None:
        for parts in self._open.values():
            parts.append(data)


@dataclass
class Recorded:
    store: AimStore
    folder: Path
    version: Urn
    passed: str  # the passing evaluation (the review's evidence)
    failed: str  # a later, failing one
    comparison: str
    good_check: str
    bad_check: str


def _check(store: AimStore, version: Urn, folder: Path, *, column: str, name: str | None) -> str:
    frame = PREDICTIONS.assign(missing=[None, 1.0] * 40)
    suite = [{"expect": "not_null", "column": column}]
    done = run_data_quality(
        store, frame, suite, model_version=version, name=name, report_dir=folder
    )
    return str(done.urn)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    folder = tmp_path_factory.mktemp("model-version")
    store = AimStore.open(f"sqlite:///{folder / 'aim.db'}")
    run = record_run(store, orchestrator="airflow", pipeline="churn", run_id="manual__1")
    step = record_step(store, run, "train")
    version = record_model_version(
        store, "churn", 1, produced_by=step, uri="models:/churn/1", framework="sklearn",
        mlflow_run_id="abc123", description=HOSTILE_DESCRIPTION,
    )  # fmt: skip
    other = record_model_version(store, "churn", 2)
    passed = evaluate_model(
        store, model_version=version, predictions=PREDICTIONS, min_metrics={"auroc": 0.8},
        report_dir=folder, dataset_name="test",
    )  # fmt: skip
    good_check = _check(store, version, folder, column="label", name=None)
    request_review(store, version, actor="ana", mlflow=False)
    approve(store, version, actor="bob", mlflow=False)
    with pytest.raises(GateFailedError):
        evaluate_model(
            store, model_version=version, predictions=PREDICTIONS, min_metrics={"auroc": 0.999},
            report_dir=folder, dataset_name="test", key="churn/1/strict",
        )  # fmt: skip
    compared = compare_models(
        store, model_versions=[version, other], predictions=PREDICTIONS.assign(other=1 - SCORES),
        score_columns={"churn/1": "score", "churn/2": "other"}, report_dir=folder,
        dataset_name="test", n_bootstrap=50, key="churn/1-vs-2",
    )  # fmt: skip
    bad_check = _check(store, version, folder, column="missing", name=HOSTILE_NAME)
    deprecate(store, version, actor="ana", reason=HOSTILE_REASON, mlflow=False)
    yield Recorded(
        store, folder, version, str(passed.urn), "urn:aim:evaluation:churn/1/strict",
        str(compared.urn), good_check, bad_check,
    )  # fmt: skip
    store.close()


@pytest.fixture(scope="module")
def written(recorded: Recorded) -> Path:
    return write_model_version_page(recorded.store, recorded.version, recorded.folder)


def test_the_page_shows_the_state_and_what_the_version_is(written: Path) -> None:
    page = Page(written.read_text(encoding="utf-8"))
    assert page.title == "churn/1 · deprecated"
    assert (page.texts["h1"], page.texts["span"]) == ("churn/1", "deprecated")
    assert '<span class="badge state-deprecated">deprecated</span>' in written.read_text("utf-8")
    assert page.facts["URI"] == "models:/churn/1"
    assert page.facts["Framework"] == "sklearn"
    assert page.facts["MLflow run"] == "abc123"
    assert page.facts["Description"] == HOSTILE_DESCRIPTION
    assert page.facts["Produced by"] == "Airflow DAG churn, run manual__1, task train"
    # no deployment or ramp of churn/1 is recorded (test_model_version_traffic has them)
    assert [cells for _, cells in page.rows["Serving"]] == [["0 %"], ["no"], ["none"]]
    assert "No deployment or ramp of this version is recorded." in written.read_text("utf-8")


def test_the_history_shows_each_transition_its_actor_reason_and_evidence(
    recorded: Recorded, written: Path
) -> None:
    page = Page(written.read_text(encoding="utf-8"))
    history = [cells for _, cells in page.rows["Lifecycle history"]]
    assert [row[1:5] for row in history] == [
        ["request_review", "registered \u2192 in_review", "ana", "\u2014"],
        ["approve", "in_review \u2192 publishable", "bob", "\u2014"],
        ["deprecate", "publishable \u2192 deprecated", "ana",
         HOSTILE_REASON.replace("\u202e", "\\u202e")],
    ]  # fmt: skip
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row[0]) for row in history)
    assert [row[5:7] for row in history] == [["Python", "default"], ["Python", "\u2014"],
                                             ["Python", "\u2014"]]  # fmt: skip
    # the review's evidence, each a link to the page written beside this one
    evidence = [recorded.passed, recorded.good_check]
    named = ["evaluation " + evidence[0].split(":", 3)[3], "check " + evidence[1].split(":", 3)[3]]
    assert history[0][7] == history[1][7] == "".join(named)  # each named by its kind and key
    for urn, name in zip(evidence, named, strict=True):
        href = report_path(recorded.folder, Urn.parse(urn)).name
        assert page.links[href][0] == name
        assert (written.parent / href).is_file()


def test_evaluations_and_checks_are_listed_newest_first_with_their_headlines(
    recorded: Recorded, written: Path
) -> None:
    page = Page(written.read_text(encoding="utf-8"))
    evaluations = page.rows["Evaluations"]
    # the comparison's own evaluation of churn/1, the strict one, the one reviewed on
    assert [cells[4] for _, cells in evaluations] == ["recorded", "failed", "passed"]
    assert [row_class for row_class, _ in evaluations] == ["", "row-fail", ""]
    header = re.search(r"<h2>Evaluations</h2>.*?</thead>", written.read_text("utf-8"), re.S)
    assert header and '<th scope="col">auroc</th><th scope="col">aupr</th>' in header.group()
    kind, label, dataset = evaluations[2][1][1:4]
    assert (kind, label, dataset) == ("binary", "churn/1", "urn:aim:dataset:test")
    assert 0.8 < float(evaluations[2][1][5]) <= 1 and 0.5 < float(evaluations[2][1][6]) <= 1
    comparisons = [cells for _, cells in page.rows["Comparisons"]]
    assert [row[1:5] for row in comparisons] == [
        ["churn/1 vs churn/2", "churn/2", "urn:aim:dataset:test", "recorded"]
    ]
    checks = page.rows["Checks"]
    shown_name = HOSTILE_NAME.replace("\u202e", "\\u202e")
    assert [cells[1:4] for _, cells in checks] == [
        ["data_quality", shown_name, "fail"], ["data_quality", "\u2014", "pass"],
    ]  # fmt: skip
    assert [row_class for row_class, _ in checks] == ["row-fail", ""]


def test_the_static_page_links_only_to_pages_that_exist(recorded: Recorded, written: Path) -> None:
    text = written.read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert hrefs and all((written.parent / href).is_file() for href in hrefs)
    # The comparison's per-version evaluation and churn/2 have no page written: no link.
    for urn in (recorded.passed, recorded.failed, recorded.comparison, recorded.bad_check):
        assert report_path(recorded.folder, Urn.parse(urn)).name in hrefs, urn
    assert not any("modelVersion" in href for href in hrefs)
    # a page that is gone is no longer linked once the version's page is written again
    gone = report_path(recorded.folder, Urn.parse(recorded.bad_check))
    saved = gone.read_bytes()
    gone.unlink()
    try:
        again = write_model_version_page(recorded.store, recorded.version, recorded.folder)
        assert gone.name not in again.read_text(encoding="utf-8")
        assert again == written
    finally:
        gone.write_bytes(saved)
        write_model_version_page(recorded.store, recorded.version, recorded.folder)


def test_hostile_strings_are_shown_as_text_never_as_markup(written: Path) -> None:
    text = written.read_text(encoding="utf-8")
    page = Page(text)
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "\u202e" not in text and "\\u202e" in text
    assert set(page.tags) <= {
        "html", "head", "meta", "title", "style", "body", "header", "p", "div", "h1", "span",
        "dl", "dt", "dd", "main", "section", "h2", "table", "thead", "tbody", "tr", "th", "td",
        "ul", "li", "a", "footer",
    }  # fmt: skip
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    assert policy and policy.group(1).startswith("default-src 'none'; style-src 'sha256-")


def test_a_hostile_model_name_and_actor_stay_text(tmp_path: Path) -> None:
    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    version = record_model_version(store, "<svg onload=alert(1)>\u202e", "1")
    deprecate(store, version, actor='"><b>x', reason="r", mlflow=False)
    text = render_model_version_page(store, version)
    assert "<svg" not in text and "<b>" not in text and "\u202e" not in text
    page = Page(text)
    assert page.title == page.texts["h1"] + " · deprecated"
    assert page.texts["h1"] == "<svg onload=alert(1)>\\u202e/1"
    assert page.rows["Lifecycle history"][0][1][3] == '"><b>x'
    store.close()


def test_links_the_plugin_gives_are_kept_only_when_they_may_be_links(
    recorded: Recorded,
) -> None:
    for address, linked in (
        ("javascript:alert(1)", False),
        ("data:text/html,x", False),
        ("https://airflow.example.com/aimops/x?a=1&b=2", True),
        ("/aimops/evaluations/urn:aim:evaluation:x", True),
        ("/aimops/\u202eevil", False),
    ):
        page = render_model_version_page(
            recorded.store, recorded.version, link_for=lambda urn, found=address: found
        )
        hrefs = set(re.findall(r'href="([^"]*)"', page))
        assert hrefs == ({address.replace("&", "&amp;")} if linked else set()), address


def test_include_leaves_out_the_evaluations_and_checks_it_refuses(recorded: Recorded) -> None:
    hidden = {recorded.failed, recorded.bad_check, recorded.comparison}
    page = Page(
        render_model_version_page(
            recorded.store, recorded.version, include=lambda urn: urn not in hidden
        )
    )
    assert [cells[4] for _, cells in page.rows["Evaluations"]] == ["recorded", "passed"]
    assert [cells[3] for _, cells in page.rows["Checks"]] == ["pass"]
    assert "Comparisons" not in page.rows  # its note only


def test_a_version_without_transitions_or_records_says_so(tmp_path: Path) -> None:
    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    version = record_model_version(store, "churn", 7)
    text = render_model_version_page(store, "churn/7")
    assert "No transition yet: churn/7 is registered, as it was recorded." in text
    assert "No evaluation of this version is recorded." in text
    assert "No check on this version is recorded." in text
    with pytest.raises(MissingEntityError, match=r"churn/8"):
        render_model_version_page(store, "churn/8")
    assert str(version) in text
    store.close()


def test_the_page_is_written_in_one_step(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_model_version_page(recorded.store, recorded.version, tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [first.name]
    before = first.read_text(encoding="utf-8")

    def fail(source: Any, target: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_model_version_page(recorded.store, recorded.version, tmp_path)
    monkeypatch.undo()
    assert first.read_text(encoding="utf-8") == before
    assert [path.name for path in tmp_path.iterdir()] == [first.name]  # no partial file left


def test_every_transition_run_as_a_job_rewrites_the_page(tmp_path: Path) -> None:
    from aimops.monitors.lifecycle import run_transition

    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    version = record_model_version(store, "churn", 3)
    done = run_transition(
        store, version, "deprecate", actor="ana", reason="unused", mlflow=False,
        origin={"kind": "airflow", "run": "urn:aim:run:airflow/retire/manual__9",
                "task": "urn:aim:step:airflow/retire/manual__9/deprecate"},
        report_dir=tmp_path,
    )  # fmt: skip
    page = Page(Path(done["page"]).read_text(encoding="utf-8"))
    assert page.title == "churn/3 · deprecated"
    (row,) = [cells for _, cells in page.rows["Lifecycle history"]]
    assert row[3:6] == ["ana", "unused", "Airflow DAG retire, run manual__9, task deprecate"]
    store.close()
