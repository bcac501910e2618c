"""Ramps as Argo Rollouts and Flagger run them: weights step by step, each step analysed.

:func:`start_ramp` gives a published challenger the schedule's first weight (the champion the
rest) and records the ramp. :func:`advance_ramp` does what is due, and nothing else, so it
can be called again and again (a deferred Airflow task's every wake-up, ``aimops ramp URN``):

- first it settles: the deployment and the router are made to serve what the ramp's record
  says (a crash between the store and the router is repaired here);
- while the step's bake time runs, it reports how long is left (``waiting``);
- then it analyses the window since the step started (:mod:`~aimops.monitors.ramps.analysis`)
  and decides: **pass**: the next weight (``advanced``), or at 100% the challenger becomes
  champion and the previous one stops serving (``promoted``; deprecated too when the ramp
  says so); **fail**: after ``failure_limit`` failed analyses, weight 0, the champion back to
  100%, ``rolled_back`` and an alert through the alert channels (before that, ``held``);
  **inconclusive** (too few requests): the weight is ``held``, and past the progress deadline
  the ramp is ``paused`` until :func:`resume_ramp` or :func:`abort_ramp`.

The ramp's record and the deployment's traffic are written in one transaction that states the
versions it read: two controllers racing on one ramp cannot both act
(:class:`~aimops.errors.LifecycleConflictError`, transient: the loser reads again).

Example:
    >>> import datetime, tempfile
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> from aimops.metadata.lifecycle.routers import FileRouter
    >>> store, router = AimStore.open("sqlite://"), FileRouter(tempfile.mkdtemp())
    >>> for number in (1, 2):
    ...     _ = record_model_version(store, "churn", number)
    ...     _ = store.put_aspect(f"urn:aim:modelVersion:churn/{number}", "lifecycle", {
    ...         "state": "published", "transition": "publish", "previous": "publishable",
    ...         "actor": "ana", "at": datetime.datetime.now(datetime.UTC)})
    >>> first = start_ramp(store, "churn/1", bake_time=0, router=router, mlflow=False)
    >>> first.ramp["schedule"], first.deployment["weights"]  # no champion: an initial rollout
    ([100], {'1': 100})
    >>> import pandas as pd
    >>> served = pd.DataFrame({"timestamp": pd.Timestamp.now(tz="UTC"), "model_version":
    ...     "churn/1", "latency_ms": [40.0] * 150, "status": 200})
    >>> done = advance_ramp(store, "churn/1", requests=served, router=router, mlflow=False)
    >>> done.did, done.deployment["champion"], done.analysis["verdict"]
    ('promoted', '1', 'pass')
    >>> ramp = start_ramp(store, "churn/2", schedule=[10, 100], bake_time=60, router=router,
    ...                   mlflow=False)
    >>> ramp.did, ramp.deployment["weights"], ramp.waiting_seconds
    ('started', {'1': 90, '2': 10}, 60.0)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aimops import validation
from aimops.errors import InvalidInputError, TransitionRefusedError
from aimops.metadata.lifecycle import ramps as records
from aimops.metadata.lifecycle.deployments import (
    DEFAULT_ENVIRONMENT,
    apply_traffic,
    change_traffic,
    environment_name,
    read_deployment,
)
from aimops.metadata.lifecycle.queries import label, lifecycle_state, require_version, version_urn
from aimops.metadata.lifecycle.transitions import check_origin
from aimops.metadata.urns import Urn, model_version_urn
from aimops.monitors.ramps.gates import RampGates

if TYPE_CHECKING:
    import pandas as pd

    from aimops.metadata.lifecycle.ramps import Ramp
    from aimops.metadata.store import AimStore
    from aimops.metadata.writer import StoreWriter
    from aimops.monitors.ramps.analysis import Analysis

log = logging.getLogger(__name__)
#: With no ``progress_deadline``, a step may hold this many bake times before it pauses.
DEADLINE_BAKES = 4
#: ... and never less than this many seconds.
MIN_DEADLINE_SECONDS = 60.0


@dataclass(frozen=True)
class RampReport:
    """What one call did (``did``), the ramp and the deployment after it, the analysis it
    ran (if any), how long until the next analysis is due, and the router's and MLflow's
    outcomes."""

    did: str
    ramp: dict[str, Any]
    deployment: dict[str, Any]
    analysis: dict[str, Any] | None = None
    waiting_seconds: float | None = None
    router: str = "off"
    mlflow: str = "off"
    alert: str | None = None

    @property
    def status(self) -> str:
        return str(self.ramp["status"])

    @property
    def done(self) -> bool:
        """The ramp is over (complete, rolled back or aborted)."""
        return self.status in records.FINAL

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what tasks push to XCom and ``--json`` prints)."""
        return {
            "did": self.did, "status": self.status, "ramp": self.ramp,
            "deployment": self.deployment, "analysis": self.analysis,
            "waiting_seconds": self.waiting_seconds, "router": self.router,
            "mlflow": self.mlflow, "alert": self.alert,
        }  # fmt: skip


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else validation.moment(now, "now").astimezone(UTC)


