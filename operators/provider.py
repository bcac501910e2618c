"""Provider metadata for Airflow's providers manager (entry point ``apache_airflow_provider``).

Airflow reads it while it starts, so it imports neither Airflow nor the hooks: the connection
forms come as plain data from :data:`aimops.hooks.CONNECTION_FORMS` (Airflow 3.2 builds the
forms from ``conn-fields`` and ``ui-field-behaviour`` without importing hook classes). It
validates against Airflow's ``provider_info.schema.json``.

Example:
    >>> info = get_provider_info()
    >>> [c["connection-type"] for c in info["connection-types"]]
    ['aimops', 'mlflow']
"""

from __future__ import annotations

import copy
from typing import Any


def get_provider_info() -> dict[str, Any]:
    """What Airflow knows of aimops as a provider: connection types, extra links, plugin."""
    from aimops import __version__
    from aimops.hooks import CONNECTION_FORMS

    hooks = {
        "aimops": ("aimops.hooks.aim.AimHook", "AIM store"),
        "mlflow": ("aimops.hooks.mlflow.MlflowHook", "MLflow"),
    }
    return {
        "package-name": "aimops",
        "name": "aimops",
        "description": "AI-metadata capture, evaluation and the model lifecycle for Airflow: "
        "an AIM store connection, an MLflow connection, links from tasks to AIM and MLflow, "
        "operators that evaluate and compare model versions, run monitoring checks and move "
        "model versions through their lifecycle (a person's approval included).",
        "versions": [__version__],
        "connection-types": [
            {
                "hook-class-name": hook_class,
                "hook-name": hook_name,
                "connection-type": conn_type,
                **copy.deepcopy(CONNECTION_FORMS[conn_type]),
            }
            for conn_type, (hook_class, hook_name) in hooks.items()
        ],
        "extra-links": [
            "aimops.operators.links.AimStepLink",
            "aimops.operators.links.MlflowRunLink",
            "aimops.operators.evaluation.AimReportLink",
            "aimops.operators.monitoring.AimCheckLink",
            "aimops.operators.monitoring.EvidentlyReportLink",
            "aimops.operators.monitoring.DashboardLink",
            "aimops.operators.lifecycle.ModelVersionLink",
            "aimops.operators.ramps.RampVersionLink",
        ],
        "plugins": [{"name": "aimops", "plugin-class": "aimops.operators.plugin.AimopsPlugin"}],
    }
