"""Model lifecycle transitions as Prefect tasks: review, approval, rejection, publish, retirement.

Each task is a thin wrapper of :func:`aimops.monitors.lifecycle.run_transition`, as the Airflow
operators are (:mod:`aimops.operators.lifecycle`), so a task moves a model version exactly as
``aimops models ...`` or a notebook would, with the same guards
(:mod:`aimops.metadata.lifecycle`):

- :func:`request_review`: ``registered`` → ``in_review``, when the evidence policy finds the
  evidence it asks for (a passing evaluation, a passing data-quality check, ...);
- :func:`approve_model`: ``in_review`` → ``publishable``: the policy judges the evidence again
  and acts as ``policy:<name>`` (``policy=None``: the actor approves; four eyes);
- :func:`reject_model`: ``in_review`` → ``registered``, with a reason;
- :func:`publish_model`: ``publishable`` → ``published``;
- :func:`deprecate_model`: any state but ``deprecated`` → ``deprecated`` (de-ramped first).

Every transition records who (``actor``: given, else ``prefect:<flow name>``), why
(``reason``) and where from (the flow run's and the task run's URNs). A refused transition
(wrong state, missing evidence, four eyes, a rejection without a reason) fails the task run at
once with the reason in one line, whatever its retries: trying again would be refused again.
Another transition winning a race (``LifecycleConflictError``), or a model version not
recorded yet, keep the task's retries; a retry whose transition an earlier try recorded gets it
back (``repeated``) instead of moving the version again.

Each task returns the dict of :func:`~aimops.monitors.lifecycle.run_transition` (``urn``,
``transition``, ``previous``, ``state``, ``actor``, ``reason``, ``evidence``, ``origin``,
``at``, ``policy``, ``mlflow``, ``repeated``, ``page``), logs its line (with the version's page
in Airflow when ``$AIMOPS_AIRFLOW_URL`` is set) and MLflow's, and publishes its artifacts under
the model's name, so that every transition of a model adds to one history in Prefect's UI:

- ``aimops-lifecycle-<model>``: the version, previous → new state, by whom, why, the
  evidence (count and URNs), MLflow's registry;
- ``aimops-lifecycle-<model>-table``: the transition's fields, one row each, and one row per
  evidence record;
- ``aimops-lifecycle-<model>-link``: the version's HTML page.

Example:
    >>> view = transition_view({"urn": "urn:aim:modelVersion:churn/3", "transition": "publish",
    ...     "previous": "publishable", "state": "published", "actor": "prefect:release",
    ...     "reason": None, "evidence": [], "mlflow": "not configured", "repeated": False,
    ...     "page": "/tmp/reports/modelVersion-churn_3.html"})
    >>> view.keys()["markdown"], view.keys()["link"], view.description
    ('aimops-lifecycle-churn', 'aimops-lifecycle-churn-link', 'churn/3: publishable → published \
by prefect:release')

Example (a flow)::

    from prefect import flow
    from aimops.flows.lifecycle import approve_model, publish_model, request_review

    @flow
    def release(version: str = "churn/3") -> None:
        request_review(version, reason="weekly retrain")
        approve_model(version, policy="evaluation_only")
        publish_model(version)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError
from aimops.flows.artifacts import ProgressView, airflow_page, model_of, report_link
from aimops.flows.frame import aimops_task, current_identity, in_frame, run_logger
from aimops.monitors.lifecycle_lines import check_version_and_actor, recorded_reason
from aimops.monitors.lifecycle_lines import transition_line as core_transition_line
from aimops.monitors.reports.urls import model_version_url

if TYPE_CHECKING:
    from aimops.flows.blocks import AimopsStore


def transition_line(done: Mapping[str, Any]) -> str:
    """The line a task logs for a transition (see the module): with the version's page in
    Airflow when ``$AIMOPS_AIRFLOW_URL`` is set.

    Example:
        >>> import os
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com/"
        >>> transition_line({"urn": "urn:aim:modelVersion:churn/3", "transition": "publish",
        ...     "previous": "publishable", "state": "published", "actor": "ana"})
        'churn/3: publishable -> published by ana; page: \
https://airflow.example.com/aimops/models/urn:aim:modelVersion:churn/3'
        >>> del os.environ["AIMOPS_AIRFLOW_URL"]
    """
    return core_transition_line(done, page=airflow_page(model_version_url(done["urn"])))


def _text(value: Any) -> str:
    """Text in one markdown line."""
    return " ".join(str(value).split())


def transition_view(done: Mapping[str, Any]) -> ProgressView:
    """The artifacts of a transition (see the module)."""
    from aimops.metadata.lifecycle.queries import label

    name, evidence = label(done["urn"]), list(done.get("evidence") or ())
    title = f"{name}: {done['previous']} → {done['state']}"
    lines = [f"- **{done['transition']}** by `{done['actor']}`"]
    if done.get("policy"):
        lines.append(f"- policy: `{done['policy']}`")
    lines.append(f"- reason: {_text(done['reason'])}" if done.get("reason") else "- no reason")
    lines.append(f"- evidence: {len(evidence)} record{'' if len(evidence) == 1 else 's'}")
    lines += [f"  - `{urn}`" for urn in evidence]
    for found in done.get("deramped") or ():
        lines.append(
            f"- de-ramped first in {found['environment']} (was {found['removed_weight']}%)"
        )
    lines.append(f"- MLflow registry: {done.get('mlflow') or 'off'}")
    origin = done.get("origin") or {}
    if origin.get("run"):
        lines.append(f"- from: flow run `{origin['run']}`, task run `{origin.get('task')}`")
    if done.get("repeated"):
        lines.append("- recorded by an earlier try of this task")
    fields = ("transition", "previous", "state", "actor", "reason", "policy", "at", "mlflow")
    table: list[dict[str, Any]] = [{"field": "version", "value": name}]
    table += [{"field": field, "value": done.get(field)} for field in fields]
    table += [{"field": key, "value": origin.get(key)} for key in ("run", "task")]
    table += [{"field": "evidence", "value": urn} for urn in evidence]
    return ProgressView(
        "lifecycle", model_of(done["urn"]), f"### {title}\n\n" + "\n".join(lines),
        f"{title} by {done['actor']}", table=table,
        link=report_link(done.get("page"), model_version_url(done["urn"])),
        link_text=f"the page of {name}",
    )  # fmt: skip


def _transition(
    action: str,
    model_version: Any,
    *,
    actor: str | None,
    reason: str | None,
    store: AimopsStore | str | None,
    policy: Any = None,
    force: bool = False,
) -> dict[str, Any]:
    """Apply ``action`` through the task frame: the transition's dict (logged and published),
    or its error raised for the frame's retry condition."""
    from aimops.flows.blocks import resolve_store
    from aimops.monitors.lifecycle import run_transition

    origin = current_identity().origin()
    block = resolve_store(store)

    def job(aim: Any) -> dict[str, Any]:
        return run_transition(
            aim, model_version, action, actor=actor, reason=reason, origin=origin,
            policy=policy, mlflow=block.mlflow_target(), report_dir=block.reports(),
            force=force,
        )  # fmt: skip

    done = in_frame(block, job)
    log = run_logger()
    log.info("%s", transition_line(done))
    if done.get("mlflow") not in (None, "off", "not configured"):
        log.info("MLflow registry: %s", done["mlflow"])
    transition_view(done).publish()
    return done


