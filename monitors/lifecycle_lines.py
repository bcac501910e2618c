"""What a lifecycle task checks and says, whichever orchestrator runs it.

The Airflow operators (:mod:`aimops.operators.lifecycle`) and the Prefect tasks
(:mod:`aimops.flows.lifecycle`) run the same job (:func:`aimops.monitors.lifecycle.run_transition`);
they check their arguments and log what the job did in the same words, from here. Where a page
of the version is shown (Airflow's UI), the caller passes its address.

Example:
    >>> done = {"urn": "urn:aim:modelVersion:churn/3", "transition": "publish",
    ...     "previous": "publishable", "state": "published", "actor": "prefect:release",
    ...     "evidence": [], "reason": recorded_reason("  weekly retrain ")}
    >>> transition_line(done)
    'churn/3: publishable -> published by prefect:release; reason: weekly retrain'
    >>> check_version_and_actor("publish_model", "churn/3", "")
    Traceback (most recent call last):
    ...
    aimops.errors.InvalidInputError: publish_model: actor must be a non-empty name
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimops.errors import InvalidInputError


def transition_line(done: Mapping[str, Any], page: str | None = None) -> str:
    """The one line a task logs for a transition it made (the dict of
    :func:`~aimops.monitors.lifecycle.run_transition`), ending with ``page`` when given.

    Example:
        >>> transition_line({"urn": "urn:aim:modelVersion:churn/3",
        ...     "transition": "request_review", "previous": "registered", "state": "in_review",
        ...     "actor": "alice", "evidence": ["urn:aim:evaluation:e"], "reason": None,
        ...     "repeated": True}, page="https://airflow.example.com/aimops/models/churn")
        'churn/3: registered -> in_review by alice (evidence: 1 record); recorded by an earlier \
try of this task; page: https://airflow.example.com/aimops/models/churn'
    """
    from aimops.metadata.lifecycle.queries import label

    evidence = list(done.get("evidence") or ())
    line = f"{label(done['urn'])}: {done['previous']} -> {done['state']} by {done['actor']}"
    if evidence or done.get("transition") in ("request_review", "approve"):
        line += f" (evidence: {len(evidence)} record{'' if len(evidence) == 1 else 's'})"
    if done.get("reason"):
        line += f"; reason: {done['reason']}"
    for found in done.get("deramped") or ():
        line += f"; de-ramped first in {found['environment']} (was {found['removed_weight']}%)"
    if done.get("repeated"):
        line += "; recorded by an earlier try of this task"
    return f"{line}; page: {page}" if page else line


def recorded_reason(value: Any) -> str | None:
    """A reason as recorded: stripped text, None when empty.

    Example:
        >>> recorded_reason("  drift on age "), recorded_reason("   "), recorded_reason(None)
        ('drift on age', None, None)
    """
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def check_version_and_actor(task: str, model_version: Any, actor: Any) -> None:
    """InvalidInputError naming ``task`` when ``model_version`` is missing or ``actor`` is
    given but empty (an Airflow operator checks it when the DAG file is parsed, a Prefect task
    when it runs)."""
    if model_version is None or (isinstance(model_version, str) and not model_version.strip()):
        raise InvalidInputError(f"{task}: model_version is required")
    if actor is not None and not (isinstance(actor, str) and actor.strip()):
        raise InvalidInputError(f"{task}: actor must be a non-empty name")
