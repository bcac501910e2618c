"""The model version's page inside Airflow: served by the API server's /aimops mount to
signed-in users (Airflow's default SimpleAuthManager, real tokens) under the evaluation and
check pages' access rules, and linking to the plugin's own pages of what the reader may read.

A version registered by a task of the DAG ``churn`` (the team risk's), evaluated, checked,
compared, reviewed, approved and deprecated; and a version recorded from a notebook, evaluated
once from a notebook and once by the team's DAG; recorded once for the module in a real store.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn

TEAM_DAG, TEAM = "churn", "risk"  # the team's DAG in conftest's sign_in
RUN_ID = "manual__2025-03-01T12:00:00+00:00"
AIRFLOW = "https://airflow.example.com"
RNG = np.random.default_rng(5)
LABELS = np.array([0, 1] * 40)
PREDICTIONS = pd.DataFrame(
    {"label": LABELS, "score": np.clip(0.3 + 0.4 * LABELS + RNG.normal(0, 0.15, 80), 0, 1)}
)
REASON = "<script>window.__pwned=1</script> superseded"

# The tokens are signed with the JWT secret Airflow generated for the test AIRFLOW_HOME, which
# PyJWT finds short for SHA-512.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@dataclass
class Recorded:
    store: AimStore
    of_a_dag: str  # churn/3, registered by the team's DAG
    of_a_notebook: str  # fraud/1, recorded from a notebook
    evaluation: str  # of churn/3, by the team's DAG (the review's evidence)
    check: str  # on churn/3, from a notebook
    comparison: str  # of churn/3 with churn/4
    notebook_evaluation: str  # of fraud/1, from a notebook
    team_evaluation: str  # of fraud/1, by the team's DAG


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    from aimops.metadata.lifecycle import approve, deprecate, request_review
    from aimops.metadata.recording import record_model_version, record_run, record_step
    from aimops.monitors.checks.jobs import run_data_quality
    from aimops.monitors.evaluation.jobs import compare_models, evaluate_model

    folder = tmp_path_factory.mktemp("model-versions")
    store = AimStore.open(f"sqlite:///{folder / 'aim.db'}")
    run = record_run(store, orchestrator="airflow", pipeline=TEAM_DAG, run_id=RUN_ID)
    train, evaluate = record_step(store, run, "train"), record_step(store, run, "evaluate")
    churn = record_model_version(store, "churn", 3, produced_by=train, framework="sklearn")
    challenger = record_model_version(store, "churn", 4, produced_by=train)
    fraud = record_model_version(store, "fraud", 1)

    def evaluation(version: Urn, producer: Urn | None, key: str) -> str:
        return str(
            evaluate_model(
                store, model_version=version, predictions=PREDICTIONS, dataset_name="test",
                min_metrics={"auroc": 0.8}, producer=producer, key=key, report_dir=None,
            ).urn
        )  # fmt: skip

    evaluated = evaluation(churn, evaluate, "team/churn/3")
    suite = [{"expect": "not_null", "column": "label"}]
    checked = run_data_quality(store, PREDICTIONS, suite, model_version=churn, report_dir=None)
    request_review(store, churn, actor="ana", mlflow=False)
    approve(store, churn, actor="bob", mlflow=False)
    compared = compare_models(
        store, model_versions=[churn, challenger], dataset_name="test", n_bootstrap=50,
        predictions=PREDICTIONS.assign(other=1 - PREDICTIONS["score"]), key="churn/3-vs-4",
        score_columns={"churn/3": "score", "churn/4": "other"}, report_dir=None,
    )  # fmt: skip
    deprecate(store, churn, actor="ana", reason=REASON, mlflow=False)
    yield Recorded(
        store, str(churn), str(fraud), evaluated, str(checked.urn), str(compared.urn),
        evaluation(fraud, None, "notebook/fraud/1"), evaluation(fraud, evaluate, "team/fraud/1"),
    )  # fmt: skip
    store.close()


@pytest.fixture
def client(recorded: Recorded, sign_in: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client of an API server with the plugin's /aimops mount, reading the module's store."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from aimops.operators.plugin import AimopsPlugin
    from aimops.operators.web.app import LazyApp, create_app

    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", AIRFLOW)
    (mount,) = AimopsPlugin.fastapi_apps
    server = FastAPI()
    server.mount(
        mount["url_prefix"], LazyApp(lambda: create_app(open_store=lambda: recorded.store))
    )
    with TestClient(server) as test_client:
        yield test_client


def _path(urn: str) -> str:
    """Where the model version's link points, as the browser asks for it."""
    from aimops.operators.web.urls import model_version_url

    return urlsplit(model_version_url(urn)).path


def _links(page: str) -> set[str]:
    return set(re.findall(r'href="([^"]*)"', page))


