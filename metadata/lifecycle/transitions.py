"""Moving a model version through its lifecycle: guarded, audited, one winner per race.

:func:`transition` (and its five named forms) checks every guard before anything is written:

- the version is in the store and its state allows the transition;
- ``request_review``: the policy (:mod:`~aimops.metadata.lifecycle.evidence`) found all the
  evidence it asks for; the URNs it relied on are recorded with the transition;
- ``approve``: four eyes. The approver is not the actor who requested the review; an automated
  approval (``policy=``) acts as ``policy:<name>``, obeys the same rule, and judges the
  evidence again (it may have gone stale: a drift check failed since);
- ``reject``: a reason;
- ``publish``: the version is ``publishable``; ``deprecate``: it is not ``deprecated`` yet.

A refused transition raises :class:`~aimops.errors.TransitionRefusedError` naming the version,
its state, the transition and what is missing, and changes nothing. The write states the
version of the ``lifecycle`` aspect it read (optimistic concurrency), so of two transitions
racing on one version exactly one is recorded; the other raises
:class:`~aimops.errors.LifecycleConflictError` naming the winner. A task that retries after its
transition was recorded (the same transition from the same task) gets the recorded one back.

After the store, MLflow's registry is brought in line (a tag ``aimops.lifecycle_state`` on
each version of the model; see :mod:`~aimops.metadata.lifecycle.mlflow_mirror`). MLflow
failing does not undo the transition: the outcome says so in ``mlflow``.

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> version = record_model_version(store, "churn", 1)
    >>> request_review(store, version, actor="ana")
    Traceback (most recent call last):
    ...
    aimops.errors.TransitionRefusedError: cannot request_review churn/1 \
(urn:aim:modelVersion:churn/1), which is registered: the policy 'default' is missing an \
evaluation of churn/1 with gates that passed (none is recorded); a passing data-quality check \
on churn/1 (none is recorded)
    >>> done = deprecate(store, version, actor="ana", reason="never shipped", mlflow=False)
    >>> done.previous, done.state, done.actor
    ('registered', 'deprecated', 'ana')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aimops import validation
from aimops.errors import (
    ConcurrentUpdateError,
    InvalidInputError,
    LifecycleConflictError,
    TransitionRefusedError,
)
from aimops.metadata.lifecycle.evidence import Evidence, resolve_policy
from aimops.metadata.lifecycle.machine import (
    INITIAL_STATE,
    check_transition,
    refusal,
    target_state,
)
from aimops.metadata.lifecycle.queries import ASPECT, label, require_version, version_urn
from aimops.metadata.store_values import iso
from aimops.metadata.urns import Urn

if TYPE_CHECKING:
    from aimops.metadata.lifecycle.mlflow_mirror import MlflowTarget
    from aimops.metadata.store import AimStore

ORIGIN_KINDS = ("cli", "airflow", "prefect", "python")
MAX_REASON = 4096


@dataclass(frozen=True)
class TransitionOutcome:
    """What a transition did: the version, the states before and after, who, why, on what
    evidence, the ``lifecycle`` aspect version it wrote, and how MLflow's mirror went."""

    urn: str
    transition: str
    previous: str
    state: str
    actor: str
    reason: str | None
    evidence: tuple[str, ...]
    origin: dict[str, Any]
    at: str
    aspect_version: int
    policy: str | None = None
    #: ``synced``, ``not configured``, ``not in the MLflow registry``, ``off`` or
    #: ``failed: <why>`` (the transition stands; ``aimops models sync`` repairs it).
    mlflow: str = "off"
    #: True when this very transition from this very task had been recorded already.
    repeated: bool = False
    #: A deprecation's de-ramp, per deployment the version served (see ``DerampOutcome``).
    deramped: tuple[dict[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return label(self.urn)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what operators push to XCom and the CLI prints with ``--json``)."""
        data = asdict(self)
        data["evidence"] = list(self.evidence)
        data["deramped"] = [dict(found) for found in self.deramped]
        return data


def transition(
    store: AimStore,
    version: Any,
    action: str,
    *,
    actor: str | None = None,
    reason: str | None = None,
    origin: Mapping[str, Any] | None = None,
    policy: Any = None,
    mlflow: MlflowTarget | bool = True,
    force: bool = False,
    router: Any = None,
) -> TransitionOutcome:
    """Apply the lifecycle transition ``action`` to the model version ``version`` (its URN,
    ``name/3`` or a ``model_version_ref``); see the module for the guards.

    ``actor`` defaults to the store's actor (the OS user); ``origin`` is ``{"kind": "cli" |
    "airflow" | "prefect" | "python", "run": URN, "task": URN}``; ``policy`` (an object or a
    registered name) judges ``request_review``'s evidence, and for ``approve`` makes it an
    automated approval. ``mlflow``: True mirrors to the configured MLflow (if any), False
    skips it, or an :class:`~aimops.metadata.lifecycle.mlflow_mirror.MlflowTarget`.
    ``deprecate`` de-ramps a version that serves traffic first
    (:func:`~aimops.metadata.lifecycle.deramp.deramp`, through ``router``); ``force`` lets
    it take the traffic of a champion or of the only version serving a deployment.
    """
    action = check_transition(action)
    force = validation.flag(force, "force")
    urn = version_urn(version)
    reason = validation.optional_text(reason, "reason", limit=MAX_REASON, nul=False)
    if reason is not None and not reason.strip():
        reason = None
    where = check_origin(origin)
    judge = resolve_policy(policy) if policy is not None or action == "request_review" else None
    if action == "approve" and judge is not None:
        if actor is not None:
            raise InvalidInputError(
                "an automated approval acts as its policy (policy:<name>); give actor or "
                "policy, not both"
            )
        actor = f"policy:{judge.name}"
    who = validation.text(
        actor if actor is not None else store.actor, "actor", empty=False, limit=256, nul=False
    )
    with store.reading():  # every read of the decision through one connection
        require_version(store, urn)
        current = store.get_aspect(urn, ASPECT)
        state = str(current.value["state"]) if current is not None else INITIAL_STATE
        if current is not None and _same_task(current.value, action, where):
            return _outcome(urn, current.value, current.version, mlflow="off", repeated=True)
        evidence, requested_by = _guards(store, urn, action, state, current, who, judge, reason)
    if isinstance(evidence, str):
        raise TransitionRefusedError(
            f"cannot {action} {label(urn)} ({urn}), which is {state}: {evidence}"
        )
    value = {
        "state": target_state(action),
        "transition": action,
        "previous": state,
        "actor": who,
        "reason": reason,
        "at": datetime.now(UTC),
        "origin": where,
        "evidence": list(evidence.found),
        "policy": judge.name if judge is not None else None,
        "requested_by": requested_by if action in ("request_review", "approve") else None,
    }
    deramped: tuple[dict[str, Any], ...] = ()
    if action == "deprecate":
        deramped = _deramp_first(store, urn, who, reason, where, force, router, mlflow)
    read_version = current.version if current is not None else 0
    written = _write(store, urn, value, read_version, action, who)
    mirrored = _mirror(store, urn, mlflow)
    outcome = _outcome(urn, value, written, mlflow=mirrored)
    return replace(outcome, deramped=deramped) if deramped else outcome


def _guards(
    store: AimStore,
    urn: Urn,
    action: str,
    state: str,
    current: Any,
    who: str,
    judge: Any,
    reason: str | None,
) -> tuple[Evidence | str, str | None]:
    """(the evidence the transition relies on, who requested the review), or (why it is
    refused, None)."""
    wrong_state = refusal(action, state)
    if wrong_state is not None:
        return wrong_state, None
    requested_by = current.value.get("requested_by") if current is not None else None
    evidence = Evidence()
    if action == "request_review":
        evidence, requested_by = judge.judge(store, urn), who
    elif action == "approve":
        if requested_by == who:
            return f"four eyes: {who} requested the review, so another actor must approve it", None
        if judge is not None:
            evidence = judge.judge(store, urn)
        else:  # a person approves on the evidence the review was requested with
            evidence = Evidence(found=tuple(current.value.get("evidence", ())))
    elif action == "reject" and reason is None:
        return "a rejection needs a reason", None
    if not evidence.sufficient:
        return f"the policy {judge.name!r} is missing {'; '.join(evidence.missing)}", None
    return evidence, requested_by


def _write(
    store: AimStore, urn: Urn, value: dict[str, Any], read_version: int, action: str, who: str
) -> int:
    """Append ``value`` if the aspect is still at ``read_version``; the conflict error else."""
    try:
        with store.transaction(actor=who) as tx:
            return tx.put_aspect(urn, ASPECT, value, expected_version=read_version)
    except ConcurrentUpdateError:
        latest = store.get_aspect(urn, ASPECT)
        winner = (
            f"{latest.value['transition']} by {latest.value['actor']} made it "
            f"{latest.value['state']}"
            if latest is not None
            else "another writer changed it"
        )
        raise LifecycleConflictError(
            f"cannot {action} {label(urn)} ({urn}): another transition got there first "
            f"({winner}); nothing was changed, read its state again"
        ) from None


def _deramp_first(
    store: AimStore,
    urn: Urn,
    who: str,
    reason: str | None,
    origin: Mapping[str, Any],
    force: bool,
    router: Any,
    mlflow: Any,
) -> tuple[dict[str, Any], ...]:
    """Take the traffic of a version about to be deprecated (refused as a deprecation); what
    the de-ramp did per deployment."""
    from aimops.metadata.lifecycle.deployments import deployments_serving
    from aimops.metadata.lifecycle.deramp import deramp

    if not deployments_serving(store, urn):
        return ()
    try:
        done = deramp(store, urn, actor=who, reason=reason or "deprecated", origin=origin,
                      force=force, router=router, mlflow=mlflow)  # fmt: skip
    except TransitionRefusedError as exc:
        raise TransitionRefusedError(
            str(exc).replace("cannot de-ramp", "cannot deprecate", 1)
        ) from None
    return tuple(done.deployments)


def _mirror(store: AimStore, urn: Urn, mlflow: Any) -> str:
    if mlflow is False:
        return "off"
    from aimops.metadata.lifecycle.mlflow_mirror import MlflowTarget, mirror_model

    target = mlflow if isinstance(mlflow, MlflowTarget) else None
    return mirror_model(store, urn.segments[0], target=target).summary


def check_origin(origin: Mapping[str, Any] | None) -> dict[str, Any]:
    """``origin`` checked: ``kind`` (cli, airflow, prefect, python), ``run`` and ``task``
    URNs (None: from Python)."""
    if origin is None:
        return {"kind": "python", "run": None, "task": None}
    given = validation.mapping(origin, "origin")
    unknown = sorted(set(given) - {"kind", "run", "task"})
    if unknown:
        raise InvalidInputError(
            f"origin takes kind, run and task, not {', '.join(map(str, unknown))}"
        )
    kind = validation.choice(given.get("kind", "python"), "origin's kind", ORIGIN_KINDS)
    found = {"kind": kind, "run": None, "task": None}
    for part in ("run", "task"):
        if given.get(part) is not None:
            found[part] = str(Urn.parse(given[part]))
    return found


def _same_task(latest: Mapping[str, Any], action: str, where: Mapping[str, Any]) -> bool:
    """Whether the latest transition is this one, made by this very task (a retry)."""
    origin = latest.get("origin") or {}
    return (
        latest.get("transition") == action
        and where.get("task") is not None
        and origin.get("task") == where.get("task")
        and origin.get("run") == where.get("run")
    )


def _outcome(
    urn: Urn, value: Mapping[str, Any], written: int, *, mlflow: str, repeated: bool = False
) -> TransitionOutcome:
    at = value["at"]
    return TransitionOutcome(
        urn=str(urn),
        transition=value["transition"],
        previous=value["previous"],
        state=value["state"],
        actor=value["actor"],
        reason=value.get("reason"),
        evidence=tuple(value.get("evidence", ())),
        origin=dict(value.get("origin") or {}),
        at=iso(at) or "" if isinstance(at, datetime) else str(at),
        aspect_version=written,
        policy=value.get("policy"),
        mlflow=mlflow,
        repeated=repeated,
    )


def request_review(store: AimStore, version: Any, **options: Any) -> TransitionOutcome:
    """Ask for a review of ``version``: needs the policy's evidence (see :func:`transition`)."""
    return transition(store, version, "request_review", **options)


def approve(store: AimStore, version: Any, **options: Any) -> TransitionOutcome:
    """Approve the review of ``version`` (four eyes; ``policy=`` approves automatically)."""
    return transition(store, version, "approve", **options)


def reject(store: AimStore, version: Any, **options: Any) -> TransitionOutcome:
    """Send ``version`` back from review to ``registered``; needs a ``reason``."""
    return transition(store, version, "reject", **options)


def publish(store: AimStore, version: Any, **options: Any) -> TransitionOutcome:
    """Publish a ``publishable`` ``version``."""
    return transition(store, version, "publish", **options)


def deprecate(store: AimStore, version: Any, **options: Any) -> TransitionOutcome:
    """Retire ``version`` from any state but ``deprecated``."""
    return transition(store, version, "deprecate", **options)
