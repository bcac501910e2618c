"""The lifecycle operators in real Airflow (``dag.test()``): a model version with evidence is
reviewed, approved by the evidence policy and published by one DAG; refused transitions fail
their task at once and change nothing; a person's approval (``AwaitModelApprovalOperator``)
records the responder, obeys four eyes, and a rejection skips what follows.

The person answering in Airflow's UI is exercised end to end in
``tests/e2e/test_airflow_human_review.py`` (real ``airflow standalone``, two users): Airflow
3.2's ``dag.test()`` cannot run a human-in-the-loop task (its in-process supervisor answers no
HITL request), so here the answer is handed to ``execute_complete`` as Airflow's trigger hands
it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn, run_urn, step_urn

PAGE_BASE = "https://airflow.example.com"


@pytest.fixture
def lifecycle_env(aim_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh AIM store, no MLflow configured, links under a known Airflow address."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", PAGE_BASE)
    yield aim_home


def _store(home: Path) -> AimStore:
    return AimStore.open(f"sqlite:///{home / 'aim.db'}")


def _with_evidence(store: AimStore, name: str, version: int) -> Urn:
    """A recorded version with a passing gated evaluation and a passing data-quality check."""
    import pandas as pd

    from aimops.metadata.recording import record_model_version
    from aimops.monitors.checks.jobs import run_data_quality
    from aimops.monitors.evaluation.jobs import evaluate_model

    urn = record_model_version(store, name, version)
    rows = pd.DataFrame({"label": [0, 1, 0, 1, 1, 0], "score": [0.1, 0.9, 0.2, 0.8, 0.7, 0.3]})
    evaluate_model(
        store,
        model_version=urn,
        predictions=rows,
        min_metrics={"auroc": 0.8},
        report_dir=None,
        dataset_name="test",
    )
    run_data_quality(
        store, rows, [{"expect": "not_null", "column": "label"}], model_version=urn, report_dir=None
    )
    return urn


def _history(home: Path, version: Any) -> list[dict[str, Any]]:
    from aimops.metadata.lifecycle import lifecycle_history

    with _store(home) as store:
        return lifecycle_history(store, version)


def _origin(dag_run: Any, task_id: str) -> dict[str, str]:
    return {
        "kind": "airflow",
        "run": str(run_urn("airflow", dag_run.dag_id, dag_run.run_id)),
        "task": str(step_urn("airflow", dag_run.dag_id, dag_run.run_id, task_id)),
    }


# -- a DAG moves a version from review to published ---------------------------------------------


@pytest.mark.slow
def test_a_dag_requests_review_approves_by_policy_and_publishes(
    runs: Any, lifecycle_env: Path, run_dag: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow.sdk import DAG

    from aimops.operators.lifecycle import (
        ApproveModelOperator,
        PublishModelOperator,
        RequestReviewOperator,
    )
    from aimops.operators.web.urls import model_version_url

    with _store(lifecycle_env) as store:
        version = _with_evidence(store, "churn", 1)
    page = model_version_url(version)
    with DAG("release_churn", schedule=None, tags=["aimops"]) as dag:
        (
            RequestReviewOperator(
                task_id="request_review", model_version="churn/1", reason="weekly retrain"
            )
            >> ApproveModelOperator(task_id="approve", model_version=str(version))
            >> PublishModelOperator(task_id="publish", model_version={"urn": str(version)})
        )
    capfd.readouterr()
    dag_run = run_dag(dag)
    said = capfd.readouterr()
    assert dag_run.state == "success"
    assert {task: ti.state for task, ti in runs.instances(dag_run).items()} == dict.fromkeys(
        ("request_review", "approve", "publish"), "success"
    )
    actor = "airflow:release_churn"  # dag.test() runs have no triggering person
    requested, approved, published = (
        runs.xcom(dag_run, task) for task in ("request_review", "approve", "publish")
    )
    history = _history(lifecycle_env, version)
    # What each task returned is what the store recorded.
    assert [
        (h["transition"], h["previous"], h["state"], h["actor"], h["origin"]) for h in history
    ] == [
        ("request_review", "registered", "in_review", actor, _origin(dag_run, "request_review")),
        ("approve", "in_review", "publishable", "policy:default", _origin(dag_run, "approve")),
        ("publish", "publishable", "published", actor, _origin(dag_run, "publish")),
    ]
    for returned, recorded in zip((requested, approved, published), history, strict=True):
        assert returned["urn"] == str(version)
        assert (returned["transition"], returned["actor"]) == (
            recorded["transition"],
            recorded["actor"],
        )
        assert returned["origin"] == recorded["origin"]
        assert returned["repeated"] is False
        assert returned["mlflow"] == "not configured"
        assert returned["page"] and Path(returned["page"]).is_file()  # the version's page
    evidence = requested["evidence"]
    assert len(evidence) == 2 and {e.split(":")[2] for e in evidence} == {"evaluation", "check"}
    assert requested["reason"] == "weekly retrain" and requested["policy"] == "default"
    assert approved["evidence"] == evidence and approved["policy"] == "default"
    # The task logs say what moved, by whom, on what, and where to look.
    assert (
        f"churn/1: registered -> in_review by {actor} (evidence: 2 records); "
        f"reason: weekly retrain; page: {page}"
    ) in said.out + said.err
    assert f"churn/1: publishable -> published by {actor}; page: {page}" in said.out + said.err
    # The "Model version" link of each task opens the version's page.
    for task in ("request_review", "approve", "publish"):
        assert runs.xcom(dag_run, task, key="_link_ModelVersionLink") == page


@pytest.mark.slow
def test_refused_transitions_fail_at_once_and_change_nothing(
    runs: Any, lifecycle_env: Path, run_dag: Any
) -> None:
    from airflow.sdk import DAG

    from aimops.metadata.recording import record_model_version
    from aimops.operators.lifecycle import (
        DeprecateModelOperator,
        RejectModelOperator,
        RequestReviewOperator,
    )

    with _store(lifecycle_env) as store:
        bare = record_model_version(store, "churn", 2)  # no evidence
        retired = record_model_version(store, "churn", 3)
    retry = {"retries": 2, "retry_delay": datetime.timedelta(seconds=0)}
    with DAG("lifecycle_refusals", schedule=None, tags=["aimops"], default_args=retry) as dag:
        RequestReviewOperator(task_id="request_review", model_version="churn/2")
        RejectModelOperator(  # renders empty: refused when it runs
            task_id="reject", model_version="churn/2", reason="{{ dag_run.conf.get('why', '') }}"
        )
        DeprecateModelOperator(
            task_id="deprecate", model_version="churn/3", reason="superseded", actor="ana"
        )
    dag_run = run_dag(dag)
    instances = runs.instances(dag_run)
    assert dag_run.state == "failed"
    assert {task: (ti.state, ti.try_number) for task, ti in instances.items()} == {
        "request_review": ("failed", 1),  # one try, though retries=2: it would be refused again
        "reject": ("failed", 1),
        "deprecate": ("success", 1),
    }
    (refused,) = runs.attempt_errors(lifecycle_env, dag_run, "request_review")
    assert refused is not None and refused.startswith(
        f"AirflowFailException: cannot request_review churn/2 ({bare}), which is registered: "
        "the policy 'default' is missing an evaluation of churn/2 with gates that passed"
    )
    (no_reason,) = runs.attempt_errors(lifecycle_env, dag_run, "reject")
    assert no_reason == (
        "AirflowFailException: reject: a rejection needs a reason, and reason= rendered empty"
    )
    assert _history(lifecycle_env, bare) == []  # nothing recorded for the refused version
    (deprecated,) = _history(lifecycle_env, retired)
    assert (deprecated["state"], deprecated["actor"], deprecated["reason"]) == (
        "deprecated",
        "ana",
        "superseded",
    )
    assert runs.xcom(dag_run, "deprecate")["state"] == "deprecated"
    assert runs.xcom(dag_run, "request_review") is None
    # The refused task still links to the version it named.
    from aimops.operators.web.urls import model_version_url

    assert runs.xcom(dag_run, "request_review", key="_link_ModelVersionLink") == model_version_url(
        bare
    )


def test_wrong_arguments_fail_when_the_dag_file_is_parsed() -> None:
    from aimops.errors import InvalidInputError
    from aimops.operators.human_approval import AwaitModelApprovalOperator
    from aimops.operators.lifecycle import (
        ApproveModelOperator,
        PublishModelOperator,
        RejectModelOperator,
    )

    with pytest.raises(InvalidInputError, match=r"^reject: a rejection needs a reason"):
        RejectModelOperator(task_id="reject", model_version="churn/1")
    with pytest.raises(InvalidInputError, match="a rejection needs a reason"):
        RejectModelOperator(task_id="reject", model_version="churn/1", reason="  ")
    templated = RejectModelOperator(task_id="r", model_version="churn/1", reason="{{ params.x }}")
    assert templated.reason == "{{ params.x }}"  # checked once rendered
    with pytest.raises(InvalidInputError, match="give actor or policy, not both"):
        ApproveModelOperator(task_id="approve", model_version="churn/1", actor="ana")
    assert ApproveModelOperator(task_id="a", model_version="churn/1", policy=None, actor="ana")
    with pytest.raises(InvalidInputError, match="model_version is required"):
        PublishModelOperator(task_id="publish", model_version="")
    with pytest.raises(InvalidInputError, match="an approval needs a person"):
        AwaitModelApprovalOperator(task_id="ask", model_version="churn/1", defaults="Approve")
    assert PublishModelOperator.template_fields == ("model_version", "reason")
    assert "model_version" in AwaitModelApprovalOperator.template_fields


def test_the_model_version_link_falls_back_to_the_version_named() -> None:
    from aimops.operators.lifecycle import ModelVersionLink, PublishModelOperator
    from aimops.operators.web.urls import model_version_url

    key = SimpleNamespace(dag_id="d", run_id="r", task_id="t", try_number=1, map_index=-1)
    link = ModelVersionLink()
    named = PublishModelOperator(task_id="p", model_version="churn/3")
    assert link.get_link(named, ti_key=key) == model_version_url("urn:aim:modelVersion:churn/3")
    templated = PublishModelOperator(task_id="q", model_version="{{ params.version }}")
    assert link.get_link(templated, ti_key=key) == ""
    assert PublishModelOperator.operator_extra_links == (link,)


# -- a person's approval -----------------------------------------------------------------------


@pytest.fixture
def in_review(lifecycle_env: Path) -> Iterator[Urn]:
    """churn/1 with evidence, its review requested by ``admin``."""
    from aimops.metadata.lifecycle import request_review

    with _store(lifecycle_env) as store:
        version = _with_evidence(store, "churn", 1)
        request_review(store, version, actor="admin", reason="ready", mlflow=False)
    yield version


def test_the_reviewer_reads_the_evidence_with_links(in_review: Urn, lifecycle_env: Path) -> None:
    from aimops.errors import TransitionRefusedError
    from aimops.metadata.recording import record_model_version
    from aimops.operators.human_approval import review_request_markdown
    from aimops.operators.web.urls import check_url, model_version_url, report_url

    (request,) = _history(lifecycle_env, in_review)
    with _store(lifecycle_env) as store:
        body = review_request_markdown(store, "churn/1")
        other = record_model_version(store, "churn", 9)
        with pytest.raises(TransitionRefusedError, match="churn/9 is registered, not in_review"):
            review_request_markdown(store, other)
    evaluation, check = sorted(request["evidence"], key=lambda urn: "check" in urn)
    assert f"[`{evaluation}`]({report_url(evaluation)})" in body
    assert f"[`{check}`]({check_url(check)})" in body
    assert f"]({model_version_url(in_review)})" in body
    assert "review requested by **admin**" in body and "- reason: ready" in body
    assert "**Evidence recorded with the request** (2):" in body
    assert body.startswith("**churn/1** asks to be approved for publishing.")


def _approval_task(**options: Any) -> tuple[Any, Any]:
    """An approval task with a publish task after it, as a DAG file would have them."""
    from airflow.sdk import DAG

    from aimops.operators.human_approval import AwaitModelApprovalOperator
    from aimops.operators.lifecycle import PublishModelOperator

    with DAG("release_by_hand", schedule=None) as dag:
        ask = AwaitModelApprovalOperator(task_id="approval", model_version="churn/1", **options)
        ask >> PublishModelOperator(task_id="publish", model_version="churn/1")
    return dag, ask


class _Ti:
    dag_id, run_id, task_id, map_index = "release_by_hand", "manual__1", "approval", -1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _answer(option: str, user: str | None, reason: str | None = None) -> dict[str, Any]:
    """The event Airflow's HITL trigger resumes the task with."""
    return {
        "chosen_options": [option],
        "params_input": {"reason": reason},
        "responded_at": datetime.datetime.now(datetime.UTC),
        "responded_by_user": {"id": user, "name": user} if user else None,
    }


