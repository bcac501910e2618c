"""Model traffic ramps as Prefect tasks (Argo Rollouts style), and the de-ramp.

:func:`ramp_model` ramps a published model version through a schedule of traffic weights
(``1, 5, 25, 50, 100`` by default), each step baked and analysed (:mod:`aimops.monitors.ramps`).
A bake takes minutes to hours, and a worker must not sit through it: **each task run does one
thing, what is due now, and returns**, so the flow is meant to run on a schedule (a deployment
every few minutes), each scheduled run moving the ramp on as far as is due:

- the version has no ramp in the environment yet: start one (the schedule's first weight to
  the version, the champion the rest; no champion: an initial rollout at 100%);
- its active ramp's analysis is due: ``before_analysis(info)``, when given, runs first (the
  traffic of the window is simulated with it in the examples), then one analysis over the
  step's window and its decision: pass (the next weight; at 100% the version becomes the
  champion), fail (rolled back to the champion), inconclusive (held; paused past the progress
  deadline). ``info`` holds ``model``, ``environment``, ``weights`` (``{version: percent}``),
  ``window_start`` and ``window_end`` (ISO 8601), ``analysis_start``, ``ramp`` (its record),
  ``challenger`` and ``champion`` (:func:`~aimops.monitors.ramps.orchestrated.analysis_info`);
- otherwise (the step still bakes, or the ramp is paused or over): its status, with how long
  until the next analysis in ``waiting_seconds``.

How the run ends says where the ramp stands: **complete**: it returns the final report;
**rolled back**: it fails at once (``RampRolledBackError``, not retried), naming the failed
gates and the champion restored (``fail_on_rollback=False``: it returns the report, with a
warning); **aborted**: it fails at once (``RampAbortedError``), naming who aborted;
**paused**: it returns the status and warns how a person resumes (``aimops resume <urn>``)
or aborts it (``aimops abort <urn>``). A ramp that is over is reported again by later runs,
never started again: a rolled-back version is not put back into traffic on its own (a person
starts a new ramp: ``aimops ramp churn/4``); pause the deployment once the ramp is over.

Errors go through the task frame (:mod:`aimops.flows.frame`): a refused ramp (the version not
published, another ramp active) fails at once, a conflict or an unreachable store keeps the
task's retries, and a retry of the task run that started the ramp finds it again instead of
starting another. The ramp acts as ``actor`` (default ``prefect:<flow name>``) and names the
flow run and task run that started it.

:func:`deramp_model` takes a version's traffic away at once
(:func:`~aimops.metadata.lifecycle.deramp.deramp`).

Artifacts (Prefect's UI, Artifacts): ``aimops-ramp-<model>-<environment>`` (markdown: status,
step, weights, the last analysis and its gates), ``...-table`` (one row per analysis of the
ramp with its gates' verdicts, and the step in progress), ``...-link`` (the version's page);
``aimops-deramp-<model>`` (and ``-table``, ``-link``) for a de-ramp.

Example:
    >>> ramp = {"urn": "urn:aim:ramp:churn/production/1", "model": "churn", "version": "2",
    ...     "environment": "production", "champion": "1", "status": "ramping", "step": 0,
    ...     "schedule": [50, 100], "analyses": [], "note": "started at 50%"}
    >>> view = ramp_view({"did": "started", "status": "ramping", "ramp": ramp,
    ...     "deployment": {"weights": {"1": 50, "2": 50}}, "waiting_seconds": 300.0,
    ...     "urn": "urn:aim:modelVersion:churn/2"})
    >>> view.key, view.table
    ('aimops-ramp-churn-production', [{'analysis': None, 'step': 1, 'weight': 50, \
'verdict': None, 'decision': 'baking', 'requests': None, 'at': None, 'gates': ''}])

Example (a flow, deployed to run every five minutes)::

    from prefect import flow
    from aimops.flows.ramps import ramp_model

    @flow
    def ramp_churn(version: str = "churn/4") -> dict:
        return ramp_model(version, schedule=[5, 25, 100], bake_time=1800,
                          gates={"latency_p99_max_ms": 300})

    if __name__ == "__main__":
        ramp_churn.serve(name="ramp-churn", interval=300)   # each run does what is due
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError, RampAbortedError, RampRolledBackError
from aimops.flows.artifacts import ProgressView, model_of, report_link
from aimops.flows.frame import aimops_task, current_identity, in_frame, run_logger
from aimops.metadata.lifecycle.ramps import DEFAULT_SCHEDULE
from aimops.monitors.lifecycle_lines import check_version_and_actor, recorded_reason
from aimops.monitors.ramps.orchestrated import (
    abort_message,
    analysis_info,
    duration_seconds,
    gate_line,
    parsed_argument,
    paused_message,
    ramp_line,
    rollback_message,
)
from aimops.monitors.reports.urls import model_version_url

if TYPE_CHECKING:
    from aimops.flows.blocks import AimopsStore
    from aimops.metadata.store import AimStore

BeforeAnalysis = Callable[[dict[str, Any]], Any]


def _start_options(
    task: str, options: Mapping[str, Any], actor: str | None, reason: str | None
) -> dict[str, Any]:
    """What starting the ramp takes, read as the operator reads it (text, timedeltas);
    InvalidInputError naming ``task`` when a value is wrong."""
    identity = current_identity()
    try:
        return {
            **options,
            "schedule": parsed_argument(options["schedule"]),
            "bake_time": duration_seconds(options["bake_time"], "bake_time"),
            "progress_deadline": duration_seconds(
                options["progress_deadline"], "progress_deadline", optional=True
            ),
            "gates": parsed_argument(options["gates"]),
            "actor": actor if actor is not None else identity.actor,
            "reason": recorded_reason(reason),
            "origin": identity.origin(),
        }
    except InvalidInputError as exc:
        raise InvalidInputError(f"{task}: {exc}") from exc


def _ramp_action(
    store: AimStore,
    model_version: Any,
    start: Mapping[str, Any],
    before_analysis: BeforeAnalysis | None,
) -> dict[str, Any]:
    """The one action due for ``model_version``'s ramp in ``start["environment"]`` (see the
    module): start, analyse, or report."""
    from aimops.metadata.lifecycle.deployments import environment_name
    from aimops.metadata.lifecycle.queries import version_urn
    from aimops.metadata.lifecycle.ramps import latest_ramp
    from aimops.monitors.ramps.jobs import run_ramp_action

    urn = version_urn(model_version)
    environment = environment_name(start["environment"])
    found = latest_ramp(store, urn.segments[0], environment, version=urn.segments[1])
    if found is None:
        return run_ramp_action(store, "start", urn, **start)
    status = run_ramp_action(store, "status", found.urn, report_dir=None)
    held = found.value.get("origin") or {}
    started_here = (held.get("run"), held.get("task")) == (
        start["origin"]["run"], start["origin"]["task"])  # fmt: skip
    if started_here or status["status"] != "ramping" or (status["waiting_seconds"] or 0) > 0:
        return status  # a retry of the run that started it, a ramp baking, paused or over
    now = datetime.now(UTC)
    if before_analysis is not None:
        before_analysis(analysis_info(status, now))
    return run_ramp_action(
        store, "advance", found.urn, router=start["router"], mlflow=start["mlflow"], now=now,
        report_dir=start["report_dir"],
    )  # fmt: skip


@aimops_task
def ramp_model(
    model_version: Any,
    *,
    environment: str = "production",
    schedule: Any = DEFAULT_SCHEDULE,
    bake_time: float | timedelta = 600.0,
    failure_limit: int = 1,
    progress_deadline: float | timedelta | None = None,
    gates: Mapping[str, Any] | None = None,
    deprecate_previous: bool = False,
    router: Any = None,
    before_analysis: BeforeAnalysis | None = None,
    fail_on_rollback: bool = True,
    actor: str | None = None,
    reason: str | None = None,
    store: AimopsStore | str | None = None,
) -> dict[str, Any]:
    """Do what is due for a published model version's ramp: start it, analyse its step, or
    report where it stands (see the module: one action per run, so schedule the flow).

    :param model_version: a ``model_version_ref``, ``"name/3"`` or its URN.
    :param environment: the deployment's environment (default ``production``).
    :param schedule: the version's weights, rising to 100 (a list, or text such as
        ``"[5, 50, 100]"``); a model with no champion yet gets an initial rollout (``[100]``).
    :param bake_time: how long each step serves before its analysis (seconds or a timedelta).
    :param failure_limit: how many failed analyses of one step roll the ramp back (1);
        ``progress_deadline``: how long a step may stay inconclusive before the ramp pauses
        (four bake times, at least a minute); ``gates``: the limits of each analysis
        (:class:`~aimops.monitors.ramps.gates.RampGates`, e.g. ``{"latency_p99_max_ms": 300,
        "min_requests": 500}``); ``deprecate_previous``: retire the previous champion when the
        ramp completes.
    :param router: the traffic router's name or object (default ``$AIMOPS_ROUTER``, else
        ``file``).
    :param before_analysis: called with ``info`` before each analysis (see the module).
    :param fail_on_rollback: fail the task run when the ramp is rolled back (default).
    :param actor: who ramps (default ``prefect:<flow name>``); ``reason``: why.
    :param store: an :class:`~aimops.flows.blocks.AimopsStore` block, a saved block's name, or
        None (the environment).
    :return: the ramp's report (``did``: ``started``, ``advanced``, ``held``, ``paused``,
        ``promoted``, ``rolled_back``, ``waiting`` or ``status``; ``status``, ``ramp``,
        ``deployment``, ``analysis``, ``waiting_seconds``, ``router``, ``mlflow``, ``alert``,
        ``page``, ``urn``). The schedule, bake time and the other start options count only
        when the run starts the ramp.

    Example (in a flow)::

        ramp_model("churn/4", schedule=[5, 25, 100], bake_time=timedelta(minutes=30))
    """
    from aimops.flows.blocks import resolve_store

    task = current_identity().task_name
    check_version_and_actor(task, model_version, actor)
    if before_analysis is not None and not callable(before_analysis):
        raise InvalidInputError(f"{task}: before_analysis must be a function taking info")
    block = resolve_store(store)
    start = _start_options(task, {
        "environment": environment, "schedule": schedule, "bake_time": bake_time,
        "failure_limit": failure_limit, "progress_deadline": progress_deadline, "gates": gates,
        "deprecate_previous": deprecate_previous, "router": router,
        "mlflow": block.mlflow_target(), "report_dir": block.reports(),
    }, actor, reason)  # fmt: skip

    def job(aim: AimStore) -> dict[str, Any]:
        return _ramp_action(aim, model_version, start, before_analysis)

    done = _with_urn(in_frame(block, job))
    _log_ramp(done)
    ramp_view(done).publish()
    return _ended(done, fail_on_rollback)


def _with_urn(done: dict[str, Any]) -> dict[str, Any]:
    """``done`` with the model version's URN, and while it ramps how long until its next
    analysis (a held step waits a whole bake again)."""
    from aimops.metadata.urns import model_version_urn

    ramp = done["ramp"]
    waiting = done.get("waiting_seconds")
    if done["status"] == "ramping" and waiting is None:
        waiting = float(ramp.get("bake_seconds") or 0.0)
    urn = str(model_version_urn(ramp["model"], ramp["version"]))
    return {**done, "urn": urn, "waiting_seconds": waiting}


def _log_ramp(done: Mapping[str, Any]) -> None:
    """The lines a ramp's task run logs: what it did, the analysis and its gates."""
    log, ramp = run_logger(), done["ramp"]
    if done.get("analysis"):
        log.info("%s", ramp_line(done))
        for gate in done["analysis"].get("gates") or ():
            log.info("  %s", gate_line(gate))
    else:
        log.info(
            "%s/%s in %s: %s, %s: %s; weights %s (%s)", ramp["model"], ramp["version"],
            ramp["environment"], _did(done), done["status"], ramp.get("note"),
            done["deployment"]["weights"], ramp["urn"],
        )  # fmt: skip
    if done["status"] == "ramping":
        log.info("next analysis in %.1f s: run the flow again then", done["waiting_seconds"])
    if done.get("alert"):
        log.info("alert: %s", done["alert"])


