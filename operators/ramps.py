"""Model traffic ramps as Airflow tasks (Argo Rollouts style), and the de-ramp.

:class:`RampModelOperator` ramps a published model version through a schedule of traffic
weights (``1, 5, 25, 50, 100`` by default), each step baked and analysed
(:mod:`aimops.monitors.ramps`). It is **deferrable**: it starts the ramp, then waits on
Airflow's triggerer (a :class:`~airflow.providers.standard.triggers.temporal.DateTimeTrigger`),
not in a worker slot, and wakes up when the step's analysis is due. Each wake-up does only what
is due (the core's :func:`~aimops.monitors.ramps.engine.advance_ramp` is idempotent):

- ``before_analysis(info)``, when given, runs first (the example DAG writes the simulated traffic
  of the window with it); ``info`` holds ``model``, ``environment``, ``weights``
  (``{version: percent}``), ``window_start`` and ``window_end`` (ISO 8601: the traffic since
  the step started, or since its last analysis), ``analysis_start`` (where the analysis's
  window starts), ``ramp`` (the ramp's record), ``challenger`` and ``champion``;
- the analysis of the window: its record goes to XCom as ``ramp_step_<n>`` (n counts the
  ramp's analyses), the ramp's status as ``ramp_status`` and its URN as ``ramp_urn``; the log
  gets one line for the step and one per gate;
- then: advanced or held → wait for the next analysis; paused (inconclusive past the progress
  deadline) → re-check every ``poll_interval`` until a person resumes (``aimops resume``) or
  aborts it; complete → the task succeeds and returns the final report; rolled back → the task
  fails at once (``fail_on_rollback``), naming the failed gates and the champion restored;
  aborted → the task fails at once, naming who aborted.

Errors go through the task frame (:mod:`aimops.tasks`): a refused ramp (the version not
published, another ramp active) fails at once, a conflict or an unreachable store keeps the
task's retries, and a retry of the same task finds its own ramp again instead of starting one
(and waits only what is left of the step's bake). A task that fails for another reason leaves
its ramp as it is, serving its step's weights: ``aimops ramp <urn>`` carries it on,
``aimops abort <urn>`` ends it.

:class:`DerampModelOperator` takes a version's traffic away at once
(:func:`~aimops.metadata.lifecycle.deramp.deramp`).

Both show the "Model version" link (:class:`~aimops.operators.lifecycle.ModelVersionLink`).

Example (in a DAG file)::

    RampModelOperator(
        task_id="ramp", model_version="churn/4", schedule=[5, 25, 100],
        bake_time=timedelta(minutes=30), gates={"latency_p99_max_ms": 300},
    )
    DerampModelOperator(task_id="deramp", model_version="churn/4", reason="p99 up")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

from aimops.errors import AimopsError, InvalidInputError, RampAbortedError, RampRolledBackError
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
from aimops.operators.lifecycle import (
    ModelVersionLink,
    _mlflow_target,
    acting_user,
    task_origin,
)
from aimops.operators.links import task_xcom
from aimops.operators.task_frame import task_result

if TYPE_CHECKING:
    from airflow.sdk import Context

    from aimops.metadata.store import AimStore

#: The XCom keys a ramp task pushes besides its return value.
STATUS_KEY, URN_KEY, STEP_KEY = "ramp_status", "ramp_urn", "ramp_step_{}"
#: The model version the ramp moves, pushed when it starts (what the link reads meanwhile).
VERSION_KEY = "model_version_urn"


class RampVersionLink(ModelVersionLink):
    """The page of the model version being ramped, inside Airflow: read from what the task
    pushed when the ramp started, so that it works while the task waits on the triggerer."""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from aimops.operators.web.urls import model_version_url

        pushed = task_xcom(ti_key, VERSION_KEY)
        if isinstance(pushed, str) and pushed.startswith("urn:aim:modelVersion:"):
            return model_version_url(pushed)
        return ""


#: The method a deferred ramp task resumes in.
RESUME_METHOD = "resume_ramp_step"


def _known(value: Any) -> bool:
    """Whether ``value`` is known when the DAG file is parsed: not a template, not an upstream
    task's output (an XComArg), which are checked when the task runs."""
    if isinstance(value, str):
        return "{{" not in value
    return not callable(getattr(value, "iter_references", None))