def _checked(model_version: Any, actor: Any) -> str:
    """Who acts: ``actor``, else ``prefect:<flow>``; InvalidInputError (naming the task) for a
    missing model version or an empty actor."""
    identity = current_identity()
    check_version_and_actor(identity.task_name, model_version, actor)
    return str(actor).strip() if actor is not None else identity.actor


@aimops_task
def request_review(
    model_version: Any,
    *,
    policy: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
    store: AimopsStore | str | None = None,
) -> dict[str, Any]:
    """Ask for a review of a model version: ``registered`` → ``in_review``.

    Refused (the task run fails at once, naming what is missing) unless the evidence policy
    finds its evidence; the URNs it relied on are recorded with the request.

    :param model_version: a ``model_version_ref`` (an upstream task's output), ``"name/3"`` or
        its URN.
    :param policy: the evidence policy's registered name (None: ``"default"``: a passing
        evaluation, a passing data-quality check, and a passing comparison with the published
        champion when there is one; ``"evaluation_only"``).
    :param reason: why (optional); ``actor``: who asks (default ``prefect:<flow name>``).
    :param store: an :class:`~aimops.flows.blocks.AimopsStore` block, a saved block's name, or
        None (the environment).
    :return: the transition (see the module).

    Example (in a flow)::

        request_review("churn/3", reason="weekly retrain")
    """
    who = _checked(model_version, actor)
    return _transition(
        "request_review", model_version, actor=who, reason=recorded_reason(reason),
        store=store, policy=policy,
    )  # fmt: skip


