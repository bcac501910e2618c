"""The ``deployment`` and ``ramp`` aspects: who serves a model's traffic, and how a ramp went.

A deployment (``urn:aim:deployment:<model>/<environment>``) gets a new ``deployment`` version
with every traffic change: the weights (``{version: percent}``, summing to 100, or empty when
nothing serves), the champion, the active ramp, what changed and who changed it, so the
aspect's history is the deployment's audit trail. A ramp (``urn:aim:ramp:<model>/<env>/<n>``)
gets a new ``ramp`` version at every step: its schedule, its status, and each analysis with
its gates and verdict.

Example:
    >>> from aimops.metadata.aspects import canonical_json
    >>> print(canonical_json("deployment", {
    ...     "model": "churn", "environment": "production", "weights": {"3": 95, "4": 5},
    ...     "champion": "3", "revision": 2, "change": "ramp_started", "actor": "ana",
    ...     "at": "2026-01-02T03:04:05Z"})[:80])
    {"actor":"ana","at":"2026-01-02T03:04:05Z","champion":"3","change":"ramp_started
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from aimops.metadata.aspects.lifecycle import Origin
from aimops.metadata.aspects.registry import AspectModel, register_aspect

RampStatus = Literal["ramping", "paused", "complete", "rolled_back", "aborted"]
Verdict = Literal["pass", "fail", "inconclusive"]
GateStatus = Literal["pass", "fail", "inconclusive", "skipped"]


class DeploymentAspect(AspectModel):
    """One traffic change of a deployment and the traffic it left."""

    indexed = ("model", "environment", "champion", "change", "ramp")
    model: str = Field(min_length=1)
    environment: str = Field(min_length=1)
    weights: dict[str, int]
    champion: str | None = None
    #: Increases by one with every change; what a router's traffic file carries.
    revision: int = Field(ge=1)
    #: The active ramp's URN (ramping or paused), else None.
    ramp: str | None = None
    change: str = Field(min_length=1, max_length=64)
    actor: str = Field(min_length=1, max_length=256)
    reason: str | None = Field(default=None, max_length=4096)
    at: datetime
    origin: Origin = Field(default_factory=Origin)


class GateOutcome(AspectModel):
    """One gate of a step's analysis: what was measured against which limit."""

    name: str
    status: GateStatus
    value: float | None = None
    limit: float | None = None
    detail: str = ""


class StepAnalysis(AspectModel):
    """A step's analysis over the requests served in its window, and the decision taken."""

    step: int = Field(ge=0)
    weight: int = Field(ge=0, le=100)
    window_start: datetime
    window_end: datetime
    verdict: Verdict
    gates: tuple[GateOutcome, ...] = ()
    requests: dict[str, int] = Field(default_factory=dict)
    #: What the ramp did about it: advance, promote, hold, roll_back, pause.
    decision: str = ""
    at: datetime


class RampAspect(AspectModel):
    """A ramp of a challenger version through a schedule of weights, at one moment."""

    indexed = ("status", "version", "model", "environment")
    deployment: str
    model: str
    environment: str
    version: str
    #: The champion when the ramp started (None: an initial rollout).
    champion: str | None = None
    schedule: tuple[int, ...]
    bake_seconds: float = Field(ge=0)
    failure_limit: int = Field(ge=1)
    progress_deadline_seconds: float | None = Field(default=None, ge=0)
    gates: dict[str, Any] = Field(default_factory=dict)
    status: RampStatus
    #: The index in ``schedule`` of the weight the challenger has now.
    step: int = Field(ge=0)
    step_started_at: datetime
    failures: int = Field(default=0, ge=0)
    analyses: tuple[StepAnalysis, ...] = ()
    deprecate_previous: bool = False
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    actor: str = Field(min_length=1, max_length=256)
    reason: str | None = Field(default=None, max_length=4096)
    origin: Origin = Field(default_factory=Origin)
    #: The last thing that happened, in words ("step 3 of 5 passed: 25% -> 50%").
    note: str = ""


register_aspect("deployment", DeploymentAspect, frozenset({"deployment"}))
register_aspect("ramp", RampAspect, frozenset({"ramp"}))