class _RampTask:
    """What both operators share: the store through the task frame, MLflow, the router."""

    aimops_conn_id: str
    mlflow_conn_id: str
    log: Any

    def in_frame(self, job: Callable[[AimStore], dict[str, Any]]) -> dict[str, Any]:
        """Run ``job`` on the AIM store through the task frame: its dict, or the task fails
        (permanent: at once; transient: with its retries)."""
        from aimops.hooks.aim import AimHook
        from aimops.tasks import run_task

        hook = AimHook(self.aimops_conn_id)
        try:
            outcome = run_task(lambda: job(hook.get_store()))
        finally:
            hook.close()
        return task_result(outcome)


def _fail(error: AimopsError) -> NoReturn:
    """Fail the task as the task frame says for ``error`` (permanent: no retry)."""
    from aimops.tasks import TaskOutcome

    task_result(TaskOutcome(error=error))
    raise error  # task_result raised already; this line satisfies the type checker


class RampModelOperator(_RampTask, BaseOperator):
    """Ramp a published model version's traffic step by step, each step analysed (see the
    module). Deferrable: between analyses the task waits on the triggerer.

    :param model_version: a ``model_version_ref``, ``"name/3"`` or its URN (templated).
    :param environment: the deployment's environment (templated; default ``production``).
    :param schedule: the challenger's weights, rising to 100 (templated: a list, or text such as
        ``"[5, 50, 100]"``). A model with no champion yet gets an initial rollout (``[100]``).
    :param bake_time: how long each step serves before its analysis (a timedelta or seconds;
        templated).
    :param failure_limit: failed analyses of one step before the rollback (default 1).
    :param progress_deadline: how long a step may stay inconclusive before the ramp pauses
        (default: four bake times, at least a minute).
    :param gates: the analysis's limits (:class:`~aimops.monitors.ramps.gates.RampGates`:
        ``success_rate_min``, ``latency_p99_max_ms``, ``min_requests``, ...).
    :param deprecate_previous: deprecate the previous champion once the ramp completes.
    :param router: the traffic router's name or object (default ``$AIMOPS_ROUTER``, else
        ``file``).
    :param actor: who ramps (default: the user who triggered the run, else
        ``airflow:<dag_id>``); ``reason``: why (templated).
    :param before_analysis: called with ``info`` before each analysis (see the module); it
        must be importable by the worker (a function of the DAG file or a module).
    :param fail_on_rollback: fail the task when the ramp is rolled back (default); else
        return the report.
    :param poll_interval: how often a paused ramp is re-checked.
    :param report_dir: where the version's page is written (``"default"``:
        ``$AIMOPS_HOME/reports``; None: none).
    :return: the final report (``did``, ``status``, ``ramp``, ``deployment``, ``analysis``,
        ``router``, ``mlflow``, ``alert``, ``page``, ``urn``).
    """

    template_fields: Sequence[str] = (
        "model_version", "environment", "schedule", "bake_time", "progress_deadline", "gates",
        "reason",
    )  # fmt: skip
    operator_extra_links = (RampVersionLink(),)
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        model_version: Any,
        environment: str = "production",
        schedule: Any = DEFAULT_SCHEDULE,
        bake_time: timedelta | float | str = timedelta(minutes=10),
        failure_limit: int = 1,
        progress_deadline: timedelta | float | str | None = None,
        gates: Mapping[str, Any] | None = None,
        deprecate_previous: bool = False,
        router: Any = None,
        actor: str | None = None,
        reason: str | None = None,
        before_analysis: Callable[[dict[str, Any]], None] | None = None,
        fail_on_rollback: bool = True,
        poll_interval: timedelta | float = timedelta(minutes=1),
        aimops_conn_id: str = "aimops_default",
        mlflow_conn_id: str = "mlflow_default",
        report_dir: str | Path | None = "default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_version_and_actor(self.task_id, model_version, actor)
        if before_analysis is not None and not callable(before_analysis):
            raise InvalidInputError(
                f"{self.task_id}: before_analysis must be a function taking the step's info"
            )
        try:
            poll = duration_seconds(poll_interval, "poll_interval") or 0.0
        except InvalidInputError as exc:
            raise InvalidInputError(f"{self.task_id}: {exc}") from exc
        if poll <= 0:
            raise InvalidInputError(f"{self.task_id}: poll_interval must be above 0")
        self.model_version = model_version
        self.environment = environment
        self.schedule = schedule
        self.bake_time = bake_time
        self.failure_limit = failure_limit
        self.progress_deadline = progress_deadline
        self.gates = gates
        self.deprecate_previous = deprecate_previous
        self.router = router
        self.actor = actor
        self.reason = reason
        self.before_analysis = before_analysis
        self.fail_on_rollback = fail_on_rollback
        self.poll_interval = timedelta(seconds=poll)
        self.aimops_conn_id = aimops_conn_id
        self.mlflow_conn_id = mlflow_conn_id
        self.report_dir = report_dir
        self._check_literals()

    def _check_literals(self) -> None:
        """Check what is known when the DAG file is parsed (templates are checked at run)."""
        from aimops.metadata.lifecycle.ramps import check_schedule
        from aimops.monitors.ramps.gates import RampGates

        try:
            if _known(self.schedule):
                check_schedule(parsed_argument(self.schedule))
            for name in ("bake_time", "progress_deadline"):
                value = getattr(self, name)
                if _known(value):
                    duration_seconds(value, name, optional=name == "progress_deadline")
            if isinstance(self.gates, Mapping):
                RampGates.from_mapping(self.gates)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{self.task_id}: {exc}") from exc

    # -- the ramp's life ------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        """Start the ramp (or find this task's own, on a retry), then wait for its first
        analysis."""
        origin = task_origin(context["ti"])
        done = self.in_frame(lambda store: self._begin(store, context, origin))
        ti = context["ti"]
        ti.xcom_push(key=URN_KEY, value=done["ramp"]["urn"])
        ti.xcom_push(key=VERSION_KEY, value=done["urn"] if "urn" in done else _version_of(done))
        for number, analysis in enumerate(done["ramp"].get("analyses") or (), start=1):
            ti.xcom_push(key=STEP_KEY.format(number), value=analysis)  # a retry's record
        ramp = done["ramp"]
        self.log.info(
            "%s/%s %s in %s: %s; weights %s (%s)", ramp["model"], ramp["version"], done["did"],
            ramp["environment"], ramp.get("note"), done["deployment"]["weights"], ramp["urn"],
        )  # fmt: skip
        return self._follow(context, done)

    def resume_ramp_step(
        self, context: Context, event: Any = None, ramp: str | None = None, **_: Any
    ) -> dict[str, Any]:
        """A wake-up: do what is due for the ramp, then wait again or end (see the module)."""
        ti = context["ti"]
        # dag.test() hands back only the trigger's event, not the kwargs given to defer().
        target = ramp or ti.xcom_pull(task_ids=ti.task_id, key=URN_KEY, map_indexes=ti.map_index)
        done = self.in_frame(lambda store: self._wake(store, target or self.model_version))
        if done.get("analysis"):
            number = len(done["ramp"].get("analyses") or ()) or 1
            ti.xcom_push(key=STEP_KEY.format(number), value=done["analysis"])
            self.log.info("%s", ramp_line(done))
            for gate in done["analysis"].get("gates") or ():
                self.log.info("  %s", gate_line(gate))
        return self._follow(context, done)

    def _begin(
        self, store: AimStore, context: Context, origin: Mapping[str, str]
    ) -> dict[str, Any]:
        """The start action, or the status of the ramp this task started and that ended since
        (a retry after the end: not a second ramp)."""
        from aimops.metadata.lifecycle.queries import version_urn
        from aimops.metadata.lifecycle.ramps import latest_ramp
        from aimops.monitors.ramps.jobs import run_ramp_action

        urn = version_urn(self.model_version)
        own = latest_ramp(store, urn.segments[0], str(self.environment), version=urn.segments[1])
        held = (own.value.get("origin") or {}) if own is not None else {}
        if own is not None and not own.active and (held.get("run"), held.get("task")) == (
            origin["run"], origin["task"]):  # fmt: skip
            return self._with_urn(run_ramp_action(store, "status", own.urn, report_dir=None))
        done = run_ramp_action(
            store, "start", urn, environment=self.environment,
            schedule=parsed_argument(self.schedule),
            bake_time=duration_seconds(self.bake_time, "bake_time"),
            failure_limit=self.failure_limit,
            progress_deadline=duration_seconds(
                self.progress_deadline, "progress_deadline", optional=True
            ),
            gates=parsed_argument(self.gates), deprecate_previous=self.deprecate_previous,
            actor=self.actor or acting_user(context), reason=recorded_reason(self.reason),
            origin=origin,
            router=self.router, mlflow=_mlflow_target(self.mlflow_conn_id),
            report_dir=self.report_dir or None,
        )  # fmt: skip
        if done["waiting_seconds"] is None and done["status"] == "ramping":  # a retry's own ramp
            status = run_ramp_action(store, "status", done["ramp"]["urn"], report_dir=None)
            done["waiting_seconds"] = status["waiting_seconds"]
        return self._with_urn(done)

    def _wake(self, store: AimStore, target: Any) -> dict[str, Any]:
        """The ramp's status when nothing is due (waiting, paused, ended); else
        ``before_analysis`` and the analysis over the window that ends now."""
        from aimops.monitors.ramps.jobs import run_ramp_action

        environment = str(self.environment)
        status = run_ramp_action(store, "status", target, environment=environment)
        if status["status"] != "ramping" or (status.get("waiting_seconds") or 0.0) > 0:
            return self._with_urn(status)
        ramp, now = status["ramp"], datetime.now(UTC)
        if self.before_analysis is not None:
            self.before_analysis(analysis_info(status, now))
        done = run_ramp_action(
            store, "advance", ramp["urn"], environment=environment, router=self.router,
            mlflow=_mlflow_target(self.mlflow_conn_id), now=now,
            report_dir=self.report_dir or None,
        )  # fmt: skip
        return self._with_urn(done)

    def _follow(self, context: Context, done: dict[str, Any]) -> dict[str, Any]:
        """After an action: wait, or end the task as the ramp's status says."""
        status, ramp = done["status"], done["ramp"]
        context["ti"].xcom_push(key=STATUS_KEY, value=status)
        if status == "complete":
            self.log.info(
                "%s/%s is the champion of %s/%s: weights %s", ramp["model"], ramp["version"],
                ramp["model"], ramp["environment"], done["deployment"]["weights"],
            )  # fmt: skip
            return done
        if status == "rolled_back":
            message = rollback_message(done)
            if self.fail_on_rollback:
                _fail(RampRolledBackError(message))
            self.log.warning("%s", message)
            return done
        if status == "aborted":
            _fail(RampAbortedError(abort_message(done)))
        if status == "paused":
            if done["did"] == "paused":
                self.log.warning(
                    "%s; re-checked every %s", paused_message(ramp), self.poll_interval
                )
            self._defer(ramp["urn"], self.poll_interval.total_seconds(), "the ramp is paused")
        seconds = done.get("waiting_seconds")
        if seconds is None:
            seconds = float(ramp.get("bake_seconds") or 0.0)
        self._defer(ramp["urn"], float(seconds), f"step {int(ramp['step']) + 1} bakes")

    def _defer(self, ramp: str, seconds: float, why: str) -> NoReturn:
        """Wait ``seconds`` on the triggerer, then :meth:`resume_ramp_step`."""
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        moment = datetime.now(UTC) + timedelta(seconds=max(seconds, 0.0))
        self.log.info("%s: next check in %.1f s, at %s", why, seconds, moment.isoformat())
        self.defer(
            trigger=DateTimeTrigger(moment), method_name=RESUME_METHOD, kwargs={"ramp": ramp}
        )

    def _with_urn(self, done: dict[str, Any]) -> dict[str, Any]:
        """``done`` with the model version's URN, which the "Model version" link reads."""
        from aimops.metadata.urns import model_version_urn

        ramp = done["ramp"]
        return {**done, "urn": str(model_version_urn(ramp["model"], ramp["version"]))}