#: The longest bake time or progress deadline (a year: more is a mistake).
MAX_SECONDS = 366 * 24 * 3600.0


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return validation.real_number(value, f"{what} (seconds)", minimum=0, maximum=MAX_SECONDS)


def start_ramp(
    store: AimStore,
    version: Any,
    *,
    environment: str = DEFAULT_ENVIRONMENT,
    schedule: Any = records.DEFAULT_SCHEDULE,
    bake_time: float | timedelta = 600.0,
    failure_limit: int = 1,
    progress_deadline: float | timedelta | None = None,
    gates: Mapping[str, Any] | RampGates | None = None,
    deprecate_previous: bool = False,
    actor: str | None = None,
    reason: str | None = None,
    origin: Mapping[str, Any] | None = None,
    router: Any = None,
    mlflow: Any = True,
    now: datetime | None = None,
) -> RampReport:
    """Start ramping the published ``version`` in ``environment`` (see the module).

    Refused (:class:`~aimops.errors.TransitionRefusedError`, nothing changed) when the
    version is not ``published``, is the champion already, or another ramp of the
    deployment is active (named). A deployment without a champion gets an initial rollout:
    the schedule is ``[100]``. Started again by the same task (``origin``), it is the same
    ramp.
    """
    urn = version_urn(version)
    environment = environment_name(environment)
    bake_seconds = _seconds(bake_time, "bake_time")
    plan: dict[str, Any] = {
        "schedule": records.check_schedule(schedule),
        "bake_seconds": bake_seconds,
        "failure_limit": validation.whole_number(failure_limit, "failure_limit", minimum=1),
        "gates": RampGates.from_mapping(gates).to_dict(),
        "deprecate_previous": validation.flag(deprecate_previous, "deprecate_previous"),
    }
    plan["progress_deadline_seconds"] = (
        max(DEADLINE_BAKES * bake_seconds, MIN_DEADLINE_SECONDS)
        if progress_deadline is None else _seconds(progress_deadline, "progress_deadline")
    )  # fmt: skip
    who = validation.text(actor if actor is not None else store.actor, "actor", empty=False)
    origin = check_origin(origin)
    moment = _now(now)
    model, number = urn.segments
    require_version(store, urn)
    deployment = read_deployment(store, model, environment)
    if deployment.ramp is not None:
        active = records.read_ramp(store, deployment.ramp)
        if active.active:
            if active.version == number and _same_origin(active.value, origin):
                return _settled(store, active, "started", router, mlflow, moment)
            raise TransitionRefusedError(
                f"cannot ramp {label(urn)} in {environment}: the ramp {active.urn} of "
                f"{model}/{active.version} is {active.status}; one ramp at a time (resume, "
                "abort or wait for it)"
            )
    state = lifecycle_state(store, urn)
    if state != "published":
        raise TransitionRefusedError(
            f"cannot ramp {label(urn)} ({urn}), which is {state}: a ramp needs the state "
            "published (review, approve and publish it first)"
        )
    if deployment.champion == number:
        raise TransitionRefusedError(
            f"cannot ramp {label(urn)}: it is the champion of {model}/{environment} already"
        )
    if deployment.champion is None:
        plan["schedule"] = (100,)  # an initial rollout: nothing to ramp from
    ramp_urn = records.next_ramp_urn(store, model, environment)
    value = {
        "deployment": deployment.urn, "model": model, "environment": environment,
        "version": number, "champion": deployment.champion, **plan, "status": "ramping",
        "step": 0, "step_started_at": moment, "failures": 0, "analyses": [],
        "started_at": moment, "updated_at": moment, "actor": who, "reason": reason,
        "origin": origin,
        "note": f"started at {plan['schedule'][0]}%",
    }  # fmt: skip
    weights, champion = records.desired_traffic(value)

    def record(tx: StoreWriter) -> None:
        tx.put_aspect(ramp_urn, records.ASPECT, value, expected_version=0)
        tx.put_edge(ramp_urn, "partOf", deployment.urn)

    changed = change_traffic(
        store, deployment, weights, champion=champion, ramp=str(ramp_urn),
        change="ramp_started", actor=who, reason=reason, origin=origin, also=record,
        router=router, mlflow=mlflow,
    )  # fmt: skip
    ramp = records.read_ramp(store, ramp_urn)
    return RampReport(
        "started", ramp.to_dict(), changed.deployment.to_dict(),
        waiting_seconds=bake_seconds, router=changed.router, mlflow=changed.mlflow,
    )  # fmt: skip