def _did(done: Mapping[str, Any]) -> str:
    """What the run did, in words (a status report did nothing)."""
    return "nothing due" if done["did"] == "status" else str(done["did"])


def _ended(done: dict[str, Any], fail_on_rollback: bool) -> dict[str, Any]:
    """``done``, or the task run's failure, as the ramp's status says (see the module)."""
    status, ramp, log = done["status"], done["ramp"], run_logger()
    if status == "complete":
        log.info(
            "%s/%s is the champion of %s/%s: weights %s", ramp["model"], ramp["version"],
            ramp["model"], ramp["environment"], done["deployment"]["weights"],
        )  # fmt: skip
    elif status == "rolled_back" and fail_on_rollback:
        raise RampRolledBackError(rollback_message(done))
    elif status == "rolled_back":
        log.warning("%s", rollback_message(done))
    elif status == "aborted":
        raise RampAbortedError(abort_message(done))
    elif status == "paused":
        log.warning("%s", paused_message(ramp))
    return done


def ramp_view(done: Mapping[str, Any]) -> ProgressView:
    """The artifacts of a ramp's task run (see the module)."""
    ramp, analysis = done["ramp"], done.get("analysis")
    name = f"{ramp['model']}/{ramp['version']}"
    schedule, step = [int(w) for w in ramp["schedule"]], int(ramp["step"])
    weights = ", ".join(
        f"{ramp['model']}/{v} {w}%" for v, w in done["deployment"]["weights"].items()
    )
    champion = done["deployment"].get("champion")
    lines = [
        f"- status: **{done['status']}**; this run: {_did(done)}",
        f"- step {step + 1} of {len(schedule)} at {schedule[step]}% (schedule "
        f"{' → '.join(str(w) for w in schedule)})",
        f"- weights: {weights or 'none'}; champion {champion or 'none'}",
        f"- note: {ramp.get('note') or ''}",
    ]
    if done.get("waiting_seconds") is not None and done["status"] == "ramping":
        lines.append(f"- next analysis in {float(done['waiting_seconds']):.1f} s")
    lines.append(f"- ramp: `{ramp['urn']}`")
    last = analysis or (list(ramp.get("analyses") or ()) or [None])[-1]
    if last:
        lines += _analysis_markdown(last)
    return ProgressView(
        "ramp", f"{ramp['model']} {ramp['environment']}",
        f"### Ramp of {name} in {ramp['environment']}\n\n" + "\n".join(lines),
        f"{name} in {ramp['environment']}: {done['status']}", table=_ramp_rows(ramp),
        link=report_link(done.get("page"), model_version_url(done["urn"])),
        link_text=f"the page of {name}",
    )  # fmt: skip


