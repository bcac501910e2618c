"""Model lifecycle transitions as Airflow tasks, and a person's approval in Airflow's UI.

Each operator is a thin wrapper of :func:`aimops.monitors.lifecycle.run_transition`, so a task
moves a model version exactly as ``aimops models ...`` or a notebook would, with the same
guards (:mod:`aimops.metadata.lifecycle`):

- :class:`RequestReviewOperator`: ``registered`` → ``in_review``, when the evidence policy finds
  the evidence it asks for (a passing evaluation, a passing data-quality check, ...);
- :class:`ApproveModelOperator`: the automated approval, ``in_review`` → ``publishable``: the
  policy judges the evidence again and acts as ``policy:<name>``;
- :class:`~aimops.operators.human_approval.AwaitModelApprovalOperator`: a person approves or
  rejects in Airflow's UI ("Required actions"), on the evidence listed with links; four eyes:
  not the person who asked;
- :class:`RejectModelOperator`: ``in_review`` → ``registered``, with a reason;
- :class:`PublishModelOperator`: ``publishable`` → ``published``;
- :class:`DeprecateModelOperator`: any state but ``deprecated`` → ``deprecated``.

Every transition records who (``actor``: given, else the user who triggered the DAG run, else
``airflow:<dag_id>``), why (``reason``) and where from (the DAG run's and the task's URNs). A
refused transition (wrong state, missing evidence, four eyes, a rejection without a reason)
fails the task at once with the reason in one line: trying again would be refused again. Another
transition winning a race, or a model version not recorded yet, keep the task's retries. A retry
of a task whose transition was recorded gets it back instead of moving the version again.

``execute`` returns what happened (the XCom): the dict of
:func:`~aimops.monitors.lifecycle.run_transition` (``urn``, ``transition``, ``previous``,
``state``, ``actor``, ``reason``, ``evidence``, ``origin``, ``at``, ``policy``, ``mlflow``,
``repeated``, ``page``). The "Model version" link opens the version's page in Airflow. The
MLflow registry's tag ``aimops.lifecycle_state`` follows each transition (the ``mlflow_default``
connection or ``MLFLOW_TRACKING_URI``, when one is configured).

Example (in a DAG file)::

    review = RequestReviewOperator(task_id="request_review", model_version=train_task_output)
    approval = AwaitModelApprovalOperator(
        task_id="approval", model_version=train_task_output,
        response_timeout=timedelta(days=3),
    )
    publish = PublishModelOperator(task_id="publish", model_version=train_task_output)
    review >> approval >> publish          # a rejection skips publish

    # or approved by the evidence policy alone:
    review >> ApproveModelOperator(task_id="approve", model_version="churn/3") >> publish
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from aimops.errors import InvalidInputError
from aimops.monitors.lifecycle_lines import check_version_and_actor, recorded_reason
from aimops.monitors.lifecycle_lines import transition_line as core_transition_line
from aimops.operators.links import task_xcom
from aimops.operators.task_frame import task_result
from aimops.operators.web.urls import model_version_url

if TYPE_CHECKING:
    from airflow.sdk import Context


#: What ``dag.test()`` and ``airflow dags test`` record as the user who triggered the run: no
#: person, so a transition of such a run acts as ``airflow:<dag_id>``.
DAG_TEST_USER = "dag_test"
#: The form field of :class:`AwaitModelApprovalOperator` that holds the reviewer's reason.
REASON_PARAM = "reason"
#: A reason as recorded (:func:`~aimops.monitors.lifecycle_lines.recorded_reason`), by the name
#: :mod:`aimops.operators.human_approval` imports it.
_reason = recorded_reason


# -- shared pieces ----------------------------------------------------------------------------


def acting_user(context: Context | Mapping[str, Any]) -> str:
    """Who a transition of this task acts as when no ``actor`` is given: the user who triggered
    the DAG run (``dag_run.triggering_user_name``), else ``airflow:<dag_id>`` (scheduled and
    asset-triggered runs, and ``dag.test()``'s runs, which name the user ``dag_test``).

    Example:
        >>> from types import SimpleNamespace as Run
        >>> ti = Run(dag_id="train")
        >>> acting_user({"ti": ti, "dag_run": Run(triggering_user_name="alice")})
        'alice'
        >>> acting_user({"ti": ti, "dag_run": Run(triggering_user_name=None)})
        'airflow:train'
    """
    user = getattr(context.get("dag_run"), "triggering_user_name", None)
    if isinstance(user, str) and user.strip() and user.strip() != DAG_TEST_USER:
        return user.strip()
    return f"airflow:{context['ti'].dag_id}"


def task_origin(ti: Any) -> dict[str, str]:
    """Where a transition made by the task instance ``ti`` comes from: its run and step URNs.

    Example:
        >>> from types import SimpleNamespace as Ti
        >>> task_origin(Ti(dag_id="train", run_id="manual__1", task_id="publish", map_index=-1))
        ... # doctest: +NORMALIZE_WHITESPACE
        {'kind': 'airflow', 'run': 'urn:aim:run:airflow/train/manual__1',
         'task': 'urn:aim:step:airflow/train/manual__1/publish'}
    """
    from aimops.metadata.urns import run_urn, step_urn

    return {
        "kind": "airflow",
        "run": str(run_urn("airflow", ti.dag_id, ti.run_id)),
        "task": str(step_urn("airflow", ti.dag_id, ti.run_id, ti.task_id, ti.map_index)),
    }


def transition_line(done: Mapping[str, Any]) -> str:
    """The one line a task logs for a transition it made (the core's
    :func:`~aimops.monitors.lifecycle_lines.transition_line`), with the version's page in
    Airflow.

    Example:
        >>> import os
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com"
        >>> transition_line({"urn": "urn:aim:modelVersion:churn/3", "transition": "request_review",
        ...     "previous": "registered", "state": "in_review", "actor": "alice",
        ...     "evidence": ["urn:aim:evaluation:e", "urn:aim:check:c"], "reason": None})
        'churn/3: registered -> in_review by alice (evidence: 2 records); page: \
https://airflow.example.com/aimops/models/urn:aim:modelVersion:churn/3'
    """
    return core_transition_line(done, page=model_version_url(done["urn"]))


def _literal(value: Any) -> bool:
    """Whether ``value`` is known when the DAG file is parsed (not a template, not an XComArg)."""
    return isinstance(value, str) and "{{" not in value


def _mlflow_target(mlflow_conn_id: str) -> Any:
    """Where the lifecycle's MLflow tag goes: the connection's (or ``MLFLOW_TRACKING_URI``'s)
    registry when one is configured, else True (the core's default: the local registry under
    ``$AIMOPS_HOME`` when it exists, else none)."""
    from aimops.hooks.mlflow import MlflowHook

    hook = MlflowHook(mlflow_conn_id)
    if hook.configured_tracking_uri() is None:
        return True
    from aimops.metadata.lifecycle.mlflow_mirror import MlflowTarget

    tracking, registry = hook.model_location()  # exports the connection's credentials
    return MlflowTarget(tracking, registry)


class ModelVersionLink(BaseOperatorLink):
    """The page of the model version the task moved, inside Airflow.

    Read from what the task returned (its transition); before that (a refused transition), from
    the operator's ``model_version`` when it was given as a URN or ``name/3``.
    """

    name: ClassVar[str] = "Model version"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk import BaseXCom

        from aimops.metadata.lifecycle.queries import version_urn

        returned = task_xcom(ti_key, BaseXCom.XCOM_RETURN_KEY)
        if isinstance(returned, Mapping):
            urn = returned.get("urn")
            if isinstance(urn, str) and urn.startswith("urn:aim:modelVersion:"):
                return model_version_url(urn)
        given = getattr(operator, "model_version", None)
        if not (_literal(given) or isinstance(given, Mapping)):
            return ""
        try:
            return model_version_url(version_urn(given))
        except Exception:  # not a model version: no link rather than a broken one
            return ""


class _LifecycleTask:
    """What the operators share: the store, MLflow, actor, origin and errors of a transition."""

    model_version: Any
    reason: str | None
    actor: str | None
    aimops_conn_id: str
    mlflow_conn_id: str
    report_dir: str | Path | None
    log: Any

    def run_transition(
        self,
        context: Context,
        action: str,
        *,
        actor: str | None,
        reason: str | None,
        policy: Any = None,
        check: Any = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """Apply ``action`` through the task frame: the transition's dict, or the task fails
        (refused: at once; transient: with its retries). ``check`` runs first, in the frame."""
        from aimops.hooks.aim import AimHook
        from aimops.monitors.lifecycle import run_transition
        from aimops.tasks import run_task

        origin = task_origin(context["ti"])
        hook = AimHook(self.aimops_conn_id)

        def job() -> dict[str, Any]:
            if check is not None:
                check()
            return run_transition(
                hook.get_store(),
                self.model_version,
                action,
                actor=actor,
                reason=reason,
                origin=origin,
                policy=policy,
                mlflow=_mlflow_target(self.mlflow_conn_id),
                report_dir=self.report_dir or None,
                force=force,
            )

        try:
            outcome = run_task(job)
        finally:
            hook.close()
        done = task_result(outcome)
        self.log.info("%s", transition_line(done))
        if done.get("mlflow") not in (None, "off", "not configured"):
            self.log.info("MLflow registry: %s", done["mlflow"])
        return done


# -- the transitions --------------------------------------------------------------------------


class _TransitionOperator(_LifecycleTask, BaseOperator):
    """One lifecycle transition of one model version (see the module)."""

    action: ClassVar[str] = ""
    template_fields: Sequence[str] = ("model_version", "reason")
    operator_extra_links = (ModelVersionLink(),)
    ui_color = "#f3ecfa"

    def __init__(
        self,
        *,
        model_version: Any,
        reason: str | None = None,
        actor: str | None = None,
        aimops_conn_id: str = "aimops_default",
        mlflow_conn_id: str = "mlflow_default",
        report_dir: str | Path | None = "default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_version_and_actor(self.task_id, model_version, actor)
        self.model_version = model_version
        self.reason = reason
        self.actor = actor
        self.aimops_conn_id = aimops_conn_id
        self.mlflow_conn_id = mlflow_conn_id
        self.report_dir = report_dir

    def transition_options(self) -> dict[str, Any]:
        """What this transition passes beyond actor and reason (a policy, ``force``)."""
        return {}

    def execute(self, context: Context) -> dict[str, Any]:
        return self.run_transition(
            context,
            self.action,
            actor=self.actor or acting_user(context),
            reason=recorded_reason(self.reason),
            **self.transition_options(),
        )


class RequestReviewOperator(_TransitionOperator):
    """Ask for a review of a model version: ``registered`` → ``in_review``.

    Refused (the task fails at once, naming what is missing) unless the evidence policy finds
    its evidence; the URNs it relied on are recorded with the request, and a reviewer sees them
    (:class:`AwaitModelApprovalOperator`).

    :param model_version: a ``model_version_ref`` (an upstream task's output), ``"name/3"`` or
        its URN (templated).
    :param policy: the evidence policy's registered name (default: ``"default"``: a passing
        evaluation, a passing data-quality check, and a passing comparison with the published
        champion when there is one; ``"evaluation_only"``).
    :param reason: why (templated, optional); ``actor``: who asks (default: the user who
        triggered the DAG run, else ``airflow:<dag_id>``).
    :param report_dir: where the version's HTML page is written (``"default"``:
        ``$AIMOPS_HOME/reports``; None: none).
    :param aimops_conn_id: the AIM store connection; ``mlflow_conn_id`` the MLflow one.
    :return: the transition (see the module).

    Example (in a DAG file)::

        RequestReviewOperator(task_id="request_review", model_version="churn/3")
    """

    action = "request_review"

    def __init__(self, *, policy: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    def transition_options(self) -> dict[str, Any]:
        return {"policy": self.policy}


class ApproveModelOperator(_TransitionOperator):
    """Approve a model version in review automatically: ``in_review`` → ``publishable``.

    The evidence policy judges the evidence again (a check may have failed since the review was
    requested) and the approval is recorded as made by ``policy:<name>``. For a person's
    approval in Airflow's UI use :class:`AwaitModelApprovalOperator`; ``policy=None`` makes
    ``actor`` (default: the user who triggered the run) the approver, who must not be the one
    who requested the review (four eyes).

    :param policy: the evidence policy's registered name (default ``"default"``).

    The rest is as for :class:`RequestReviewOperator`.

    Example (in a DAG file)::

        ApproveModelOperator(task_id="approve", model_version="churn/3",
                             policy="evaluation_only")
    """

    action = "approve"

    def __init__(self, *, policy: str | None = "default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if policy is not None and self.actor is not None:
            raise InvalidInputError(
                f"{self.task_id}: an automated approval acts as its policy (policy:{policy}); "
                "give actor or policy, not both (a person approves through "
                "AwaitModelApprovalOperator)"
            )
        self.policy = policy

    def execute(self, context: Context) -> dict[str, Any]:
        return self.run_transition(
            context,
            self.action,
            actor=None if self.policy is not None else self.actor or acting_user(context),
            reason=recorded_reason(self.reason),
            policy=self.policy,
        )


class RejectModelOperator(_TransitionOperator):
    """Send a model version in review back: ``in_review`` → ``registered``. Needs a reason
    (checked when the DAG file is parsed, when it is not a template, and again when it runs).

    Example (in a DAG file)::

        RejectModelOperator(task_id="reject", model_version="churn/3",
                            reason="AUROC regressed on the holdout")
    """

    action = "reject"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.reason is None or (_literal(self.reason) and recorded_reason(self.reason) is None):
            raise InvalidInputError(f"{self.task_id}: a rejection needs a reason (reason=...)")

    def execute(self, context: Context) -> dict[str, Any]:
        reason = recorded_reason(self.reason)

        def check() -> None:
            if reason is None:
                raise InvalidInputError(
                    f"{self.task_id}: a rejection needs a reason, and reason= rendered empty"
                )

        return self.run_transition(
            context,
            self.action,
            actor=self.actor or acting_user(context),
            reason=reason,
            check=check,
        )


class PublishModelOperator(_TransitionOperator):
    """Publish an approved model version: ``publishable`` → ``published``.

    Example (in a DAG file)::

        PublishModelOperator(task_id="publish", model_version="churn/3")
    """

    action = "publish"


class DeprecateModelOperator(_TransitionOperator):
    """Retire a model version: any state but ``deprecated`` → ``deprecated``.

    A version that serves traffic is de-ramped first (its weight to 0, the champion back to
    100%); the champion or the only version serving a deployment is refused unless ``force``.

    Example (in a DAG file)::

        DeprecateModelOperator(task_id="retire", model_version="churn/2",
                               reason="superseded by churn/3")
    """

    action = "deprecate"

    def __init__(self, *, force: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.force = force

    def transition_options(self) -> dict[str, Any]:
        return {"force": self.force}