def _context(task: Any) -> dict[str, Any]:
    return {"ti": _Ti(), "task": task, "dag_run": SimpleNamespace(triggering_user_name="admin")}


def test_a_reviewer_s_approval_is_recorded_as_theirs(in_review: Urn, lifecycle_env: Path) -> None:
    _, ask = _approval_task()
    context = _context(ask)
    done = ask.execute_complete(context, _answer("Approve", "reviewer", "looks good"))
    assert (done["transition"], done["state"], done["actor"], done["reason"]) == (
        "approve",
        "publishable",
        "reviewer",
        "looks good",
    )
    assert done["origin"]["task"] == str(
        step_urn("airflow", "release_by_hand", "manual__1", "approval")
    )
    assert context["ti"].pushed == {}  # Airflow pushes what execute_complete returns
    assert [h["transition"] for h in _history(lifecycle_env, in_review)] == [
        "request_review",
        "approve",
    ]


def test_the_requester_cannot_approve_their_own_review(in_review: Urn, lifecycle_env: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    _, ask = _approval_task()
    with pytest.raises(AirflowFailException) as refused:
        ask.execute_complete(_context(ask), _answer("Approve", "admin"))
    assert str(refused.value) == (
        f"cannot approve churn/1 ({in_review}), which is in_review: four eyes: admin "
        "requested the review, so another actor must approve it"
    )
    assert [h["state"] for h in _history(lifecycle_env, in_review)] == ["in_review"]


def test_a_rejection_needs_a_reason_and_skips_what_follows(
    in_review: Urn, lifecycle_env: Path
) -> None:
    from airflow.sdk.exceptions import AirflowFailException, DownstreamTasksSkipped

    _, ask = _approval_task()
    with pytest.raises(AirflowFailException, match="reviewer rejected it without a reason"):
        ask.execute_complete(_context(ask), _answer("Reject", "reviewer", "  "))
    assert [h["state"] for h in _history(lifecycle_env, in_review)] == ["in_review"]
    context = _context(ask)
    with pytest.raises(DownstreamTasksSkipped) as skipped:  # what Airflow turns into skips
        ask.execute_complete(context, _answer("Reject", "reviewer", "drift on age"))
    assert skipped.value.tasks == ["publish"]
    rejected = context["ti"].pushed["return_value"]  # pushed before the skip
    assert (rejected["state"], rejected["actor"], rejected["reason"]) == (
        "registered",
        "reviewer",
        "drift on age",
    )
    assert _history(lifecycle_env, in_review)[-1]["transition"] == "reject"


def test_an_unanswered_review_is_rejected_at_its_timeout(
    in_review: Urn, lifecycle_env: Path
) -> None:
    """With ``defaults="Reject"``, the trigger answers for nobody at the timeout."""
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    _, ask = _approval_task(response_timeout=datetime.timedelta(days=3), defaults="Reject")
    context = _context(ask)
    with pytest.raises(DownstreamTasksSkipped):
        ask.execute_complete(context, {**_answer("Reject", None), "timedout": True})
    rejected = context["ti"].pushed["return_value"]
    assert (rejected["transition"], rejected["actor"], rejected["reason"]) == (
        "reject",
        "airflow:release_by_hand",
        "no response before the timeout",
    )
    assert _history(lifecycle_env, in_review)[-1]["state"] == "registered"
