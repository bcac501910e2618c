"""The model lifecycle beside the store: review, approval, publish, deprecate, traffic.

States: ``registered`` → ``in_review`` → ``publishable`` → ``published`` → ``deprecated``
(``reject`` sends ``in_review`` back to ``registered``). Each transition is a new version of
the model version's ``lifecycle`` aspect (state, actor, reason, time, origin, evidence), so
``aimops history URN`` is its audit trail. Guards: the evidence policy for a review, four eyes
for an approval, the state for everything (:mod:`~aimops.metadata.lifecycle.transitions`).
A published version serves traffic through deployments (:mod:`~aimops.metadata.lifecycle.
deployments`), whose weights a router applies (:mod:`~aimops.metadata.lifecycle.routers`);
ramps are recorded here (:mod:`~aimops.metadata.lifecycle.ramps`) and run by
:mod:`aimops.monitors.ramps`; :func:`deramp` takes a version's traffic away at once.

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.lifecycle import lifecycle_state, deprecate
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> version = record_model_version(store, "churn", 1)
    >>> deprecate(store, version, reason="superseded", mlflow=False).state
    'deprecated'
    >>> lifecycle_state(store, "churn/1")
    'deprecated'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.metadata.lifecycle.deployments import Deployment, read_deployment, weight_history
    from aimops.metadata.lifecycle.deramp import DerampOutcome, deramp
    from aimops.metadata.lifecycle.evidence import (
        DEFAULT_POLICY,
        POLICIES,
        Evidence,
        EvidencePolicy,
        Policy,
        champion_of,
        register_policy,
        resolve_policy,
    )
    from aimops.metadata.lifecycle.machine import STATES, TRANSITIONS
    from aimops.metadata.lifecycle.mlflow_mirror import MirrorOutcome, MlflowTarget, mirror_model
    from aimops.metadata.lifecycle.queries import (
        lifecycle_history,
        lifecycle_state,
        lifecycle_values,
        version_urn,
    )
    from aimops.metadata.lifecycle.ramps import Ramp, read_ramp
    from aimops.metadata.lifecycle.transitions import (
        TransitionOutcome,
        approve,
        deprecate,
        publish,
        reject,
        request_review,
        transition,
    )

_EVIDENCE = "aimops.metadata.lifecycle.evidence"
_QUERIES = "aimops.metadata.lifecycle.queries"
_TRANSITIONS = "aimops.metadata.lifecycle.transitions"
_MIRROR = "aimops.metadata.lifecycle.mlflow_mirror"
_DEPLOYMENTS = "aimops.metadata.lifecycle.deployments"
_LAZY = {
    "Deployment": _DEPLOYMENTS,
    "read_deployment": _DEPLOYMENTS,
    "weight_history": _DEPLOYMENTS,
    "DerampOutcome": "aimops.metadata.lifecycle.deramp",
    "deramp": "aimops.metadata.lifecycle.deramp",
    "Ramp": "aimops.metadata.lifecycle.ramps",
    "read_ramp": "aimops.metadata.lifecycle.ramps",
    "DEFAULT_POLICY": _EVIDENCE,
    "POLICIES": _EVIDENCE,
    "Evidence": _EVIDENCE,
    "EvidencePolicy": _EVIDENCE,
    "Policy": _EVIDENCE,
    "champion_of": _EVIDENCE,
    "register_policy": _EVIDENCE,
    "resolve_policy": _EVIDENCE,
    "STATES": "aimops.metadata.lifecycle.machine",
    "TRANSITIONS": "aimops.metadata.lifecycle.machine",
    "MlflowTarget": _MIRROR,
    "MirrorOutcome": _MIRROR,
    "mirror_model": _MIRROR,
    "lifecycle_history": _QUERIES,
    "lifecycle_state": _QUERIES,
    "lifecycle_values": _QUERIES,
    "version_urn": _QUERIES,
    "TransitionOutcome": _TRANSITIONS,
    "approve": _TRANSITIONS,
    "deprecate": _TRANSITIONS,
    "publish": _TRANSITIONS,
    "reject": _TRANSITIONS,
    "request_review": _TRANSITIONS,
    "transition": _TRANSITIONS,
}

__getattr__ = lazy_attributes("aimops.metadata.lifecycle", _LAZY)

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "STATES",
    "TRANSITIONS",
    "Deployment",
    "DerampOutcome",
    "Evidence",
    "EvidencePolicy",
    "MirrorOutcome",
    "MlflowTarget",
    "Policy",
    "Ramp",
    "TransitionOutcome",
    "approve",
    "champion_of",
    "deprecate",
    "deramp",
    "lifecycle_history",
    "lifecycle_state",
    "lifecycle_values",
    "mirror_model",
    "publish",
    "read_deployment",
    "read_ramp",
    "register_policy",
    "reject",
    "request_review",
    "resolve_policy",
    "transition",
    "version_urn",
    "weight_history",
]