@aimops_task
def approve_model(
    model_version: Any,
    *,
    policy: str | None = "default",
    reason: str | None = None,
    actor: str | None = None,
    store: AimopsStore | str | None = None,
) -> dict[str, Any]:
    """Approve a model version in review: ``in_review`` → ``publishable``.

    With a ``policy`` (default ``"default"``) the approval is automated: the policy judges the
    evidence again and the approval is recorded as made by ``policy:<name>`` (give ``actor``
    or ``policy``, not both). ``policy=None`` makes ``actor`` (default ``prefect:<flow
    name>``) the approver, who must not be the one who requested the review (four eyes).

    The rest is as for :func:`request_review`.

    Example (in a flow)::

        approve_model("churn/3", policy="evaluation_only")
    """
    who: str | None = _checked(model_version, actor)
    if policy is not None and actor is not None:
        raise InvalidInputError(
            f"{current_identity().task_name}: an automated approval acts as its policy "
            f"(policy:{policy}); give actor or policy, not both (policy=None makes the actor "
            "the approver)"
        )
    if policy is not None:
        who = None  # the core records policy:<name>
    return _transition(
        "approve", model_version, actor=who, reason=recorded_reason(reason), store=store,
        policy=policy,
    )  # fmt: skip


@aimops_task
def reject_model(
    model_version: Any,
    reason: str,
    *,
    actor: str | None = None,
    store: AimopsStore | str | None = None,
) -> dict[str, Any]:
    """Send a model version in review back: ``in_review`` → ``registered``. Needs a reason:
    an empty one fails the task run at once.

    Example (in a flow)::

        reject_model("churn/3", "AUROC regressed on the holdout")
    """
    who = _checked(model_version, actor)
    why = recorded_reason(reason)
    if why is None:
        raise InvalidInputError(
            f"{current_identity().task_name}: a rejection needs a reason, not {reason!r}"
        )
    return _transition("reject", model_version, actor=who, reason=why, store=store)


@aimops_task
def publish_model(
    model_version: Any,
    *,
    reason: str | None = None,
    actor: str | None = None,
    store: AimopsStore | str | None = None,
) -> dict[str, Any]:
    """Publish an approved model version: ``publishable`` → ``published`` (then ramp it:
    :func:`aimops.flows.ramps.ramp_model`).

    Example (in a flow)::

        publish_model("churn/3")
    """
    who = _checked(model_version, actor)
    return _transition(
        "publish", model_version, actor=who, reason=recorded_reason(reason), store=store
    )


@aimops_task
def deprecate_model(
    model_version: Any,
    *,
    force: bool = False,
    reason: str | None = None,
    actor: str | None = None,
    store: AimopsStore | str | None = None,
) -> dict[str, Any]:
    """Retire a model version: any state but ``deprecated`` → ``deprecated``.

    A version that serves traffic is de-ramped first (its weight to 0, the champion back to
    100%); the champion or the only version serving a deployment is refused unless ``force``.

    Example (in a flow)::

        deprecate_model("churn/2", reason="superseded by churn/3")
    """
    who = _checked(model_version, actor)
    return _transition(
        "deprecate", model_version, actor=who, reason=recorded_reason(reason), store=store,
        force=force,
    )  # fmt: skip
