"""Airflow hooks: connections to the AIM store and to MLflow (needs ``aimops[airflow]``).

:class:`AimHook` finds the AIM store (connection type ``aimops``, id ``aimops_default``);
:class:`MlflowHook` finds the MLflow tracking server and registry (type ``mlflow``, id
``mlflow_default``). Both names load lazily: ``import aimops.hooks`` does not import Airflow,
the first use of a hook does. The connection forms are described here as plain data, so the
provider info can name them without importing Airflow either.

Example:
    >>> import aimops.hooks
    >>> sorted(aimops.hooks.CONNECTION_FORMS)
    ['aimops', 'mlflow']
    >>> aimops.hooks.field_behaviour("aimops")["relabeling"]["schema"]
    'Database'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.hooks.aim import AimHook
    from aimops.hooks.mlflow import MlflowHook

_LAZY = {"AimHook": "aimops.hooks.aim", "MlflowHook": "aimops.hooks.mlflow"}
_TEXT = {"type": ["string", "null"]}

#: The connection forms in Airflow's provider-info format (``conn-fields`` are kept in the
#: connection's extra under their own names; ``ui-field-behaviour`` adjusts the standard fields).
CONNECTION_FORMS: dict[str, dict[str, Any]] = {
    "aimops": {
        "conn-fields": {
            "store_url": {
                "label": "Store URL",
                "description": "A full store URL (sqlite:////path/aim.db or "
                "postgresql://user:password@host:5432/db); when set, the fields above are ignored.",
                "schema": _TEXT,
            },
        },
        "ui-field-behaviour": {
            "hidden-fields": [],
            "relabeling": {"host": "Host (PostgreSQL)", "schema": "Database", "login": "User"},
            "placeholders": {
                "host": "db.example.com",
                "schema": "aim",
                "port": "5432",
                "store_url": "sqlite:////srv/aimops/aim.db",
            },
        },
    },
    "mlflow": {
        "conn-fields": {
            "tracking_uri": {
                "label": "Tracking URI",
                "description": "Instead of host and port, e.g. sqlite:////srv/mlflow/mlflow.db.",
                "schema": _TEXT,
            },
            "registry_uri": {
                "label": "Registry URI",
                "description": "The model registry, when it is not the tracking store.",
                "schema": _TEXT,
            },
            "ui_url": {
                "label": "Web UI URL",
                "description": "Where people open MLflow runs (for links from tasks).",
                "schema": _TEXT,
            },
        },
        "ui-field-behaviour": {
            "hidden-fields": ["schema"],
            "relabeling": {"host": "Tracking server", "login": "Username"},
            "placeholders": {
                "host": "http://mlflow.example.com",
                "port": "5000",
                "tracking_uri": "sqlite:////srv/mlflow/mlflow.db",
                "ui_url": "https://mlflow.example.com",
            },
        },
    },
}


def field_behaviour(conn_type: str) -> dict[str, Any]:
    """The standard fields' behaviour in the form of ``BaseHook.get_ui_field_behaviour``."""
    behaviour = CONNECTION_FORMS[conn_type]["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour["hidden-fields"]),
        "relabeling": dict(behaviour["relabeling"]),
        "placeholders": dict(behaviour["placeholders"]),
    }


def form_widgets(conn_type: str) -> dict[str, Any]:
    """The extra fields as WTForms widgets (``{}`` where the legacy form libraries are absent)."""
    try:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField
    except ImportError:
        return {}
    fields = CONNECTION_FORMS[conn_type]["conn-fields"]
    return {
        name: StringField(lazy_gettext(field["label"]), widget=BS3TextFieldWidget())
        for name, field in fields.items()
    }


def register_secret(secret: str | None) -> None:
    """Have Airflow's secrets masker hide ``secret`` in every log line (no-op without Airflow)."""
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - aimops[airflow] not installed
        return
    mask_secret(secret)


def scrub(message: str, secrets: set[str]) -> str:
    """``message`` with every secret (and its URL-quoted form) replaced by ``***``."""
    from urllib.parse import quote

    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        for form in {secret, quote(secret, safe="")}:
            message = message.replace(form, "***")
    return message


__getattr__ = lazy_attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["AimHook", "MlflowHook"]
