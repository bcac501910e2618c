"""Monitoring checks inside Airflow: the check's page and its saved Evidently report, served by
the API server's /aimops mount to signed-in users (Airflow's default SimpleAuthManager, real
tokens) under the evaluation pages' access rules; and the check operators' links and arguments.

Three drift checks are recorded once for the module, as the operators and a notebook record
them, in a real SQLite store with Evidently's real report beside them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import step_urn

TEAM_DAG, TEAM = "churn", "risk"  # the team's DAG in conftest's sign_in
RUN_ID = "manual__2025-03-01T12:00:00+00:00"
RNG = np.random.default_rng(3)
REFERENCE = pd.DataFrame({"age": RNG.normal(40, 5, 30).round(1), "plan": ["a", "b"] * 15})
CURRENT = pd.DataFrame({"age": RNG.normal(60, 5, 30).round(1), "plan": ["b", "a"] * 15})

# The tokens are signed with the JWT secret Airflow generated for the test AIRFLOW_HOME, which
# PyJWT finds short for SHA-512.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@dataclass
class Recorded:
    """The store and the checks it holds, each by its URN."""

    store: AimStore
    folder: Path
    of_a_dag: str  # keyed by the drift task of the DAG "churn" (the team risk's), which made it
    of_a_notebook: str  # recorded outside Airflow, under its own key
    of_a_dag_under_its_own_key: str  # made by the same task, keyed "weekly/..."


def _drift(store: AimStore, folder: Path, key: str, producer: Any) -> str:
    from aimops.monitors.checks.jobs import run_drift

    outcome = run_drift(
        store, CURRENT, reference=REFERENCE, model_version="churn/3", key=key,
        producer=producer, evidently_report=True, report_dir=folder,
    )  # fmt: skip
    return str(outcome.urn)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    import aimops
    from aimops.operators.evaluation import evaluation_key

    folder = tmp_path_factory.mktemp("checks")
    store = AimStore.open(f"sqlite:///{folder / 'aim.db'}")
    aimops.record_model_version(store, "churn", 3)
    task = step_urn("airflow", TEAM_DAG, RUN_ID, "drift")
    yield Recorded(
        store,
        folder,
        _drift(store, folder, evaluation_key(TEAM_DAG, RUN_ID, "drift"), task),
        _drift(store, folder, "notebook/churn/drift", None),
        _drift(store, folder, f"weekly/{RUN_ID}/drift", task),
    )
    store.close()


@pytest.fixture
def client(recorded: Recorded, sign_in: Any) -> Iterator[Any]:
    """A client of an API server with the plugin's /aimops mount, reading the module's store."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from aimops.operators.plugin import AimopsPlugin
    from aimops.operators.web.app import LazyApp, create_app

    (mount,) = AimopsPlugin.fastapi_apps
    server = FastAPI()
    server.mount(
        mount["url_prefix"], LazyApp(lambda: create_app(open_store=lambda: recorded.store))
    )
    with TestClient(server) as test_client:
        yield test_client


