"""The evaluation operators in real Airflow: the example DAG end to end, gates, re-runs, the
"AIM report" link and the report page the API server serves (signed in through the auth
manager Airflow is configured with, its default SimpleAuthManager, with real tokens).

The example DAG (``dags_examples/evaluate_models.py``) runs once for the module (about half a
minute: six tasks, two models logged to MLflow); a re-run of the same run and one small DAG
of failing tasks follow. The MLflow registry and the AIM store live in a temporary folder.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn, dataset_urn, model_version_urn, step_urn

EXAMPLE = Path(__file__).resolve().parents[2] / "dags_examples" / "evaluate_models.py"
DAG_ID = "evaluate_models"
MODEL = "breast_cancer_classifier"
RUN_AFTER = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TEST_SET = dataset_urn("breast_cancer_sized_test")
ROLES = ("champion", "challenger")
TEAM = "risk"  # the team owning the DAG "churn" of the report tests (see conftest's sign_in)

# The tokens are signed with the JWT secret Airflow generated for the test AIRFLOW_HOME, which
# PyJWT finds short for SHA-512.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@dataclass
class Demo:
    """One finished run of the example DAG, and where it wrote."""

    home: Path
    mlflow_uri: str
    run_id: str
    state: str
    versions: dict[str, Urn]  # role -> the model version the run registered

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.home / 'aim.db'}"

    def evaluation(self, task_id: str) -> Urn:
        return Urn.parse(f"urn:aim:evaluation:airflow/{DAG_ID}/{self.run_id}/{task_id}")

    def step(self, task_id: str) -> Urn:
        return step_urn("airflow", DAG_ID, self.run_id, task_id)


def _environment(mp: pytest.MonkeyPatch, home: Path, mlflow_uri: str) -> None:
    import mlflow

    from aimops.operators.capture import listener

    mp.setenv("AIMOPS_HOME", str(home))
    mp.delenv("AIMOPS_STORE_URL", raising=False)
    mp.delenv("AIMOPS_CAPTURE", raising=False)
    # Set (not deleted) so that teardown removes it again: mlflow.set_registry_uri() exports
    # MLFLOW_REGISTRY_URI into os.environ, and a leaked one sends later tests' registrations
    # (an airflow standalone's, say) to this test's registry.
    mp.setenv("MLFLOW_REGISTRY_URI", mlflow_uri)
    mp.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    mp.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    mp.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)
    listener.reset_sink()


def _example_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE), include_examples=False)
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def _registered(mlflow_uri: str, run_id: str) -> dict[str, Urn]:
    """The versions MLflow holds for this Airflow run, by role (read from MLflow itself)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    found = client.search_model_versions(f"name = '{MODEL}'")
    versions: dict[str, Urn] = {}
    for version in found:
        if version.tags.get("airflow.run_id") == run_id:
            assert version.tags["aimops.role"] not in versions, "a role registered twice"
            versions[version.tags["aimops.role"]] = model_version_urn(MODEL, version.version)
    return versions


@pytest.fixture(scope="module")
def demo(run_dag: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("evaluate-models")
    home, mlflow_uri = folder / "aimops", f"sqlite:///{folder / 'mlflow' / 'mlflow.db'}"
    (folder / "mlflow").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, home, mlflow_uri)
        dag_run = run_dag(_example_dag(), run_after=RUN_AFTER)
        yield Demo(
            home=home,
            mlflow_uri=mlflow_uri,
            run_id=dag_run.run_id,
            state=dag_run.state,
            versions=_registered(mlflow_uri, dag_run.run_id),
        )
    from aimops.operators.capture import listener

    listener.reset_sink()


