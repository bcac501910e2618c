"""A person approves or rejects a model version in review, inside Airflow's UI.

:class:`AwaitModelApprovalOperator` is Airflow's own human-in-the-loop ``ApprovalOperator``
(standard provider) around the lifecycle's ``approve`` and ``reject``: the request lists the
evidence the review was asked on, each a link to its report, and the responding Airflow user is
the approver (four eyes: never the person who asked). The automated approval and the other
transitions are in :mod:`aimops.operators.lifecycle`.

Example (in a DAG file)::

    review = RequestReviewOperator(task_id="request_review", model_version=train_task_output)
    approval = AwaitModelApprovalOperator(
        task_id="approval", model_version=train_task_output,
        response_timeout=timedelta(days=3),
    )
    review >> approval >> PublishModelOperator(task_id="publish", model_version=train_task_output)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param

from aimops.errors import InvalidInputError
from aimops.operators.lifecycle import REASON_PARAM, ModelVersionLink, _LifecycleTask, _reason
from aimops.operators.task_frame import task_result
from aimops.operators.web.urls import check_url, model_version_url, report_url

if TYPE_CHECKING:
    from airflow.sdk import Context

    from aimops.metadata.store import AimStore

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def _md(text: Any) -> str:
    """``text`` shown literally in Markdown (on one line)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def evidence_link(urn: str) -> str:
    """Where Airflow shows a piece of evidence: an evaluation's report or a check's page.

    Example:
        >>> import os
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com"
        >>> evidence_link("urn:aim:check:airflow/dq/manual__1/nulls")
        'https://airflow.example.com/aimops/checks/urn:aim:check:airflow/dq/manual__1/nulls'
    """
    if urn.startswith("urn:aim:evaluation:"):
        return report_url(urn)
    if urn.startswith("urn:aim:check:"):
        return check_url(urn)
    return ""


def review_request_markdown(store: AimStore, version: Any) -> str:
    """What a reviewer reads before deciding (Markdown): who asked for the review of
    ``version``, when, why, on what evidence (each a link to its report or check page), and
    the version's page. The version must be ``in_review``
    (:class:`~aimops.errors.TransitionRefusedError` otherwise: there is nothing to approve).

    Example:
        >>> from aimops.metadata import AimStore
        >>> from aimops.metadata.recording import record_model_version
        >>> store = AimStore.open("sqlite://")
        >>> review_request_markdown(store, record_model_version(store, "churn", 1))
        Traceback (most recent call last):
        ...
        aimops.errors.TransitionRefusedError: churn/1 is registered, not in_review: \
request its review first (RequestReviewOperator)
    """
    from aimops.errors import TransitionRefusedError
    from aimops.metadata.lifecycle.queries import ASPECT, label, require_version, version_urn

    urn = version_urn(version)
    require_version(store, urn)
    found = store.get_aspect(urn, ASPECT)
    request = found.value if found is not None else {"state": "registered"}
    if request.get("state") != "in_review":
        raise TransitionRefusedError(
            f"{label(urn)} is {request.get('state')}, not in_review: request its review first "
            "(RequestReviewOperator)"
        )
    at = request.get("at")
    when = at.strftime("%Y-%m-%d %H:%M UTC") if isinstance(at, datetime) else str(at)
    lines = [
        f"**{_md(label(urn))}** asks to be approved for publishing.",
        "",
        f"- review requested by **{_md(request.get('actor'))}** on {_md(when)}"
        + (f" (evidence policy *{_md(request['policy'])}*)" if request.get("policy") else ""),
    ]
    if request.get("reason"):
        lines.append(f"- reason: {_md(request['reason'])}")
    evidence = [str(item) for item in request.get("evidence") or ()]
    lines += ["", f"**Evidence recorded with the request** ({len(evidence)}):", ""]
    for item in evidence:
        link = evidence_link(item)
        lines.append(f"- [`{item}`]({link})" if link else f"- `{item}`")
    if not evidence:
        lines.append("- none")
    lines += [
        "",
        f"[The model version's page]({model_version_url(urn)}): its lineage, evaluations, "
        "checks and lifecycle history.",
        "",
        "**Approve** makes it publishable. **Reject** sends it back to registered and needs a "
        f"reason (the form's *{REASON_PARAM}*). The person who requested the review cannot "
        "approve it (four eyes).",
    ]
    return "\n".join(lines)


