"""The lifecycle tasks in real Prefect flows (the session's test server), on a real SQLite
store: a flow reviews, approves and publishes a version with evidence; a refused transition
fails its task run in one try with the reason; a version not recorded yet is retried; a retry
whose transition was recorded gets it back; the artifacts of a model's transitions accumulate
under one key."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.sorting import ArtifactSort

from aimops.errors import InvalidInputError, TransitionRefusedError
from aimops.flows.blocks import AimopsStore
from aimops.flows.frame import retry_if_transient
from aimops.flows.lifecycle import (
    approve_model,
    deprecate_model,
    publish_model,
    reject_model,
    request_review,
)
from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn, run_urn, step_urn

POLICY = "evaluation_only"
KEYS = ["aimops-lifecycle-churn", "aimops-lifecycle-churn-table", "aimops-lifecycle-churn-link"]


@pytest.fixture
def lifecycle_env(aim_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh AIM store; no MLflow, no Airflow address, the file router under it."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AIMOPS_AIRFLOW_URL",
                 "AIMOPS_ROUTER", "AIMOPS_TRAFFIC_DIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    yield aim_home


def _store(home: Path) -> AimStore:
    return AimStore.open(f"sqlite:///{home / 'aim.db'}")


def _evaluated(home: Path, name: str, number: int) -> Urn:
    """A recorded version with a passing gated evaluation (what ``evaluation_only`` asks)."""
    import pandas as pd

    from aimops.metadata.recording import record_model_version
    from aimops.monitors.evaluation.jobs import evaluate_model

    with _store(home) as store:
        urn = record_model_version(store, name, number)
        evaluate_model(
            store, model_version=urn, min_metrics={"auroc": 0.8}, report_dir=None,
            predictions=pd.DataFrame({"label": [0, 1, 0, 1], "score": [0.1, 0.9, 0.3, 0.7]}),
            dataset_name="holdout",
        )  # fmt: skip
    return urn


def _history(home: Path, version: Any) -> list[dict[str, Any]]:
    from aimops.metadata.lifecycle import lifecycle_history

    with _store(home) as store:
        return lifecycle_history(store, version)


def _origin(flow_name: str, flow_run_id: Any, task: str) -> dict[str, str]:
    return {
        "kind": "prefect",
        "run": str(run_urn("prefect", flow_name, str(flow_run_id))),
        "task": str(step_urn("prefect", flow_name, str(flow_run_id), task)),
    }


def _tries(state: Any) -> list[tuple[str, str, int]]:
    """Each task run of the flow run that ended in ``state``: its task, its state, how many
    tries it took."""
    flow_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=flow_run)
    return sorted((run.name.rsplit("-", 1)[0], str(run.state_name), run.run_count) for run in runs)


def _artifacts(*states: Any) -> dict[str, list[Any]]:
    """The lifecycle artifacts the flow runs ended in ``states`` published, by key, oldest
    first."""
    runs = [state.state_details.flow_run_id for state in states]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=KEYS), flow_run_id=ArtifactFilterFlowRunId(any_=runs)
            ),
            sort=ArtifactSort.CREATED_DESC,
        )
    by_key: dict[str, list[Any]] = {}
    for artifact in reversed(found):
        by_key.setdefault(str(artifact.key), []).append(artifact)
    return by_key


# -- the flows --------------------------------------------------------------------------------


@flow
def release(version: str, reason: str | None = None) -> list[dict[str, Any]]:
    return [
        request_review(version, policy=POLICY, reason=reason),
        approve_model(version, policy=POLICY),
        publish_model(version),
    ]


@flow
def refusals(bare: str, in_review: str, unproven: str) -> None:
    publish_model(bare, return_state=True)  # registered: not publishable
    request_review(unproven, return_state=True)  # no evidence
    reject_model(in_review, "  ", return_state=True)  # no reason
    approve_model(in_review, policy=None, return_state=True)  # the requester: four eyes
    approve_model(in_review, actor="ana", return_state=True)  # a policy acts alone


@flow
def ask_for_review(version: str) -> dict[str, Any]:
    return request_review.with_options(retries=1, retry_delay_seconds=0)(version, policy=POLICY)


@flow
def ask_for_review_late(version: str, home: str) -> dict[str, Any]:
    """The version's registration lands after the first try (as when the registering flow
    commits late): the retry finds it."""

    def registered_meanwhile(task: Any, task_run: Any, state: Any) -> bool:
        _evaluated(Path(home), "churn", 7)
        return retry_if_transient(task, task_run, state)

    review = request_review.with_options(
        retries=1, retry_delay_seconds=0, retry_condition_fn=registered_meanwhile
    )
    return review(version, policy=POLICY)


class RacingPolicy:
    """``evaluation_only``, but while it judges, another actor requests the same review (a
    second flow, a person at the CLI) and wins the race, once."""

    name = "racing"

    def __init__(self, home: str) -> None:
        self.home, self.raced = home, False

    def judge(self, store: Any, version: Any) -> Any:
        from aimops.metadata.lifecycle import request_review as ask
        from aimops.metadata.lifecycle.evidence import resolve_policy

        if not self.raced:
            self.raced = True
            with _store(Path(self.home)) as elsewhere:
                ask(elsewhere, version, actor="ana", policy=POLICY, mlflow=False)
        return resolve_policy(POLICY).judge(store, version)


@flow
def ask_while_racing(version: str, home: str) -> dict[str, Any]:
    review = request_review.with_options(retries=1, retry_delay_seconds=0)
    return review(version, policy=RacingPolicy(home))


@flow
def publish_retried(version: str, home: str) -> dict[str, Any]:
    """An earlier try of the publish task recorded the transition (then its worker died)."""
    from prefect.runtime import flow_run

    from aimops.metadata.lifecycle import publish

    with _store(Path(home)) as store:
        publish(store, version, actor="prefect:publish-retried", mlflow=False,
                origin=_origin(flow_run.flow_name, flow_run.id, "publish_model"))  # fmt: skip
    return publish_model(version)


@flow
def retire(version: str, store: Any = None) -> dict[str, Any]:
    return deprecate_model(version, reason="superseded by churn/2", store=store)


# -- the tests --------------------------------------------------------------------------------


def test_a_flow_reviews_approves_and_publishes_a_version(
    lifecycle_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    version = _evaluated(lifecycle_env, "churn", 1)
    with caplog.at_level(logging.INFO):
        state = release("churn/1", reason="weekly retrain", return_state=True)
    requested, approved, published = state.result()
    run_id, actor = state.state_details.flow_run_id, "prefect:release"
    came_from = {
        task: _origin("release", run_id, task)
        for task in ("request_review", "approve_model", "publish_model")
    }
    history = _history(lifecycle_env, version)
    assert [
        (h["transition"], h["previous"], h["state"], h["actor"], h["origin"]) for h in history
    ] == [
        ("request_review", "registered", "in_review", actor, came_from["request_review"]),
        ("approve", "in_review", "publishable", f"policy:{POLICY}", came_from["approve_model"]),
        ("publish", "publishable", "published", actor, came_from["publish_model"]),
    ]
    for returned, recorded in zip((requested, approved, published), history, strict=True):
        assert (returned["urn"], returned["state"], returned["origin"]) == (
            str(version), recorded["state"], recorded["origin"])  # fmt: skip
        assert returned["repeated"] is False and returned["mlflow"] == "not configured"
        assert Path(returned["page"]).is_file()
    (evaluation,) = requested["evidence"]
    assert evaluation.startswith("urn:aim:evaluation:") and requested["reason"] == "weekly retrain"
    # One line per transition, no Airflow address (none is configured).
    assert (
        f"churn/1: registered -> in_review by {actor} (evidence: 1 record); reason: weekly "
        "retrain" in caplog.messages
    )
    assert f"churn/1: publishable -> published by {actor}" in caplog.messages
    assert _tries(state) == [
        (name, "Completed", 1) for name in ("approve_model", "publish_model", "request_review")
    ]


def test_the_transitions_of_a_model_accumulate_under_one_key(lifecycle_env: Path) -> None:
    _evaluated(lifecycle_env, "churn", 1)
    first = release("churn/1", return_state=True)
    with _store(lifecycle_env) as store:
        from aimops.metadata.recording import record_model_version

        record_model_version(store, "churn", 2)
    second = retire("churn/2", return_state=True)
    found = _artifacts(first, second)
    assert sorted(found) == sorted(KEYS)
    markdowns = [artifact.data for artifact in found[KEYS[0]]]
    assert [text.splitlines()[0] for text in markdowns] == [
        "### churn/1: registered → in_review",
        "### churn/1: in_review → publishable",
        "### churn/1: publishable → published",
        "### churn/2: registered → deprecated",
    ]
    review = markdowns[0].splitlines()
    assert "- **request_review** by `prefect:release`" in review
    assert "- evidence: 1 record" in review
    assert any(line.startswith("  - `urn:aim:evaluation:") for line in review)
    assert "- MLflow registry: not configured" in review
    assert "- reason: superseded by churn/2" in markdowns[3].splitlines()
    assert {artifact.type for artifact in found[KEYS[1]]} == {"table"}
    import json

    rows = json.loads(found[KEYS[1]][3].data)
    assert {"field": "actor", "value": "prefect:retire"} in rows
    assert {"field": "state", "value": "deprecated"} in rows
    assert [row["field"] for row in json.loads(found[KEYS[1]][0].data)].count("evidence") == 1
    pages = [done["page"] for done in first.result()] + [second.result()["page"]]
    assert [(link.type, link.data) for link in found[KEYS[2]]] == [
        ("markdown", f"[the page of {name}]({Path(page).as_uri()})")
        for name, page in zip(["churn/1"] * 3 + ["churn/2"], pages, strict=True)
    ]


def test_a_refused_transition_fails_at_once_with_its_reason(
    lifecycle_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aimops.metadata.lifecycle import request_review as ask
    from aimops.metadata.recording import record_model_version

    bare = _evaluated(lifecycle_env, "churn", 2)
    in_review = _evaluated(lifecycle_env, "churn", 3)
    with _store(lifecycle_env) as store:
        ask(store, in_review, actor="prefect:refusals", policy=POLICY, mlflow=False)
        unproven = record_model_version(store, "churn", 5)
    with caplog.at_level(logging.ERROR):
        state = refusals(str(bare), str(in_review), str(unproven), return_state=True)
    # One try each, though every aimops task has 2 retries: they would be refused again.
    assert _tries(state) == [
        ("approve_model", "Failed", 1), ("approve_model", "Failed", 1),
        ("publish_model", "Failed", 1), ("reject_model", "Failed", 1),
        ("request_review", "Failed", 1),
    ]  # fmt: skip
    errors = [m for m in caplog.messages if m.endswith("(permanent: not retried)")]
    assert len(errors) == 5
    assert errors[0].startswith(f"cannot publish churn/2 ({bare}), which is registered: ")
    assert errors[1].startswith(
        f"cannot request_review churn/5 ({unproven}), which is registered: the policy 'default' "
        "is missing an evaluation of churn/5 with gates that passed"
    )
    assert "reject_model: a rejection needs a reason, not '  ' (permanent: not retried)" in errors
    assert any("four eyes: prefect:refusals requested the review" in e for e in errors)
    assert any("approve_model: an automated approval acts as its policy" in e for e in errors)
    assert [h["state"] for h in _history(lifecycle_env, bare)] == []
    assert [h["state"] for h in _history(lifecycle_env, in_review)] == ["in_review"]


def test_a_version_not_recorded_yet_is_retried(lifecycle_env: Path) -> None:
    state = ask_for_review("churn/7", return_state=True)
    assert _tries(state) == [("request_review", "Failed", 2)]  # the first try and one retry
    with pytest.raises(InvalidInputError, match="churn/7"):
        state.result()
    late = ask_for_review_late("churn/7", str(lifecycle_env), return_state=True)
    assert _tries(late) == [("request_review", "Completed", 2)]
    assert late.result()["state"] == "in_review"
    assert [h["transition"] for h in _history(lifecycle_env, "churn/7")] == ["request_review"]


def test_a_transition_that_loses_a_race_is_tried_again_on_what_the_winner_left(
    lifecycle_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    version = _evaluated(lifecycle_env, "churn", 6)
    with caplog.at_level(logging.INFO):
        state = ask_while_racing(str(version), str(lifecycle_env), return_state=True)
    assert _tries(state) == [("request_review", "Failed", 2)]  # the conflict was retried
    (lost,) = [m for m in caplog.messages if "LifecycleConflictError(" in m]
    assert "another transition got there first (request_review by ana made it in_review)" in lost
    assert lost.endswith("Retry 1/1 will start immediately")
    with pytest.raises(TransitionRefusedError, match="which is in_review"):
        state.result()  # the retry read the winner's state, and was refused on it
    assert [(h["transition"], h["actor"]) for h in _history(lifecycle_env, version)] == [
        ("request_review", "ana")
    ]


def test_a_retry_gets_back_the_transition_an_earlier_try_recorded(
    lifecycle_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aimops.metadata.lifecycle import approve
    from aimops.metadata.lifecycle import request_review as ask

    version = _evaluated(lifecycle_env, "churn", 4)
    with _store(lifecycle_env) as store:
        ask(store, version, actor="ana", policy=POLICY, mlflow=False)
        approve(store, version, actor="bo", mlflow=False)
    with caplog.at_level(logging.INFO):
        done = publish_retried(str(version), str(lifecycle_env))
    assert (done["state"], done["repeated"]) == ("published", True)
    assert [h["transition"] for h in _history(lifecycle_env, version)] == [
        "request_review", "approve", "publish",
    ]  # fmt: skip
    assert any(m.endswith("; recorded by an earlier try of this task") for m in caplog.messages)


def test_a_saved_block_names_the_store_and_an_airflow_address_the_page(
    lifecycle_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment
    from aimops.metadata.recording import record_model_version

    elsewhere = tmp_path / "elsewhere"
    with AimStore.open(f"sqlite:///{elsewhere / 'aim.db'}", create=True) as store:
        for number in (1, 2):
            record_model_version(store, "churn", number)
            store.put_aspect(f"urn:aim:modelVersion:churn/{number}", "lifecycle", {
                "state": "published", "transition": "publish", "previous": "publishable",
                "actor": "ana", "at": datetime.datetime.now(datetime.UTC)})  # fmt: skip
        change_traffic(store, read_deployment(store, "churn"), {"1": 90, "2": 10},
                       champion="1", change="set", actor="ana", mlflow=False)  # fmt: skip
    AimopsStore(
        store_url=f"sqlite:///{elsewhere / 'aim.db'}", report_dir=str(elsewhere / "pages")
    ).save("lifecycle-elsewhere", overwrite=True)
    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", "https://airflow.example.com")
    with caplog.at_level(logging.INFO):
        state = retire("churn/2", store="lifecycle-elsewhere", return_state=True)
    done = state.result()
    assert (done["state"], done["actor"]) == ("deprecated", "prefect:retire")
    assert done["deramped"][0]["removed_weight"] == 10  # it served traffic: de-ramped first
    assert Path(done["page"]).parent == elsewhere / "pages"
    assert not (lifecycle_env / "aim.db").exists()  # nothing in the environment's store
    page = "https://airflow.example.com/aimops/models/urn:aim:modelVersion:churn/2"
    assert (
        "churn/2: published -> deprecated by prefect:retire; reason: superseded by churn/2; "
        f"de-ramped first in production (was 10%); page: {page}"
    ) in caplog.messages
    (link,) = _artifacts(state)[KEYS[2]]
    assert page in link.data


def test_the_module_s_examples_run() -> None:
    import doctest

    import aimops.flows.lifecycle

    assert doctest.testmod(aimops.flows.lifecycle).failed == 0