def find_ramp(store: AimStore, target: Any, environment: str = DEFAULT_ENVIRONMENT) -> Ramp:
    """The ramp ``target`` names: a ramp URN, a deployment URN (its newest ramp) or a model
    version (its newest ramp in ``environment``). NotFoundError-like MissingEntityError when
    there is none."""
    from aimops.errors import MissingEntityError

    if isinstance(target, str | Urn) and str(target).startswith("urn:aim:ramp:"):
        return records.read_ramp(store, target)
    if isinstance(target, str | Urn) and str(target).startswith("urn:aim:deployment:"):
        segments = Urn.parse(target).segments
        model, environment = segments[0], segments[1] if len(segments) > 1 else environment
        found = records.latest_ramp(store, model, environment)
        what = f"the deployment {target}"
    else:
        urn = version_urn(target)
        found = records.latest_ramp(store, urn.segments[0], environment, version=urn.segments[1])
        what = f"{label(urn)} in {environment}"
    if found is None:
        raise MissingEntityError(f"no ramp of {what} in the AIM store")
    return found


def advance_ramp(
    store: AimStore,
    target: Any,
    *,
    environment: str = DEFAULT_ENVIRONMENT,
    requests: pd.DataFrame | None = None,
    serving_root: Any = None,
    router: Any = None,
    mlflow: Any = True,
    alert: bool = True,
    now: datetime | None = None,
) -> RampReport:
    """Do what is due for the ramp ``target`` names (see the module and :func:`find_ramp`).

    ``requests``: the request log to analyse (default: the serving logs of the window,
    :func:`~aimops.monitors.serving.logs.read_window`, under ``serving_root``).
    """
    moment = _now(now)
    ramp = find_ramp(store, target, environment)
    if ramp.status != "ramping":
        return _settled(store, ramp, "nothing due", router, mlflow, moment)
    value = ramp.value
    started = _moment(value["step_started_at"])
    due = _due(value, started)
    if moment < due:
        report = _settled(store, ramp, "waiting", router, mlflow, moment)
        return _with(report, waiting_seconds=(due - moment).total_seconds())
    analysis = _analyse(store, ramp, started, moment, requests, serving_root)
    return _decide(store, ramp, analysis, started, moment, router, mlflow, alert)