class AwaitModelApprovalOperator(_LifecycleTask, ApprovalOperator):
    """A person approves or rejects a model version in review, in Airflow's UI.

    Airflow's human-in-the-loop :class:`~airflow.providers.standard.operators.hitl.
    ApprovalOperator`: the task waits (deferred) until someone answers under "Required actions".
    What they read: the version, who requested its review and why, the evidence recorded with
    the request (each a link to its report or check page) and the version's page. The form has
    one field, ``reason``: optional to approve, required to reject.

    On the answer, the transition is recorded with the responder's Airflow user name as actor
    and this task as origin:

    - **Approve** → ``approve`` (``publishable``); downstream tasks run. Four eyes: when the
      responder is the actor who requested the review, the approval is refused and the task
      fails (the version stays ``in_review``; clear the task to ask again);
    - **Reject** → ``reject`` with the reason (``registered``); the task succeeds and its
      direct downstream tasks (publish) are skipped, as with any ``ApprovalOperator``
      (``ignore_downstream_trigger_rules=True``: every downstream task; ``fail_on_reject=True``:
      the task fails instead, after recording the rejection). A rejection without a reason is
      not recorded: the task fails saying so, and the version stays ``in_review``.
    - No answer within ``response_timeout``: the task fails (Airflow's ``HITLTimeoutError``),
      or, with ``defaults="Reject"``, the version is rejected by ``airflow:<dag_id>`` with the
      reason "no response before the timeout". An approval needs a person: ``defaults`` cannot
      be "Approve".

    The task returns (and pushes as its XCom, skipped downstream or not) the transition, as the
    other lifecycle operators do. The version must be ``in_review`` when the task starts, or
    it fails at once without asking anyone.

    :param model_version: the version in review (templated): a ``model_version_ref``,
        ``"name/3"`` or its URN.
    :param subject: the request's headline (default: "Approve churn/3 for publishing?").
    :param body: Markdown shown above the evidence (optional).
    :param assigned_users: who may answer (Airflow's ``HITLUser`` dicts); default: anyone who
        may edit the DAG's task instances.
    :param response_timeout: how long to wait for an answer.

    The rest (``report_dir``, ``aimops_conn_id``, ``mlflow_conn_id``, ``notifiers``, ...) is as
    for :class:`RequestReviewOperator` and ``ApprovalOperator``.

    Example (in a DAG file)::

        approval = AwaitModelApprovalOperator(
            task_id="approval",
            model_version="{{ ti.xcom_pull('request_review')['urn'] }}",
            response_timeout=timedelta(days=3),
        )
        request_review >> approval >> publish
    """

    template_fields: Sequence[str] = ("subject", "body", "model_version")
    operator_extra_links = (ModelVersionLink(),)
    ui_color = "#fdf3e1"

    def __init__(
        self,
        *,
        model_version: Any,
        subject: str | None = None,
        body: str | None = None,
        params: Mapping[str, Any] | None = None,
        aimops_conn_id: str = "aimops_default",
        mlflow_conn_id: str = "mlflow_default",
        report_dir: str | Path | None = "default",
        **kwargs: Any,
    ) -> None:
        defaults = kwargs.get("defaults")
        chosen = [defaults] if isinstance(defaults, str) else list(defaults or ())
        task_id = kwargs.get("task_id", "")
        if ApprovalOperator.APPROVE in chosen:
            raise InvalidInputError(
                f"{task_id}: an approval needs a person; a timeout may only reject "
                '(defaults="Reject") or fail the task (no defaults)'
            )
        if model_version is None or (isinstance(model_version, str) and not model_version.strip()):
            raise InvalidInputError(f"{task_id}: model_version is required")
        form = dict(params or {})
        form[REASON_PARAM] = Param(
            None,
            type=["null", "string"],
            title="Reason",
            description="Why you approve or reject it: optional to approve, required to reject.",
        )
        self._given_subject = subject is not None
        super().__init__(
            subject=subject or "Approve a model version for publishing?",
            body=body,
            params=form,
            **kwargs,
        )
        self.model_version = model_version
        self.reason = None
        self.actor = None
        self.aimops_conn_id = aimops_conn_id
        self.mlflow_conn_id = mlflow_conn_id
        self.report_dir = report_dir

    def execute(self, context: Context) -> Any:
        """Describe the review request (its evidence, with links), then wait for an answer."""
        from aimops.hooks.aim import AimHook
        from aimops.metadata.lifecycle.queries import label, version_urn
        from aimops.tasks import run_task

        hook = AimHook(self.aimops_conn_id)
        try:
            described = task_result(
                run_task(lambda: review_request_markdown(hook.get_store(), self.model_version))
            )
        finally:
            hook.close()
        urn = version_urn(self.model_version)
        if not self._given_subject:
            self.subject = f"Approve {label(urn)} for publishing?"
        self.body = f"{self.body}\n\n{described}" if self.body else described
        self.log.info(
            "asking for a review of %s under Required actions; page: %s",
            label(urn),
            model_version_url(urn),
        )
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Record the answer as the transition; then as ``ApprovalOperator`` (Reject skips the
        downstream tasks)."""
        from airflow.sdk import BaseXCom
        from airflow.sdk.exceptions import AirflowFailException

        from aimops.metadata.lifecycle.queries import label, version_urn

        if "error" in event:  # a timeout without defaults, a form that did not validate
            return super().execute_complete(context=context, event=event)
        chosen = list(event.get("chosen_options") or ())
        answers = dict(event.get("params_input") or {})
        self.validate_chosen_options(chosen)
        self.validate_params_input(answers)
        responder = event.get("responded_by_user") or {}
        person = _reason(responder.get("name") or responder.get("id"))
        reason = _reason(answers.get(REASON_PARAM))
        name = label(version_urn(self.model_version))
        if chosen == [self.APPROVE]:
            if person is None:
                raise AirflowFailException(
                    f"{name}: no person approved it (an answer without a user); it stays in_review"
                )
            action, actor = "approve", person
        else:
            action, actor = "reject", person or f"airflow:{context['ti'].dag_id}"
            if reason is None and person is None:
                reason = "no response before the timeout"
            elif reason is None:
                raise AirflowFailException(
                    f"{name}: {person} rejected it without a reason, and a rejection needs one "
                    f"(the form's '{REASON_PARAM}'); nothing was recorded and it stays "
                    "in_review: clear this task to ask again"
                )
        done = self.run_transition(context, action, actor=actor, reason=reason)
        if action == "reject" and self.do_xcom_push:  # skipping downstream pushes no value
            context["ti"].xcom_push(BaseXCom.XCOM_RETURN_KEY, done)
        super().execute_complete(context=context, event=event)
        return done
