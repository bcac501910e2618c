"""Prefect tasks, flows, blocks and run capture (needs ``aimops[prefect]``).

- ``tracked`` captures a flow's runs into the AIM store: place it above ``@flow``;
- the tasks run aimops' jobs as Prefect tasks, as the Airflow operators do: ``evaluate_model``,
  ``compare_models``; ``data_quality_check``, ``drift_check``, ``feature_consistency_check``,
  ``health_check``; ``request_review``, ``approve_model``, ``reject_model``, ``publish_model``,
  ``deprecate_model``; ``ramp_model``, ``deramp_model``;
- ``AimopsStore`` is the block they take as ``store=`` (else the environment).

Example:
    >>> from aimops.flows import AimopsStore, drift_check, tracked
    >>> tracked.__name__, drift_check.name, AimopsStore.get_block_type_slug()
    ('tracked', 'drift_check', 'aimops-store')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.flows.blocks import AimopsStore
    from aimops.flows.capture.tracked import tracked
    from aimops.flows.checks import (
        data_quality_check,
        drift_check,
        feature_consistency_check,
        health_check,
    )
    from aimops.flows.evaluation import compare_models, evaluate_model
    from aimops.flows.lifecycle import (
        approve_model,
        deprecate_model,
        publish_model,
        reject_model,
        request_review,
    )
    from aimops.flows.ramps import deramp_model, ramp_model

_HOMES = {
    "tracked": "aimops.flows.capture.tracked",
    "AimopsStore": "aimops.flows.blocks",
    "evaluate_model": "aimops.flows.evaluation",
    "compare_models": "aimops.flows.evaluation",
    "data_quality_check": "aimops.flows.checks",
    "drift_check": "aimops.flows.checks",
    "feature_consistency_check": "aimops.flows.checks",
    "health_check": "aimops.flows.checks",
    "request_review": "aimops.flows.lifecycle",
    "approve_model": "aimops.flows.lifecycle",
    "reject_model": "aimops.flows.lifecycle",
    "publish_model": "aimops.flows.lifecycle",
    "deprecate_model": "aimops.flows.lifecycle",
    "ramp_model": "aimops.flows.ramps",
    "deramp_model": "aimops.flows.ramps",
}

__all__ = [
    "AimopsStore",
    "approve_model",
    "compare_models",
    "data_quality_check",
    "deprecate_model",
    "deramp_model",
    "drift_check",
    "evaluate_model",
    "feature_consistency_check",
    "health_check",
    "publish_model",
    "ramp_model",
    "reject_model",
    "request_review",
    "tracked",
]

__getattr__ = lazy_attributes(__name__, _HOMES)