def _path(urn: str, report: str | None = None) -> str:
    """Where the check's link points, as the browser asks for it."""
    from aimops.operators.web.urls import check_url

    parts = urlsplit(check_url(urn, report))
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_the_check_page_shows_the_verdict_and_the_drifted_columns(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    for reader in (sign_in("viewer", [TEAM]), sign_in("admin")):
        page = client.get(_path(recorded.of_a_dag), headers=reader)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<span class="badge status-fail">fail</span>' in page.text
        assert '<tr class="row-fail"><td>age</td>' in page.text
        assert "<td>plan</td>" in page.text  # compared, not drifted
        assert recorded.of_a_dag in page.text and "urn:aim:modelVersion:churn/3" in page.text
        assert '<a href="?report=evidently" rel="noopener noreferrer">Evidently report</a>' in (
            page.text
        )


def test_the_page_s_policy_allows_exactly_its_own_style(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    page = client.get(_path(recorded.of_a_dag), headers=sign_in("viewer", [TEAM]))
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    policy = dict(
        part.split(" ", 1) for part in page.headers["content-security-policy"].split("; ")
    )
    (style,) = re.findall(r"<style>(.*?)</style>", page.text, flags=re.DOTALL)
    assert policy == {
        "default-src": "'none'",
        "style-src": _sha256_source(style),
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'self'",
    }
    assert "<script" not in page.text


def test_a_dag_s_check_is_refused_to_who_may_not_read_the_dag(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    outsider = sign_in("viewer", ["growth"])  # may read DAGs, but not the team risk's
    for path in (
        _path(recorded.of_a_dag),
        _path(recorded.of_a_dag, "evidently"),
        _path(recorded.of_a_dag.removesuffix("/drift") + "/other"),  # nor learn which exist
    ):
        denied = client.get(path, headers=outsider)
        assert denied.status_code == 403, path
        assert denied.text.endswith("was recorded by the DAG 'churn', which you may not read")
        assert "Drift" not in denied.text
    notebook = client.get(_path(recorded.of_a_notebook), headers=outsider)
    assert notebook.status_code == 200 and '<tr class="row-fail"><td>age</td>' in notebook.text


def test_a_dag_s_check_under_its_own_key_answers_an_outsider_as_a_missing_one(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    urn, outsider = recorded.of_a_dag_under_its_own_key, sign_in("viewer", ["growth"])
    missing_urn = urn.removesuffix("/drift") + "/other"
    denied = client.get(_path(urn), headers=outsider)
    missing = client.get(_path(missing_urn), headers=outsider)
    assert (denied.status_code, missing.status_code) == (404, 404)
    assert denied.text == f"no check {urn} that you may read is recorded in the AIM store"
    assert denied.text.replace(urn, "?") == missing.text.replace(missing_urn, "?")
    saved = client.get(_path(urn, "evidently"), headers=outsider)
    assert (saved.status_code, saved.text) == (404, denied.text)
    for reader in (sign_in("viewer", [TEAM]), sign_in("admin")):
        shown = client.get(_path(urn), headers=reader)
        assert shown.status_code == 200 and urn in shown.text


def test_only_check_urns_have_a_check_page(client: Any, sign_in: Any) -> None:
    reader = sign_in("admin")
    for path, message in (
        ("urn:aim:modelVersion:churn/3", "urn:aim:modelVersion:churn/3 is not a check URN"),
        ("urn:aim:evaluation:weekly/churn", "urn:aim:evaluation:weekly/churn is not a check URN"),
        ("not-a-urn", "not a check URN: "),
    ):
        answer = client.get(f"/aimops/checks/{path}", headers=reader)
        assert answer.status_code == 400 and answer.text.startswith(message)


def test_evidently_s_report_is_served_sandboxed(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    from aimops.operators.web.app import SAVED_REPORT_HEADERS

    for urn in (recorded.of_a_dag, recorded.of_a_notebook):
        saved = client.get(_path(urn, "evidently"), headers=sign_in("viewer", [TEAM]))
        assert saved.status_code == 200 and saved.headers["content-type"].startswith("text/html")
        assert "var metric_" in saved.text  # Evidently's own page, its data in a script
        assert "Drift is detected for 50.0% of columns (1 out of 2)." in saved.text
        policy = saved.headers["content-security-policy"]
        assert policy == SAVED_REPORT_HEADERS["Content-Security-Policy"]
        assert policy.startswith("sandbox allow-scripts; default-src 'none'; ")
        assert "allow-same-origin" not in policy and policy.endswith("frame-ancestors 'self'")
        assert saved.headers["x-content-type-options"] == "nosniff"
        assert saved.headers["referrer-policy"] == "no-referrer"


def test_a_report_that_was_not_saved_is_named_with_the_saved_ones(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    from aimops.monitors.checks.jobs import run_drift

    reader = sign_in("admin")
    for report in ("nope", "check"):  # the page itself is no saved report
        answer = client.get(_path(recorded.of_a_notebook, report), headers=reader)
        assert answer.status_code == 404
        assert answer.text == (
            f"{recorded.of_a_notebook} has no saved report {report!r} (saved: evidently)"
        )
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    bare = run_drift(recorded.store, CURRENT, reference=REFERENCE, key="bare", report_dir=None)
    answer = client.get(_path(str(bare.urn), "evidently"), headers=reader)
    assert (answer.status_code, answer.text) == (
        404,
        "urn:aim:check:bare has no saved report 'evidently' (saved: none)",
    )
    page = client.get(_path(str(bare.urn)), headers=reader)
    assert page.status_code == 200 and "Evidently report" not in page.text


def test_a_deleted_report_is_said_to_be_gone(recorded: Recorded, client: Any, sign_in: Any) -> None:
    folder = recorded.folder / "doomed"
    urn = _drift(recorded.store, folder, "notebook/doomed", None)
    uri = recorded.store.get_aspect(urn, "checkInfo").value["reports"]["evidently"]
    shutil.rmtree(folder)
    answer = client.get(_path(urn, "evidently"), headers=sign_in("viewer"))
    assert answer.status_code == 404
    assert answer.text == f"the evidently report of {urn} was saved at {uri}; it is gone"
    assert client.get(_path(urn), headers=sign_in("viewer")).status_code == 200  # from the store


def test_the_check_pages_want_a_signed_in_airflow_user(recorded: Recorded, client: Any) -> None:
    for path in (_path(recorded.of_a_notebook), _path(recorded.of_a_notebook, "evidently")):
        answer = client.get(path)
        assert answer.status_code == 401
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "Drift" not in answer.text


def test_the_check_url_is_where_the_page_is(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimops.operators.web.urls import check_url

    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", "https://airflow.example.com/")
    assert check_url(recorded.of_a_dag, "evidently") == (
        "https://airflow.example.com/aimops/checks/urn:aim:check:airflow/churn/"
        "manual__2025-03-01T12%253A00%253A00%252B00%253A00/drift?report=evidently"
    )
    assert check_url(recorded.of_a_notebook) == (
        "https://airflow.example.com/aimops/checks/urn:aim:check:notebook/churn/drift"
    )


# -- the operators, without running a DAG ----------------------------------------------------


class _Key:
    """A task instance's key, as Airflow hands it to an extra link."""

    dag_id, run_id, task_id, try_number, map_index = TEAM_DAG, RUN_ID, "drift", 1, -1


def test_the_links_are_empty_outside_a_task_s_process() -> None:
    from aimops.operators.monitoring import (
        AimCheckLink,
        DashboardLink,
        DriftCheckOperator,
        EvidentlyReportLink,
        HealthCheckOperator,
    )

    drift = DriftCheckOperator(
        task_id="drift", current="served.parquet", model_version="churn/3", evidently_report=True
    )
    # Airflow 3 computes links in the task's process, where the XComs are; elsewhere there is
    # no check to point at, and no link rather than a wrong one
    assert AimCheckLink().get_link(drift, ti_key=_Key()) == ""
    assert EvidentlyReportLink().get_link(drift, ti_key=_Key()) == ""
    assert DashboardLink().get_link(None, ti_key=_Key()) == ""
    assert [link.name for link in drift.operator_extra_links] == ["AIM check", "Evidently report"]
    health = HealthCheckOperator(task_id="health", requests="requests.parquet")
    assert [link.name for link in health.operator_extra_links] == ["AIM check", "Dashboard"]


def test_operators_refuse_bad_arguments_when_the_dag_is_parsed() -> None:
    from aimops.errors import InvalidInputError
    from aimops.operators.monitoring import (
        DataQualityOperator,
        DriftCheckOperator,
        FeatureConsistencyOperator,
    )

    with pytest.raises(InvalidInputError) as raised:
        DataQualityOperator(task_id="quality", data="t.csv", suite=[], fail_on=["fail", "bogus"])
    assert str(raised.value) == "quality: fail_on takes pass, warn, fail, inconclusive, not bogus"
    with pytest.raises(InvalidInputError, match=r"^drift: give model_version or reference$"):
        DriftCheckOperator(task_id="drift", current="served.parquet")
    with pytest.raises(InvalidInputError, match=r"^skew: give model_version or training$"):
        FeatureConsistencyOperator(task_id="skew", serving="features.parquet")
    drift = DriftCheckOperator(
        task_id="drift", current="served.parquet", reference="train.parquet",
        fail_on=["warn", "fail"],
    )  # fmt: skip
    assert drift.fail_on == ("warn", "fail")


def test_a_check_cannot_make_the_server_read_another_check_s_report_or_any_file(
    recorded: Recorded, client: Any, sign_in: Any, tmp_path: Path
) -> None:
    from aimops.monitors.checks.drift import check_drift
    from aimops.monitors.checks.recording import record_check

    # Anyone may record a check; one that names the team's Evidently report (or a link to a
    # file the server can read) as its own must not get it served to every signed-in user.
    victim = recorded.store.get_aspect(recorded.of_a_dag, "checkInfo").value["reports"]
    secret = tmp_path / "secret.html"
    secret.write_text("<html>the server's own secret</html>")
    innocent = tmp_path / "innocent.html"
    innocent.symlink_to(secret)
    result = check_drift(REFERENCE, CURRENT)
    outsider = sign_in("viewer", ["growth"])
    for key, planted in (
        ("notebook/thief", victim["evidently"]),
        ("notebook/link", innocent.as_uri()),
    ):
        urn = str(record_check(recorded.store, result, key=key, reports={"evidently": planted}))
        answer = client.get(_path(urn, "evidently"), headers=outsider)
        assert answer.status_code == 404, answer.text[:200]
        assert answer.text == f"the evidently report of {urn} is not where aimops writes it"
    # and a link named as aimops would name it is refused too
    from aimops.metadata.urns import Urn
    from aimops.monitors.reports.page import report_path

    urn = Urn.parse("urn:aim:check:notebook/named")
    named = report_path(tmp_path, urn, "evidently")
    named.symlink_to(secret)
    record_check(
        recorded.store, result, key="notebook/named", reports={"evidently": named.as_uri()}
    )
    assert client.get(_path(str(urn), "evidently"), headers=outsider).status_code == 404


def test_a_model_version_from_default_args_is_enough(airflow_db: Path) -> None:
    from airflow.sdk import DAG

    from aimops.operators.monitoring import DriftCheckOperator, FeatureConsistencyOperator

    with DAG("defaults", schedule=None, default_args={"model_version": "churn/3"}):
        drift = DriftCheckOperator(task_id="drift", current="served.parquet")
        skew = FeatureConsistencyOperator(task_id="skew", serving="features.parquet")
    assert (drift.model_version, skew.model_version) == ("churn/3", "churn/3")