def test_the_team_s_reader_sees_the_version_its_history_and_its_evidence(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    from aimops.operators.web.urls import check_url, model_version_url, report_url

    for reader in (sign_in("viewer", [TEAM]), sign_in("admin")):
        page = client.get(_path(recorded.of_a_dag), headers=reader)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<title>churn/3 · deprecated</title>" in page.text
        assert '<span class="badge state-deprecated">deprecated</span>' in page.text
        assert "Airflow DAG churn, run manual__2025-03-01T12:00:00+00:00, task train" in page.text
        for actor, transition in (("ana", "request_review"), ("bob", "approve"),
                                  ("ana", "deprecate")):  # fmt: skip
            assert f"<td>{transition}</td>" in page.text and f"<td>{actor}</td>" in page.text
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; superseded" in page.text
        assert "<script" not in page.text
        # evidence, evaluations, checks and the compared version link to the plugin's pages
        assert _links(page.text) == {
            report_url(recorded.evaluation), check_url(recorded.check),
            report_url(recorded.comparison), model_version_url("urn:aim:modelVersion:churn/4"),
            report_url(_comparison_part(recorded, "churn/3")),
        }  # fmt: skip


def _comparison_part(recorded: Recorded, label: str) -> str:
    """The evaluation of ``label`` the comparison recorded on its own."""
    infos = recorded.store.latest_values(
        [e.urn for e in recorded.store.related(f"urn:aim:modelVersion:{label}", "evaluates",
                                               incoming=True)],
        "evaluationInfo",
    )  # fmt: skip
    (urn,) = [
        urn for urn, info in infos.items()
        if info["kind"] != "comparison" and urn != recorded.evaluation
    ]  # fmt: skip
    return urn


def _sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_the_page_carries_the_security_headers_and_allows_only_its_own_style(
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


def test_a_dag_s_version_answers_an_outsider_as_a_missing_one(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    outsider = sign_in("viewer", ["growth"])  # may read DAGs, but not the team risk's
    urn, missing_urn = recorded.of_a_dag, "urn:aim:modelVersion:churn/99"
    denied = client.get(_path(urn), headers=outsider)
    missing = client.get(_path(missing_urn), headers=outsider)
    assert (denied.status_code, missing.status_code) == (404, 404)
    assert denied.text == f"no model version {urn} that you may read is recorded in the AIM store"
    assert denied.text.replace(urn, "?") == missing.text.replace(missing_urn, "?")
    assert "deprecated" not in denied.text
    assert denied.headers["x-content-type-options"] == "nosniff"
    assert denied.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_notebook_s_version_is_shown_to_anyone_with_what_they_may_read(
    recorded: Recorded, client: Any, sign_in: Any
) -> None:
    from aimops.operators.web.urls import report_url

    outsider = client.get(_path(recorded.of_a_notebook), headers=sign_in("viewer", ["growth"]))
    assert outsider.status_code == 200 and "<title>fraud/1 · registered</title>" in outsider.text
    # the team's evaluation of it is the team's: neither listed nor linked for an outsider
    assert _links(outsider.text) == {report_url(recorded.notebook_evaluation)}
    assert outsider.text.count("<td>passed</td>") == 1
    team = client.get(_path(recorded.of_a_notebook), headers=sign_in("viewer", [TEAM]))
    assert _links(team.text) == {
        report_url(recorded.notebook_evaluation),
        report_url(recorded.team_evaluation),
    }
    assert team.text.count("<td>passed</td>") == 2


def test_only_model_version_urns_have_a_model_version_page(client: Any, sign_in: Any) -> None:
    reader = sign_in("admin")
    for path, message in (
        ("urn:aim:check:nightly", "urn:aim:check:nightly is not a modelVersion URN"),
        ("urn:aim:evaluation:weekly/churn", "urn:aim:evaluation:weekly/churn is not a "),
        ("not-a-urn", "not a modelVersion URN: "),
        ("urn:aim:modelVersion:churn", "not a modelVersion URN: "),  # no version
    ):
        answer = client.get(f"/aimops/models/{path}", headers=reader)
        assert answer.status_code == 400 and answer.text.startswith(message), answer.text
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_version_is_not_found(client: Any, sign_in: Any) -> None:
    answer = client.get(_path("urn:aim:modelVersion:churn/99"), headers=sign_in("admin"))
    assert answer.status_code == 404
    assert answer.text == (
        "no model version urn:aim:modelVersion:churn/99 that you may read is recorded in the "
        "AIM store"
    )
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_the_page_wants_a_signed_in_airflow_user(recorded: Recorded, client: Any) -> None:
    answer = client.get(_path(recorded.of_a_notebook))
    assert answer.status_code == 401
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "fraud" not in answer.text


def test_the_model_version_url_is_where_the_page_is(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimops.operators.web.urls import model_version_url

    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", f"{AIRFLOW}/")
    assert model_version_url(recorded.of_a_dag) == (
        f"{AIRFLOW}/aimops/models/urn:aim:modelVersion:churn/3"
    )


def test_a_store_that_cannot_be_opened_is_said_to_be_unavailable(recorded: Recorded) -> None:
    from aimops.operators.web.pages import model_version_page

    assert model_version_page(lambda: None, recorded.of_a_dag, lambda _: True) == (
        503,
        "the AIM store cannot be opened right now; try again in a minute",
    )