@pytest.fixture
def in_demo(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """The demo's store and MLflow as this test's environment (to run more DAGs there)."""
    from aimops.operators.capture import listener

    _environment(monkeypatch, demo.home, demo.mlflow_uri)
    yield demo
    listener.reset_sink()


def _test_csv(demo: Demo) -> Path:
    """The test split load_data wrote."""
    (path,) = (demo.home / "demo-data" / DAG_ID).glob("*/breast_cancer_test.csv")
    return path


def _test_split(demo: Demo) -> Any:
    import pandas as pd

    return pd.read_csv(_test_csv(demo))


def _auroc_from_mlflow(demo: Demo, version: Urn) -> float:
    """The test split's AUROC of the registered model, computed here with scikit-learn."""
    import mlflow
    from sklearn.metrics import roc_auc_score

    mlflow.set_registry_uri(demo.mlflow_uri)
    model = mlflow.sklearn.load_model(f"models:/{_name(version)}")
    table = _test_split(demo)
    scores = model.predict_proba(table.drop(columns=["target", "tumour_size"]))[:, 1]
    return float(roc_auc_score(table["target"], scores))


def _xcom(demo: Demo, task_id: str, key: str = "return_value") -> Any:
    return _xcom_of(DAG_ID, demo.run_id, task_id, key)


def _xcom_of(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = DagRun.find(dag_id=dag_id, run_id=run_id, session=session)[0]
        ti = run.get_task_instance(task_id, session=session)
        return ti.xcom_pull(task_ids=task_id, key=key, session=session)


def _related(store: AimStore, urn: Urn | str, relation: str) -> list[str]:
    return sorted(entity.urn for entity in store.related(urn, relation))


def _name(version: Urn) -> str:
    return "/".join(version.segments)


def _evaluations_of_run(store: AimStore, demo: Demo) -> list[str]:
    prefix = str(demo.evaluation("x")).removesuffix("/x")
    found = store.search("evaluation", limit=1000)
    return sorted(entity.urn for entity in found if entity.urn.startswith(prefix))


# -- the example DAG ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_example_dag_records_an_evaluation_of_each_version(demo: Demo) -> None:
    from aimops.monitors.evaluation.recording import load_evaluation

    assert demo.state == "success"
    assert set(demo.versions) == {"champion", "challenger"}
    with AimStore.open(demo.store_url) as store:
        for role, version in demo.versions.items():
            task_id = f"evaluate_{role}"
            urn = demo.evaluation(task_id)
            assert _xcom(demo, task_id) == str(urn)  # what execute returned
            assert _related(store, urn, "evaluates") == [str(version)]
            assert _related(store, urn, "evaluatedOn") == [str(TEST_SET)]
            assert _related(store, urn, "producedBy") == [str(demo.step(task_id))]
            recorded = load_evaluation(store, urn)
            assert recorded["status"] == "passed"
            assert {gate["metric"] for gate in recorded["gates"]} == {
                "auroc",
                "fairness.max_gap_tpr",
            }
            assert recorded["metrics"]["auroc"] == pytest.approx(_auroc_from_mlflow(demo, version))
            assert recorded["fairness"]["attribute"] == "tumour_size"
            assert recorded["n"] == len(_test_split(demo))


@pytest.mark.slow
def test_the_comparison_records_deltas_winners_and_passes_its_gate(demo: Demo) -> None:
    from aimops.monitors.evaluation.recording import load_evaluation

    champion, challenger = demo.versions["champion"], demo.versions["challenger"]
    urn = demo.evaluation("compare_with_champion")
    assert _xcom(demo, "compare_with_champion") == str(urn)
    with AimStore.open(demo.store_url) as store:
        comparison = load_evaluation(store, urn)
        assert _related(store, urn, "evaluates") == sorted([str(champion), str(challenger)])
        assert _related(store, urn, "producedBy") == [str(demo.step("compare_with_champion"))]
        per_version = load_evaluation(store, f"{urn}/{_name(champion)}")
    assert comparison["kind"] == "comparison"
    assert comparison["baseline"] == _name(champion)
    assert set(comparison["winners"]) == {"auroc", "aupr", "log_loss", "brier"}
    auroc = next(d for d in comparison["deltas"] if d["metric"] == "auroc")
    assert auroc["version"] == _name(challenger)
    expected = _auroc_from_mlflow(demo, challenger) - _auroc_from_mlflow(demo, champion)
    assert auroc["delta"] == pytest.approx(expected)
    assert auroc["ci_low"] <= auroc["delta"] <= auroc["ci_high"]
    assert comparison["status"] == "passed"
    (gate,) = comparison["gates"]
    assert (gate["metric"], gate["bound"], gate["limit"]) == ("auroc", "baseline", 0.02)
    assert per_version["metrics"]["auroc"] == pytest.approx(_auroc_from_mlflow(demo, champion))


@pytest.mark.slow
def test_the_report_page_shows_the_comparison(demo: Demo, sign_in: Any) -> None:
    from fastapi.testclient import TestClient

    from aimops.operators.web.app import create_app
    from aimops.operators.web.urls import report_url

    with AimStore.open(demo.store_url) as store:
        app = create_app(open_store=lambda: store)
        with TestClient(app, headers=sign_in("viewer")) as client:
            path = urlsplit(report_url(demo.evaluation("compare_with_champion"))).path
            page = client.get(path.removeprefix("/aimops"))
    assert page.status_code == 200
    assert all(_name(version) in page.text for version in demo.versions.values())


@pytest.mark.slow
def test_the_reports_are_written_and_linked_from_each_task(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimops.operators.web.urls import report_url

    monkeypatch.delenv("AIMOPS_AIRFLOW_URL", raising=False)
    reports = sorted(path.name for path in (demo.home / "reports").glob("*.html"))
    for task_id in ("evaluate_champion", "evaluate_challenger", "compare_with_champion"):
        assert any(task_id in name for name in reports), (task_id, reports)
        # the link each task pushed when it finished, as Airflow's UI reads it
        link = _xcom(demo, task_id, key="_link_AimReportLink")
        assert link == report_url(demo.evaluation(task_id))
    page = (demo.home / "reports" / reports[0]).read_text()
    assert page.startswith("<!DOCTYPE html>") and MODEL in page


@pytest.mark.slow
def test_the_link_of_a_templated_key_opens_the_evaluation_the_task_returned(
    aim_home: Path, run_dag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import DAG

    from aimops.monitors.evaluation.recording import load_evaluation
    from aimops.operators.evaluation import EvaluateModelOperator, evaluation_of
    from aimops.operators.web.urls import report_url

    monkeypatch.delenv("AIMOPS_AIRFLOW_URL", raising=False)
    scored = tmp_path / "scored.csv"
    scored.write_text("label,score\n0,0.2\n1,0.9\n1,0.6\n0,0.4\n")
    with DAG("weekly_evaluation", schedule=None) as dag:
        EvaluateModelOperator(
            task_id="evaluate",
            predictions=str(scored),
            key="weekly/{{ run_id }}/churn",
            report_dir=None,
        )
    dag_run = run_dag(dag)
    assert dag_run.state == "success"
    returned = _xcom_of(dag.dag_id, dag_run.run_id, "evaluate")
    assert returned == str(evaluation_of(f"weekly/{dag_run.run_id}/churn"))
    link = _xcom_of(dag.dag_id, dag_run.run_id, "evaluate", key="_link_AimReportLink")
    assert link == report_url(returned)
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        assert load_evaluation(store, returned)["metrics"]["auroc"] == 1.0  # what it opens


@pytest.mark.slow
def test_running_the_same_run_again_adds_no_evaluation(in_demo: Demo, run_dag: Any) -> None:
    with AimStore.open(in_demo.store_url) as store:
        before = _evaluations_of_run(store, in_demo)
        history = len(store.history(in_demo.evaluation("compare_with_champion")))
    dag_run = run_dag(_example_dag(), run_after=RUN_AFTER)
    assert (dag_run.run_id, dag_run.state) == (in_demo.run_id, "success")
    assert _registered(in_demo.mlflow_uri, in_demo.run_id) == in_demo.versions  # reused
    with AimStore.open(in_demo.store_url) as store:
        # the two evaluations, the comparison and its evaluation of each version
        assert _evaluations_of_run(store, in_demo) == before and len(before) == 5
        # recorded over the first run, and nothing in it changed: no new aspect versions
        assert len(store.history(in_demo.evaluation("compare_with_champion"))) == history
        urn = in_demo.evaluation("evaluate_champion")
        assert _related(store, urn, "evaluates") == [str(in_demo.versions["champion"])]


# -- failures -------------------------------------------------------------------------------


def _failing_dag(demo: Demo) -> Any:
    from airflow.sdk import DAG

    from aimops.operators.evaluation import EvaluateModelOperator

    test_set = {"aimops_ref": "dataset", "urn": str(TEST_SET), "uri": _test_csv(demo).as_uri()}
    champion, challenger = (_name(demo.versions[role]) for role in ROLES)
    common: dict[str, Any] = {
        "dataset": test_set,
        "ignore_columns": ["tumour_size"],
        "retries": 1,
        "retry_delay": timedelta(seconds=1),
    }
    with DAG("evaluation_failures", schedule=None, tags=["aimops"]) as dag:
        EvaluateModelOperator(
            task_id="gated",
            model_version=challenger,
            label_column="target",
            min_metrics={"auroc": 0.9999},
            baseline=champion,
            max_regression={"auroc": 0.0},
            **common,
        )
        EvaluateModelOperator(
            task_id="unknown_label",
            model_version=champion,
            label_column="diagnosis",
            **common,
        )
    return dag


@pytest.mark.slow
def test_failed_gates_and_bad_input_fail_at_once_with_a_clear_message(
    in_demo: Demo, run_dag: Any
) -> None:
    from aimops.errors import NotFoundError
    from aimops.monitors.evaluation.recording import load_evaluation

    champion_auroc = _auroc_from_mlflow(in_demo, in_demo.versions["champion"])
    auroc = _auroc_from_mlflow(in_demo, in_demo.versions["challenger"])
    dag_run = run_dag(_failing_dag(in_demo))
    assert dag_run.state == "failed"
    with AimStore.open(in_demo.store_url) as store:
        attempts = {
            task_id: store.get_aspect(
                step_urn("airflow", "evaluation_failures", dag_run.run_id, task_id),
                "stepAttempts",
            ).value["attempts"]
            for task_id in ("gated", "unknown_label")
        }
        gated = f"urn:aim:evaluation:airflow/evaluation_failures/{dag_run.run_id}/gated"
        recorded = load_evaluation(store, gated)
        with pytest.raises(NotFoundError):  # bad input: nothing recorded
            load_evaluation(store, gated.replace("/gated", "/unknown_label"))
    # one attempt each, though retries=1: failing again would change nothing
    assert [len(tries) for tries in attempts.values()] == [1, 1]
    error = attempts["gated"][0]["error"]
    assert error.startswith("AirflowFailException: evaluation urn:aim:evaluation:")
    assert f"auroc = {auroc:.6g} is below the minimum 0.9999" in error
    champion = _name(in_demo.versions["champion"])
    assert f"auroc = {auroc:.6g} is worse than {champion} ({champion_auroc:.6g})" in error
    assert "more than the 0 allowed" in error
    assert recorded["status"] == "failed"
    assert [gate["passed"] for gate in recorded["gates"]] == [False, False]
    assert recorded["metrics"]["auroc"] == pytest.approx(auroc)
    missing = attempts["unknown_label"][0]["error"]
    assert "the label column 'diagnosis' is not in the table; columns: mean_radius" in missing


# -- the link and the report page ------------------------------------------------------------


class _Key:
    dag_id, run_id, task_id, try_number = "churn", "manual__2025-03-01T12:00:00+00:00", "eval", 1
    map_index = -1


def test_the_report_link_points_at_the_task_s_evaluation_in_airflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aimops.operators.evaluation import AimReportLink, EvaluateModelOperator

    link = AimReportLink()
    monkeypatch.delenv("AIMOPS_AIRFLOW_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    expected = (
        "https://airflow.example.com/aimops/evaluations/urn:aim:evaluation:airflow/churn/"
        "manual__2025-03-01T12%253A00%253A00%252B00%253A00/eval"
    )
    assert link.get_link(None, ti_key=_Key()) == expected
    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", "http://localhost:8080")
    mapped = type("Mapped", (_Key,), {"map_index": 3})()
    assert link.get_link(None, ti_key=mapped).endswith("/eval/3")
    assert link.get_link(None, ti_key=mapped).startswith("http://localhost:8080/aimops/")
    named = EvaluateModelOperator(task_id="e", predictions="p.csv", key="weekly/churn")
    assert link.get_link(named, ti_key=_Key()).endswith(
        "/evaluations/urn:aim:evaluation:weekly/churn"
    )
    assert EvaluateModelOperator.operator_extra_links == (link,)


def test_an_operator_needs_exactly_one_source_of_rows() -> None:
    from aimops.errors import InvalidInputError
    from aimops.operators.evaluation import CompareModelsOperator, EvaluateModelOperator

    with pytest.raises(InvalidInputError, match=r"^e takes one of dataset= and predictions="):
        EvaluateModelOperator(task_id="e", model_version="m/1")
    with pytest.raises(InvalidInputError, match="both given"):
        EvaluateModelOperator(task_id="e", dataset="t.csv", predictions="p.csv")
    with pytest.raises(InvalidInputError, match="at least two model versions"):
        CompareModelsOperator(task_id="c", model_versions=["m/1"], dataset="t.csv")


@dataclass
class Reports:
    """A client of the API server's /aimops mount, and the evaluations its store holds."""

    client: Any
    of_a_dag: str  # recorded by a task of the DAG "churn" (the team "risk"'s)
    of_a_notebook: str  # recorded outside Airflow
    of_a_dag_under_its_own_key: str  # recorded by the same task, keyed "weekly/..."
    path: str  # where the DAG task's link points


@pytest.fixture
def reports(tmp_path: Path, sign_in: Any) -> Iterator[Reports]:
    import pandas as pd
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    import aimops
    from aimops.monitors.evaluation.jobs import evaluate_model
    from aimops.operators.evaluation import AimReportLink, evaluation_key
    from aimops.operators.plugin import AimopsPlugin
    from aimops.operators.web.app import LazyApp, create_app

    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    aimops.record_model_version(store, "churn", 3)
    table = pd.DataFrame({"label": [0, 1, 1, 0, 1], "score": [0.2, 0.9, 0.6, 0.4, 0.3]})
    task = step_urn("airflow", _Key.dag_id, _Key.run_id, _Key.task_id)
    recorded = [
        evaluate_model(
            store,
            model_version="churn/3",
            predictions=table,
            key=key,
            producer=producer,
            report_dir=None,
        )
        for key, producer in (
            (evaluation_key(_Key.dag_id, _Key.run_id, _Key.task_id), task),
            ("weekly/churn", None),
            (f"weekly/{_Key.run_id}/churn", task),  # as key="weekly/{{ run_id }}/churn" does
        )
    ]
    (mount,) = AimopsPlugin.fastapi_apps
    server = FastAPI()
    server.mount(mount["url_prefix"], LazyApp(lambda: create_app(open_store=lambda: store)))
    with TestClient(server) as client:
        yield Reports(
            client,
            *(str(outcome.urn) for outcome in recorded),
            path=urlsplit(AimReportLink().get_link(None, ti_key=_Key())).path,
        )
    store.close()


def test_the_report_page_renders_a_recorded_evaluation(reports: Reports, sign_in: Any) -> None:
    client, path, reader = reports.client, reports.path, sign_in("viewer", [TEAM])
    page = client.get(path, headers=reader)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "churn/3" in page.text and reports.of_a_dag in page.text
    unknown = client.get(path.removesuffix("/eval") + "/other", headers=reader)
    assert unknown.status_code == 404
    assert unknown.text.startswith("no evaluation urn:aim:evaluation:airflow/churn/")
    assert client.get("/aimops/evaluations/not-a-urn", headers=reader).status_code == 400
    modelversion = client.get("/aimops/evaluations/urn:aim:modelVersion:churn/3", headers=reader)
    assert modelversion.status_code == 400


def test_a_dag_s_evaluations_are_shown_only_to_who_may_read_the_dag(
    reports: Reports, sign_in: Any
) -> None:
    client, path = reports.client, reports.path
    outsider = sign_in("viewer", ["growth"])  # may read DAGs, but not the team risk's
    denied = client.get(path, headers=outsider)
    assert denied.status_code == 403
    assert denied.text.endswith("was recorded by the DAG 'churn', which you may not read")
    # nor may they learn which of its evaluations exist
    assert client.get(path.removesuffix("/eval") + "/other", headers=outsider).status_code == 403
    for reader in (sign_in("viewer", [TEAM]), sign_in("admin")):
        assert client.get(path, headers=reader).status_code == 200
    # an evaluation no DAG recorded: any signed-in user
    notebook = client.get(f"/aimops/evaluations/{reports.of_a_notebook}", headers=outsider)
    assert notebook.status_code == 200 and "churn/3" in notebook.text


def test_an_evaluation_a_dag_s_task_keyed_its_own_way_is_shown_only_to_who_may_read_the_dag(
    reports: Reports, sign_in: Any
) -> None:
    client, urn = reports.client, reports.of_a_dag_under_its_own_key
    outsider = sign_in("viewer", ["growth"])  # may read DAGs, but not the team risk's
    denied = client.get(f"/aimops/evaluations/{urn}", headers=outsider)
    missing_urn = urn.removesuffix("/churn") + "/other"
    missing = client.get(f"/aimops/evaluations/{missing_urn}", headers=outsider)
    # refused as if it were not recorded: guessing keys tells neither that it exists nor
    # which DAG made it
    assert (denied.status_code, missing.status_code) == (404, 404)
    assert denied.text == f"no evaluation {urn} that you may read is recorded in the AIM store"
    assert denied.text.replace(urn, "?") == missing.text.replace(missing_urn, "?")
    assert "churn/3" not in denied.text
    for reader in (sign_in("viewer", [TEAM]), sign_in("admin")):
        shown = client.get(f"/aimops/evaluations/{urn}", headers=reader)
        assert shown.status_code == 200 and "churn/3" in shown.text and urn in shown.text


@pytest.mark.parametrize(
    ("key", "dag_id"),
    [
        ("airflow/churn/manual__1/evaluate", "churn"),
        ("airflow/churn/manual__1/compare/churn/3", "churn"),
        ("airflow/3/0123456789abcdef", None),  # the fingerprint key of the model "airflow"
        ("weekly/churn", None),
    ],
)
def test_only_a_task_s_identity_as_key_names_a_dag(key: str, dag_id: str | None) -> None:
    from aimops.operators.web.access import keyed_dag

    assert keyed_dag(Urn.parse(f"urn:aim:evaluation:{key}")) == dag_id


def _sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_the_report_s_headers_allow_what_the_page_runs_and_framing_by_airflow_only(
    reports: Reports, sign_in: Any
) -> None:
    reader = sign_in("viewer", [TEAM])
    page = reports.client.get(reports.path, headers=reader)
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    policy = dict(
        part.split(" ", 1) for part in page.headers["content-security-policy"].split("; ")
    )
    assert policy["frame-ancestors"] == "'self'"
    assert policy["default-src"] == "'none'"  # nothing is fetched...
    # ...and the page's one inline script and stylesheet are exactly what may run
    (script,) = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
    (style,) = re.findall(r"<style>(.*?)</style>", page.text, flags=re.DOTALL)
    assert policy["script-src"] == _sha256_source(script)
    assert policy["style-src"] == _sha256_source(style)
    missing = reports.client.get(reports.path + "/other", headers=reader)
    assert missing.status_code == 404
    assert (
        missing.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'self'"
    )
    assert missing.headers["x-content-type-options"] == "nosniff"


def _has_the_security_headers(response: Any) -> bool:
    policy = response.headers.get("content-security-policy", "").split("; ")
    return (
        response.headers.get("x-content-type-options") == "nosniff"
        and response.headers.get("referrer-policy") == "no-referrer"
        and "frame-ancestors 'self'" in policy
    )


def test_the_report_page_wants_a_signed_in_airflow_user() -> None:
    from fastapi.testclient import TestClient

    from aimops.operators.web.app import create_app

    with TestClient(create_app(open_store=lambda: None)) as client:
        response = client.get("/evaluations/urn:aim:evaluation:x")
        unrouted = client.get("/elsewhere")
    assert response.status_code == 401
    assert _has_the_security_headers(response)
    assert unrouted.status_code == 404 and _has_the_security_headers(unrouted)


def test_a_crash_is_answered_with_the_security_headers_too(sign_in: Any) -> None:
    from fastapi.testclient import TestClient

    from aimops.operators.web.app import create_app

    def broken_store() -> AimStore:
        raise RuntimeError("the store fell over")

    app = create_app(open_store=broken_store)
    with TestClient(app, raise_server_exceptions=False, headers=sign_in("viewer")) as client:
        response = client.get("/evaluations/urn:aim:evaluation:weekly/churn")
    assert response.status_code == 500
    assert "the store fell over" not in response.text
    assert _has_the_security_headers(response)


def test_class_score_columns_reach_a_multiclass_evaluation(tmp_path: Path) -> None:
    from aimops.operators.evaluation import EvaluateModelOperator

    scored = tmp_path / "scored.csv"
    scored.write_text(
        "animal,p_cat,p_dog,p_owl\ncat,0.7,0.2,0.1\ndog,0.2,0.7,0.1\n"
        "owl,0.3,0.3,0.4\ncat,0.4,0.5,0.1\n"
    )
    operator = EvaluateModelOperator(
        task_id="evaluate",
        predictions=str(scored),
        label_column="animal",
        class_score_columns=["p_cat", "p_dog", "p_owl"],
        analyzers=["multiclass"],
        report_dir=None,
    )
    assert "class_score_columns" in operator.template_fields
    assert operator.columns().class_scores == ("p_cat", "p_dog", "p_owl")
    with AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}") as store:
        step = step_urn("airflow", "zoo", "manual__1", "evaluate")
        outcome = operator.evaluate(store, key="zoo/1", producer=str(step))
    assert outcome.result.metrics["accuracy"] == 0.75
    assert outcome.result.metrics["auroc_macro"] == 1.0


def test_the_example_dag_file_parses_without_heavy_imports() -> None:
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(EXAMPLE)!r})\n"
        "heavy = ('sklearn', 'mlflow', 'pandas', 'numpy', 'fastapi', 'great_expectations', "
        "'aimops.monitors.evaluation', 'aimops.monitors.checks.jobs', 'aimops.monitors.sources', "
        "'aimops.metadata.store')\n"
        "print('loaded:' + ','.join(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "loaded:" in done.stdout.splitlines()


def test_the_example_dag_reads_as_its_progress(airflow_db: Path) -> None:
    dag = _example_dag()
    assert {"aimops", "aimops:project=churn-demo"} <= set(dag.tags)
    assert dag.doc_md and all(task.doc_md for task in dag.tasks)
    compare = dag.get_task("compare_with_champion")
    assert compare.upstream_task_ids == {"load_data", "train_champion", "train_challenger"}