def _due(value: Mapping[str, Any], started: datetime) -> datetime:
    """When the step's next analysis is due: a bake time after the step started, or after its
    last analysis."""
    step = int(value["step"])
    last = [a for a in value.get("analyses", ()) if int(a["step"]) == step]
    since = max([started, *(_moment(a["at"]) for a in last)])
    return since + timedelta(seconds=float(value["bake_seconds"]))


def _analyse(
    store: AimStore,
    ramp: Ramp,
    start: datetime,
    end: datetime,
    requests: pd.DataFrame | None,
    serving_root: Any,
) -> Analysis:
    from aimops.monitors.ramps.analysis import analyze_requests, combined, recorded_gates

    value = ramp.value
    gates = RampGates.from_mapping(value.get("gates") or {})
    model, champion = ramp.model, value.get("champion")
    versions = [ramp.version] + ([str(champion)] if champion else [])
    if requests is None:
        from aimops.monitors.serving.logs import read_window

        requests = read_window(model, versions, start, end, root=serving_root)
    health = analyze_requests(
        requests,
        challenger=f"{model}/{ramp.version}",
        champion=f"{model}/{champion}" if champion else None,
        gates=gates,
    )
    version = str(model_version_urn(model, ramp.version))
    return combined(health, recorded_gates(store, version, start, end, gates))


def _decide(
    store: AimStore,
    ramp: Ramp,
    analysis: Analysis,
    started: datetime,
    moment: datetime,
    router: Any,
    mlflow: Any,
    alert: bool,
) -> RampReport:
    value = dict(ramp.value)
    step, schedule = int(value["step"]), [int(w) for w in value["schedule"]]
    verdict, change = analysis.verdict, "ramp_held"
    steps = f"step {step + 1} of {len(schedule)} ({schedule[step]}%)"
    update: dict[str, Any] = {"updated_at": moment}
    if verdict == "pass" and step + 1 == len(schedule):
        decision, change = "promote", "promoted"
        update |= {"status": "complete", "ended_at": moment, "failures": 0,
                   "note": f"{steps} passed: {ramp.version} is the champion"}  # fmt: skip
    elif verdict == "pass":
        decision, change = "advance", "ramp_step"
        note = f"{steps} passed: {schedule[step]}% -> {schedule[step + 1]}%"
        update |= {"step": step + 1, "step_started_at": moment, "failures": 0, "note": note}
    elif verdict == "fail" and int(value["failures"]) + 1 >= int(value["failure_limit"]):
        decision, change = "roll_back", "rolled_back"
        update |= {"status": "rolled_back", "ended_at": moment,
                   "failures": int(value["failures"]) + 1,
                   "note": f"{steps} failed: {analysis.summary()}"}  # fmt: skip
    elif verdict == "fail":
        decision = "hold"
        update |= {"failures": int(value["failures"]) + 1, "step_started_at": moment,
                   "note": f"{steps} failed ({int(value['failures']) + 1} of "
                   f"{value['failure_limit']} allowed): {analysis.summary()}"}  # fmt: skip
    elif (moment - started).total_seconds() > float(value["progress_deadline_seconds"]):
        decision, change = "pause", "paused"
        update |= {"status": "paused", "note": f"{steps} inconclusive past the progress "
                   f"deadline ({analysis.summary()}): paused until a person resumes or "
                   "aborts"}  # fmt: skip
    else:
        decision = "hold"
        update["note"] = f"{steps} inconclusive, holding: {analysis.summary()}"
    record = {
        "step": step, "weight": schedule[step], "window_start": started, "window_end": moment,
        "verdict": verdict, "gates": [gate.to_dict() for gate in analysis.gates],
        "requests": analysis.requests, "decision": decision, "at": moment,
    }  # fmt: skip
    value |= update
    value["analyses"] = [*value.get("analyses", ()), record]
    report = _write(store, ramp, value, change, value["note"], router, mlflow)
    report = _with(report, analysis=_jsonable_record(record))
    if decision == "roll_back" and alert:
        report = _with(report, alert=_alert(ramp, value, analysis))
    if decision == "promote" and value.get("deprecate_previous") and value.get("champion"):
        _deprecate_previous(store, ramp, value, router, mlflow)
    if decision == "advance":
        report = _with(report, waiting_seconds=float(value["bake_seconds"]))
    log.info("%s: %s", ramp.urn, value["note"])
    return report