class DerampModelOperator(_RampTask, BaseOperator):
    """Take a model version's traffic away at once and give it back to the champion
    (:func:`~aimops.metadata.lifecycle.deramp.deramp`): an active ramp of it ends ``aborted``.
    Refused (the task fails at once) for the champion or the only serving version unless
    ``force``.

    :param model_version: a ``model_version_ref``, ``"name/3"`` or its URN (templated).
    :param environment: only this deployment's traffic (templated; default: every deployment
        the version serves).
    :param force: de-ramp the champion or the only serving version anyway.
    :param reason: why (templated); ``actor``: who (default: the user who triggered the run,
        else ``airflow:<dag_id>``); ``router``: the traffic router (default ``file``).
    :return: ``{"did": "deramped", "urn", "deployments": [...], "page"}``; each deployment
        with ``removed_weight``, ``weights``, ``champion``, ``aborted_ramp``.

    Example (in a DAG file)::

        DerampModelOperator(task_id="deramp", model_version="churn/4", reason="p99 up")
    """

    template_fields: Sequence[str] = ("model_version", "environment", "reason")
    operator_extra_links = (ModelVersionLink(),)
    ui_color = "#fbeee6"

    def __init__(
        self,
        *,
        model_version: Any,
        environment: str | None = None,
        force: bool = False,
        reason: str | None = None,
        actor: str | None = None,
        router: Any = None,
        aimops_conn_id: str = "aimops_default",
        mlflow_conn_id: str = "mlflow_default",
        report_dir: str | Path | None = "default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_version_and_actor(self.task_id, model_version, actor)
        self.model_version = model_version
        self.environment = environment
        self.force = force
        self.reason = reason
        self.actor = actor
        self.router = router
        self.aimops_conn_id = aimops_conn_id
        self.mlflow_conn_id = mlflow_conn_id
        self.report_dir = report_dir

    def execute(self, context: Context) -> dict[str, Any]:
        from aimops.metadata.lifecycle.queries import label
        from aimops.monitors.ramps.jobs import run_ramp_action

        actor = self.actor or acting_user(context)
        environment = None if self.environment is None else str(self.environment).strip()
        origin = task_origin(context["ti"])

        def job(store: AimStore) -> dict[str, Any]:
            return run_ramp_action(
                store, "deramp", self.model_version, environment=environment or None,
                force=self.force, actor=actor, reason=recorded_reason(self.reason), origin=origin,
                router=self.router, mlflow=_mlflow_target(self.mlflow_conn_id),
                report_dir=self.report_dir or None,
            )  # fmt: skip

        done = self.in_frame(job)
        if not done["deployments"]:
            self.log.info("%s serves no traffic: nothing to de-ramp", label(done["urn"]))
        for found in done["deployments"]:
            aborted = f"; aborted {found['aborted_ramp']}" if found.get("aborted_ramp") else ""
            self.log.info(
                "%s de-ramped by %s in %s: %s%% -> 0%%; weights %s, champion %s%s",
                label(done["urn"]), actor, found["environment"], found["removed_weight"],
                found["weights"], found["champion"], aborted,
            )  # fmt: skip
        return done


def _version_of(done: Mapping[str, Any]) -> str:
    """The model version URN a ramp report is about."""
    from aimops.metadata.urns import model_version_urn

    return str(model_version_urn(done["ramp"]["model"], done["ramp"]["version"]))
