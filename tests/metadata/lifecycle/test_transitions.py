"""Every lifecycle transition and guard, on both backends: what a reviewer would notice.

A transition that is allowed appends one version of the ``lifecycle`` aspect with its actor,
reason, origin and evidence; one that is refused raises one error naming the version, its
state, the transition and what is missing, and leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aimops.errors import InvalidInputError, MissingEntityError, TransitionRefusedError
from aimops.metadata import AimStore
from aimops.metadata.lifecycle import (
    STATES,
    TRANSITIONS,
    EvidencePolicy,
    approve,
    deprecate,
    lifecycle_history,
    lifecycle_state,
    publish,
    register_policy,
    reject,
    request_review,
    transition,
)
from aimops.metadata.lifecycle import (
    Evidence as Found,
)
from aimops.metadata.urns import Urn

pytestmark = pytest.mark.integration


def _nothing_written(store: AimStore, version: Urn, before: list[dict[str, Any]]) -> None:
    assert lifecycle_history(store, version) == before


def test_a_version_goes_from_registered_to_deprecated_with_an_audit_trail(
    store: AimStore, evidence: Any
) -> None:
    version = evidence.version(1)
    quality = evidence.quality(version)
    gated = evidence.evaluation(version)
    assert lifecycle_state(store, version) == "registered"

    review = request_review(store, version, actor="ana", reason="ready", mlflow=False)
    assert (review.previous, review.state, review.actor) == ("registered", "in_review", "ana")
    assert set(review.evidence) == {gated, quality}
    assert review.policy == "default"
    approve(store, version, actor="bob", reason="looks good", mlflow=False)
    publish(store, version, actor="carla", mlflow=False)
    origin = {"kind": "cli"}
    deprecate(store, "churn/1", actor="ana", reason="superseded", origin=origin, mlflow=False)

    trail = lifecycle_history(store, version)
    assert [(t["transition"], t["previous"], t["state"], t["actor"]) for t in trail] == [
        ("request_review", "registered", "in_review", "ana"),
        ("approve", "in_review", "publishable", "bob"),
        ("publish", "publishable", "published", "carla"),
        ("deprecate", "published", "deprecated", "ana"),
    ]
    assert [t["reason"] for t in trail] == ["ready", "looks good", None, "superseded"]
    assert trail[1]["evidence"] == trail[0]["evidence"]  # approved on the review's evidence
    assert trail[1]["requested_by"] == "ana"
    assert trail[3]["origin"] == {"kind": "cli", "run": None, "task": None}
    assert [t["version"] for t in trail] == [1, 2, 3, 4]
    # the store's own history (aimops history URN) holds the same trail, actors included
    rows = store.history(version, "lifecycle")
    assert [row.actor for row in rows] == ["ana", "bob", "carla", "ana"]


ILLEGAL = [
    (state, action)
    for state in STATES
    for action, (allowed, _) in TRANSITIONS.items()
    if state not in allowed
]


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_a_transition_from_a_state_it_may_not_leave_is_refused_and_changes_nothing(
    store: AimStore, evidence: Any, drive: Callable[..., None], state: str, action: str
) -> None:
    version = evidence.reviewable(7)
    drive(version, state)
    before = lifecycle_history(store, version)
    with pytest.raises(TransitionRefusedError) as refused:
        transition(store, version, action, actor="zoe", reason="why not", mlflow=False)
    message = str(refused.value)
    assert f"cannot {action} churn/7 (urn:aim:modelVersion:churn/7), which is {state}" in message
    assert "needs" in message
    _nothing_written(store, version, before)


def test_deprecate_works_from_every_state_but_deprecated(
    store: AimStore, evidence: Any, drive: Callable[..., None]
) -> None:
    for number, state in enumerate(STATES[:-1], start=1):
        version = evidence.reviewable(number)
        drive(version, state)
        assert deprecate(store, version, actor="ana", mlflow=False).previous == state
        assert lifecycle_state(store, version) == "deprecated"


def test_without_any_evidence_the_review_names_every_missing_piece(
    store: AimStore, evidence: Any
) -> None:
    version = evidence.version(2)
    with pytest.raises(TransitionRefusedError) as refused:
        request_review(store, version, actor="ana", mlflow=False)
    assert str(refused.value) == (
        "cannot request_review churn/2 (urn:aim:modelVersion:churn/2), which is registered: "
        "the policy 'default' is missing an evaluation of churn/2 with gates that passed "
        "(none is recorded); a passing data-quality check on churn/2 (none is recorded)"
    )
    assert lifecycle_history(store, version) == []


@pytest.mark.parametrize(
    ("prepare", "missing"),
    [
        ("no evaluation", "an evaluation of churn/3 with gates that passed (none is recorded)"),
        ("ungated evaluation", "(1 recorded without gates)"),
        ("failed evaluation", "failed: auroc"),
        ("no quality check", "a passing data-quality check on churn/3 (none is recorded)"),
        ("failed quality check", "a passing data-quality check on churn/3 (recorded: fail)"),
        ("quality failed later", "the data_quality check"),
        ("drift failed later", "the drift check"),
    ],
)
def test_each_missing_piece_of_evidence_refuses_the_review_by_name(
    store: AimStore, evidence: Any, prepare: str, missing: str
) -> None:
    version = evidence.version(3)
    if prepare != "no evaluation":
        evidence.evaluation(
            version, gated=prepare != "ungated evaluation", passing=prepare != "failed evaluation"
        )
    if prepare in ("no evaluation", "ungated evaluation", "failed evaluation"):
        evidence.quality(version)
    if prepare == "failed quality check":
        evidence.quality(version, passing=False)
    if prepare in ("quality failed later", "drift failed later"):
        evidence.quality(version)
        if prepare == "quality failed later":
            evidence.quality(version, passing=False, key="later")
        else:
            evidence.drift_failure(version)
    with pytest.raises(TransitionRefusedError, match="the policy 'default' is missing") as refused:
        request_review(store, version, actor="ana", mlflow=False)
    assert missing in str(refused.value)
    assert lifecycle_history(store, version) == []


def test_a_newer_passing_evaluation_replaces_a_failed_one(store: AimStore, evidence: Any) -> None:
    version = evidence.version(4)
    evidence.evaluation(version, passing=False)
    evidence.quality(version)
    with pytest.raises(TransitionRefusedError):
        request_review(store, version, actor="ana", mlflow=False)
    passed = evidence.evaluation(version)
    assert passed in request_review(store, version, actor="ana", mlflow=False).evidence


def test_with_a_published_champion_the_review_needs_a_passing_comparison_with_it(
    store: AimStore, evidence: Any, drive: Callable[..., None]
) -> None:
    champion = evidence.reviewable(1)
    drive(champion, "published")
    challenger = evidence.reviewable(2)
    with pytest.raises(TransitionRefusedError) as refused:
        request_review(store, challenger, actor="ana", mlflow=False)
    assert str(refused.value).endswith(
        "is missing a comparison of churn/2 with the published churn/1 whose gates passed "
        "(none with gates is recorded)"
    )
    evidence.comparison(challenger, champion, passing=False)
    with pytest.raises(TransitionRefusedError, match=r"the newest, .*, failed"):
        request_review(store, challenger, actor="ana", mlflow=False)
    compared = evidence.comparison(challenger, champion)
    review = request_review(store, challenger, actor="ana", mlflow=False)
    assert compared in review.evidence and len(review.evidence) == 3


def test_an_inconclusive_comparison_is_no_evidence(
    store: AimStore, evidence: Any, drive: Callable[..., None]
) -> None:
    champion = evidence.reviewable(1)
    drive(champion, "published")
    challenger = evidence.reviewable(2)
    evidence.comparison(challenger, champion, rows=12)
    with pytest.raises(TransitionRefusedError, match=r"is inconclusive: "):
        request_review(store, challenger, actor="ana", mlflow=False)


def test_four_eyes_the_requester_may_not_approve_but_anyone_else_may(
    store: AimStore, evidence: Any
) -> None:
    version = evidence.reviewable(5)
    request_review(store, version, actor="ana", mlflow=False)
    with pytest.raises(TransitionRefusedError) as refused:
        approve(store, version, actor="ana", mlflow=False)
    assert "four eyes: ana requested the review, so another actor must approve it" in str(
        refused.value
    )
    assert lifecycle_state(store, version) == "in_review"
    assert approve(store, version, actor="bob", mlflow=False).state == "publishable"


def test_an_automated_approval_acts_as_its_policy_and_obeys_four_eyes(
    store: AimStore, evidence: Any
) -> None:
    version = evidence.reviewable(6)
    request_review(store, version, actor="policy:default", mlflow=False)
    with pytest.raises(TransitionRefusedError, match="four eyes: policy:default requested"):
        approve(store, version, policy="default", mlflow=False)
    with pytest.raises(InvalidInputError, match="give actor or policy, not both"):
        approve(store, version, policy="default", actor="bob", mlflow=False)
    other = evidence.reviewable(7)
    request_review(store, other, actor="ana", mlflow=False)
    approved = approve(store, other, policy="default", mlflow=False)
    assert (approved.actor, approved.policy, approved.state) == (
        "policy:default",
        "default",
        "publishable",
    )


def test_an_automated_approval_judges_the_evidence_again(store: AimStore, evidence: Any) -> None:
    version = evidence.reviewable(8)
    request_review(store, version, actor="ana", mlflow=False)
    evidence.drift_failure(version)  # the data moved since the review was asked for
    with pytest.raises(TransitionRefusedError, match="the drift check"):
        approve(store, version, policy="default", mlflow=False)
    assert lifecycle_state(store, version) == "in_review"


def test_a_rejection_needs_a_reason_and_sends_the_version_back(
    store: AimStore, evidence: Any
) -> None:
    version = evidence.reviewable(9)
    request_review(store, version, actor="ana", mlflow=False)
    for empty in (None, "", "   "):
        with pytest.raises(TransitionRefusedError, match="a rejection needs a reason"):
            reject(store, version, actor="bob", reason=empty, mlflow=False)
    rejected = reject(store, version, actor="bob", reason="calibration is off", mlflow=False)
    assert (rejected.state, rejected.reason) == ("registered", "calibration is off")
    assert request_review(store, version, actor="ana", mlflow=False).state == "in_review"


def test_a_policy_can_be_named_registered_or_given(
    store: AimStore, evidence: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimops.metadata.lifecycle import evidence as policies

    monkeypatch.setattr(policies, "POLICIES", dict(policies.POLICIES))  # registered for this test
    version = evidence.version(10)
    evidence.evaluation(version)  # no data-quality check
    with pytest.raises(TransitionRefusedError):
        request_review(store, version, actor="ana", mlflow=False)
    lenient = request_review(store, version, actor="ana", policy="evaluation_only", mlflow=False)
    assert lenient.policy == "evaluation_only"

    class Always:
        name = "always"

        def judge(self, store: AimStore, version: Urn) -> Found:
            return Found(found=("urn:aim:artifact:signed-off",))

    register_policy(Always())
    other = evidence.version(11)
    assert request_review(store, other, actor="ana", policy="always", mlflow=False).evidence == (
        "urn:aim:artifact:signed-off",
    )
    strict = EvidencePolicy(name="strict")
    with pytest.raises(TransitionRefusedError, match="the policy 'strict' is missing"):
        request_review(store, evidence.version(12), actor="ana", policy=strict, mlflow=False)
    with pytest.raises(InvalidInputError, match="no lifecycle policy named 'nope'; known: "):
        request_review(store, evidence.version(13), actor="ana", policy="nope", mlflow=False)
    with pytest.raises(InvalidInputError, match="cannot load the policy 'no_module:x'"):
        request_review(store, evidence.version(13), policy="no_module:x", mlflow=False)
    with pytest.raises(InvalidInputError, match="a lifecycle policy has a name and judge"):
        register_policy(object())


def test_a_task_retrying_its_recorded_transition_gets_it_back(
    store: AimStore, evidence: Any
) -> None:
    version = evidence.reviewable(14)
    origin = {
        "kind": "airflow",
        "run": "urn:aim:run:airflow/review/manual__1",
        "task": "urn:aim:step:airflow/review/manual__1/request_review",
    }
    first = request_review(store, version, actor="airflow:review", origin=origin, mlflow=False)
    again = request_review(store, version, actor="airflow:review", origin=origin, mlflow=False)
    assert (again.repeated, again.aspect_version, again.at) == (True, 1, first.at)
    with pytest.raises(TransitionRefusedError):  # another task asking again is refused
        request_review(store, version, actor="ana", mlflow=False)
    assert len(lifecycle_history(store, version)) == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: transition(s, "churn/1", "promote"), "a lifecycle transition is"),
        (lambda s: transition(s, "urn:aim:model:churn", "publish"), "is not a model version URN"),
        (lambda s: transition(s, 42, "publish"), "42 is not a model version"),
        (lambda s: transition(s, "churn/1", "publish", actor=""), "actor must not be empty"),
        (lambda s: transition(s, "churn/1", "publish", reason="x" * 5000), "at most 4096"),
        (lambda s: transition(s, "churn/1", "publish", origin={"kind": "cron"}), "origin's kind"),
        (lambda s: transition(s, "churn/1", "publish", origin={"dag": "x"}), "origin takes kind"),
        (lambda s: transition(s, "churn/1", "publish", origin={"run": "nope"}), "nope"),
    ],
)
def test_bad_arguments_are_refused_by_name_before_anything_is_written(
    store: AimStore, evidence: Any, call: Callable[[AimStore], Any], message: str
) -> None:
    version = evidence.version(1)
    with pytest.raises(InvalidInputError, match=message):
        call(store)
    assert lifecycle_history(store, version) == []


def test_an_unknown_model_version_is_named(store: AimStore) -> None:
    with pytest.raises(MissingEntityError, match=r"model version churn/99 .* is not in the AIM"):
        publish(store, "churn/99", mlflow=False)
    assert store.get_entity("urn:aim:modelVersion:churn/99") is None