def _write(
    store: AimStore,
    ramp: Ramp,
    value: dict[str, Any],
    change: str,
    note: str,
    router: Any,
    mlflow: Any,
    *,
    actor: str | None = None,
    reason: str | None = None,
    did: str | None = None,
) -> RampReport:
    """Record ``value`` as the ramp's new state and its traffic, in one transaction."""
    weights, champion = records.desired_traffic(value)
    deployment = read_deployment(store, ramp.model, ramp.environment)
    active = ramp.urn if value["status"] in records.ACTIVE else None

    def record(tx: StoreWriter) -> None:
        tx.put_aspect(ramp.urn, records.ASPECT, value, expected_version=ramp.aspect_version)

    changed = change_traffic(
        store, deployment, weights, champion=champion, ramp=active, change=change,
        actor=actor or str(value["actor"]), reason=reason or note, origin=value.get("origin"),
        also=record, router=router, mlflow=mlflow,
    )  # fmt: skip
    after = records.read_ramp(store, ramp.urn)
    return RampReport(
        did or _did(change), after.to_dict(), changed.deployment.to_dict(),
        router=changed.router, mlflow=changed.mlflow,
    )  # fmt: skip


def _did(change: str) -> str:
    return {"ramp_step": "advanced", "ramp_held": "held", "promoted": "promoted",
            "rolled_back": "rolled_back", "paused": "paused", "resumed": "resumed",
            "aborted": "aborted"}.get(change, change)  # fmt: skip


def _settled(
    store: AimStore, ramp: Ramp, did: str, router: Any, mlflow: Any, moment: datetime
) -> RampReport:
    """Make the deployment and the router serve what ``ramp``'s record says (repairing a
    crash between store and router), without a new decision."""
    weights, champion = records.desired_traffic(ramp.value)
    deployment = read_deployment(store, ramp.model, ramp.environment)
    if ramp.active or deployment.ramp == ramp.urn:  # the deployment follows this ramp
        changed = change_traffic(
            store, deployment, weights, champion=champion,
            ramp=ramp.urn if ramp.active else None, change="repaired",
            actor=str(ramp.value["actor"]), reason="the ramp's record and the traffic agree "
            "again", origin=ramp.value.get("origin"), router=router, mlflow=mlflow,
        )  # fmt: skip
        deployment, routed, mirrored = changed.deployment, changed.router, changed.mlflow
    else:
        routed, mirrored = apply_traffic(store, deployment, router, mlflow)
    return RampReport(did, ramp.to_dict(), deployment.to_dict(), router=routed, mlflow=mirrored)


def resume_ramp(
    store: AimStore,
    target: Any,
    *,
    environment: str = DEFAULT_ENVIRONMENT,
    actor: str | None = None,
    reason: str | None = None,
    router: Any = None,
    mlflow: Any = True,
    now: datetime | None = None,
) -> RampReport:
    """Resume a paused ramp: its step starts again (a new window, a new deadline)."""
    return _by_person(
        store, target, environment, "resumed", actor, reason, router, mlflow, _now(now)
    )


def abort_ramp(
    store: AimStore,
    target: Any,
    *,
    environment: str = DEFAULT_ENVIRONMENT,
    actor: str | None = None,
    reason: str | None = None,
    router: Any = None,
    mlflow: Any = True,
    now: datetime | None = None,
) -> RampReport:
    """Abort an active ramp: the challenger's weight to 0 and the champion back to 100%."""
    return _by_person(
        store, target, environment, "aborted", actor, reason, router, mlflow, _now(now)
    )