def _analysis_markdown(analysis: Mapping[str, Any]) -> list[str]:
    """The last analysis: its verdict, decision and requests, then a gate a line."""
    served = ", ".join(f"{k} {v}" for k, v in (analysis.get("requests") or {}).items())
    lines = [
        "",
        f"**Last analysis** (step {int(analysis['step']) + 1}, {analysis['weight']}%): "
        f"{analysis['verdict']} → {analysis['decision']}; requests {served or 'none'}",
        "",
    ]
    gates = analysis.get("gates") or ()
    return lines + [f"- {' '.join(gate_line(gate).split())}" for gate in gates]


def _ramp_rows(ramp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per analysis of the ramp, then one for the step in progress."""
    rows = [_row(number, a) for number, a in enumerate(ramp.get("analyses") or (), start=1)]
    if ramp["status"] in ("ramping", "paused"):
        step = int(ramp["step"])
        waiting = "baking" if ramp["status"] == "ramping" else "paused"
        rows.append(
            _row(None, {"step": step, "weight": ramp["schedule"][step], "decision": waiting})
        )
    return rows


def _row(number: int | None, analysis: Mapping[str, Any]) -> dict[str, Any]:
    """An analysis as a table row: its gates' verdicts in one cell."""
    gates = analysis.get("gates") or ()
    return {
        "analysis": number, "step": int(analysis["step"]) + 1, "weight": analysis["weight"],
        "verdict": analysis.get("verdict"), "decision": analysis["decision"],
        "requests": sum((analysis.get("requests") or {}).values()) if number else None,
        "at": analysis.get("at"), "gates": ", ".join(f"{g['name']} {g['status']}" for g in gates),
    }  # fmt: skip


@aimops_task
def deramp_model(
    model_version: Any,
    *,
    environment: str | None = None,
    force: bool = False,
    reason: str | None = None,
    actor: str | None = None,
    router: Any = None,
    store: AimopsStore | str | None = None,
) -> dict[str, Any]:
    """Take a model version's traffic away at once and give it back to the champion
    (:func:`~aimops.metadata.lifecycle.deramp.deramp`): an active ramp of it ends ``aborted``.
    Refused (the task run fails at once) for the champion or the only serving version unless
    ``force``.

    :param environment: only this deployment's traffic (default: every deployment the version
        serves).
    :param reason: why; ``actor``: who (default ``prefect:<flow name>``); ``router``: the
        traffic router (default ``$AIMOPS_ROUTER``, else ``file``); ``store``: as for
        :func:`ramp_model`.
    :return: ``{"did": "deramped", "urn", "deployments": [...], "page"}``; each deployment
        with ``removed_weight``, ``weights``, ``champion``, ``aborted_ramp``.

    Example (in a flow)::

        deramp_model("churn/4", reason="p99 up")
    """
    from aimops.flows.blocks import resolve_store
    from aimops.metadata.lifecycle.queries import label
    from aimops.monitors.ramps.jobs import run_ramp_action

    identity = current_identity()
    check_version_and_actor(identity.task_name, model_version, actor)
    who = actor if actor is not None else identity.actor
    where = None if environment is None else str(environment).strip() or None
    origin, block = identity.origin(), resolve_store(store)
    done = in_frame(block, lambda aim: run_ramp_action(
        aim, "deramp", model_version, environment=where, force=force, actor=who,
        reason=recorded_reason(reason), origin=origin, router=router,
        mlflow=block.mlflow_target(), report_dir=block.reports(),
    ))  # fmt: skip
    log = run_logger()
    if not done["deployments"]:
        log.info("%s serves no traffic: nothing to de-ramp", label(done["urn"]))
    for found in done["deployments"]:
        log.info("%s", _deramp_line(done["urn"], who, found))
    deramp_view(done, who).publish()
    return done


def _deramp_line(urn: str, actor: str, found: Mapping[str, Any]) -> str:
    """``churn/4 de-ramped by ana in production: 10% -> 0%; weights {...}, champion 3``."""
    from aimops.metadata.lifecycle.queries import label

    aborted = f"; aborted {found['aborted_ramp']}" if found.get("aborted_ramp") else ""
    return (
        f"{label(urn)} de-ramped by {actor} in {found['environment']}: "
        f"{found['removed_weight']}% -> 0%; weights {found['weights']}, champion "
        f"{found['champion']}{aborted}"
    )


def deramp_view(done: Mapping[str, Any], actor: str) -> ProgressView:
    """The artifacts of a de-ramp: a line per deployment, a row per deployment, the page."""
    from aimops.metadata.lifecycle.queries import label

    name, found = label(done["urn"]), list(done["deployments"])
    lines = [f"- {_deramp_line(done['urn'], actor, each)}" for each in found]
    rows = [
        {key: each.get(key) for key in
         ("environment", "removed_weight", "weights", "champion", "aborted_ramp", "router")}
        for each in found
    ]  # fmt: skip
    return ProgressView(
        "deramp", model_of(done["urn"]),
        f"### {name} de-ramped\n\n" + ("\n".join(lines) or "- it served no traffic"),
        f"{name} de-ramped by {actor}", table=rows,
        link=report_link(done.get("page"), model_version_url(done["urn"])),
        link_text=f"the page of {name}",
    )  # fmt: skip
