"""The ``lifecycle`` aspect of a model version: its state, and how and why it got there.

Every transition (``request_review``, ``approve``, ``reject``, ``publish``, ``deprecate``)
appends a version of this aspect, so the aspect's history is the version's audit trail: who
acted (``actor``), why (``reason``), when (``at``), from where (``origin``: the CLI, or the DAG
run and task), and on what evidence (the URNs of the evaluations, comparisons and checks the
transition relied on). A version without the aspect is ``registered``.

Example:
    >>> from aimops.metadata.aspects import canonical_json
    >>> print(canonical_json("lifecycle", {
    ...     "state": "in_review", "transition": "request_review", "actor": "ana",
    ...     "at": "2026-01-02T03:04:05Z", "previous": "registered"})[:62])
    {"actor":"ana","at":"2026-01-02T03:04:05Z","evidence":[],"orig
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from aimops.metadata.aspects.registry import AspectModel, register_aspect

State = Literal["registered", "in_review", "publishable", "published", "deprecated"]
Transition = Literal["request_review", "approve", "reject", "publish", "deprecate"]


class Origin(AspectModel):
    """Where a transition came from: ``kind`` (``cli``, ``airflow``, ``prefect``, ``python``)
    and, from an orchestrator, the run and the task (step) URNs."""

    kind: str = "python"
    run: str | None = None
    task: str | None = None


class LifecycleAspect(AspectModel):
    """One transition of a model version and the state it left the version in."""

    indexed = ("state", "transition", "actor")
    state: State
    transition: Transition
    previous: State
    actor: str = Field(min_length=1, max_length=256)
    reason: str | None = Field(default=None, max_length=4096)
    at: datetime
    origin: Origin = Field(default_factory=Origin)
    evidence: tuple[str, ...] = ()
    #: The policy that judged the evidence (request_review, an automated approval).
    policy: str | None = None
    #: Who asked for the review this state belongs to (four eyes: never the approver).
    requested_by: str | None = None


register_aspect("lifecycle", LifecycleAspect, frozenset({"modelVersion"}))