def _by_person(
    store: AimStore,
    target: Any,
    environment: str,
    change: str,
    actor: str | None,
    reason: str | None,
    router: Any,
    mlflow: Any,
    moment: datetime,
) -> RampReport:
    """A person resumes a paused ramp or aborts an active one; refused from other states."""
    ramp = find_ramp(store, target, environment)
    if change == "resumed" and ramp.status != "paused":
        raise TransitionRefusedError(
            f"cannot resume {ramp.urn}: it is {ramp.status}, and only a paused ramp resumes"
        )
    if change == "aborted" and not ramp.active:
        raise TransitionRefusedError(
            f"cannot abort {ramp.urn}: it is {ramp.status} already (only a ramping or paused "
            "ramp can be aborted)"
        )
    who = validation.text(actor if actor is not None else store.actor, "actor", empty=False)
    note = f"{change} by {who}" + (f": {reason}" if reason else "")
    value = {**ramp.value, "updated_at": moment, "note": note}
    if change == "resumed":
        value |= {"status": "ramping", "step_started_at": moment, "failures": 0}
    else:
        value |= {"status": "aborted", "ended_at": moment}
    return _write(store, ramp, value, change, note, router, mlflow, actor=who, reason=reason)


def ramp_status(store: AimStore, target: Any, environment: str = DEFAULT_ENVIRONMENT) -> RampReport:
    """The ramp ``target`` names and its deployment, changing nothing."""
    ramp = find_ramp(store, target, environment)
    deployment = read_deployment(store, ramp.model, ramp.environment)
    waiting = None
    if ramp.status == "ramping":
        due = _due(ramp.value, _moment(ramp.value["step_started_at"]))
        waiting = max((due - datetime.now(UTC)).total_seconds(), 0.0)
    return RampReport("status", ramp.to_dict(), deployment.to_dict(), waiting_seconds=waiting)


def _alert(ramp: Ramp, value: Mapping[str, Any], analysis: Analysis) -> str:
    """Send the rollback's alert through the alert channels; returns where it went."""
    from aimops.monitors.checks.alerts import Alert, send_alert

    origin = value.get("origin") or {}
    source = {key: str(origin[key]) for key in ("kind", "run", "task") if origin.get(key)}
    message = (
        f"{ramp.model}/{ramp.version} was rolled back in {ramp.environment} at "
        f"{value['schedule'][int(value['step'])]}%; the champion "
        f"{ramp.model}/{value.get('champion')} serves 100% again. {analysis.summary()}"
    )
    try:
        delivery = send_alert(Alert(
            f"ramp of {ramp.model}/{ramp.version} rolled back", message, source=source,
            links={"ramp": ramp.urn},
        ))  # fmt: skip
    except (OSError, InvalidInputError) as exc:  # the rollback stands; say why no alert
        log.warning("%s rolled back, but its alert could not be sent: %s", ramp.urn, exc)
        return f"failed: {exc}"
    return str(delivery.logged_to)


def _deprecate_previous(
    store: AimStore, ramp: Ramp, value: Mapping[str, Any], router: Any, mlflow: Any
) -> None:
    from aimops.metadata.lifecycle.transitions import deprecate

    previous = model_version_urn(ramp.model, str(value["champion"]))
    if lifecycle_state(store, previous) == "deprecated":
        return
    deprecate(store, previous, actor=str(value["actor"]), origin=value.get("origin"),
              reason=f"superseded by {ramp.model}/{ramp.version} ({ramp.urn})",
              router=router, mlflow=mlflow)  # fmt: skip


def _same_origin(value: Mapping[str, Any], origin: Mapping[str, Any] | None) -> bool:
    given = dict(origin or {})
    held = value.get("origin") or {}
    return given.get("task") is not None and (held.get("task"), held.get("run")) == (
        given.get("task"), given.get("run"))  # fmt: skip


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _jsonable_record(record: Mapping[str, Any]) -> dict[str, Any]:
    from aimops.metadata.store_values import iso

    return {k: iso(v) if isinstance(v, datetime) else v for k, v in record.items()}


def _with(report: RampReport, **changes: Any) -> RampReport:
    from dataclasses import replace

    return replace(report, **changes)
