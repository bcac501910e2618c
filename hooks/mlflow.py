"""MLflow as an Airflow connection (type ``mlflow``, default id ``mlflow_default``).

From the connection:

- tracking URI: the ``tracking_uri`` extra, else the host (with its scheme, ``http://`` when
  it has none) and port: ``http://mlflow.example.com:5000``;
- registry URI: the ``registry_uri`` extra, else the tracking URI;
- web UI: the ``ui_url`` extra, else the tracking URI when it is http(s), else unknown;
- login and password: exported as ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``
  by :meth:`MlflowHook.get_client` and :meth:`MlflowHook.configure` only (MLflow reads them from
  the process environment at every request), masked in Airflow's logs, never in messages.

Without an ``mlflow_default`` connection the hook follows MLflow's own environment
(``MLFLOW_TRACKING_URI``, ``MLFLOW_REGISTRY_URI``). A connection id named explicitly must exist.
A process asks Airflow for each connection once (:mod:`aimops.hooks.connections`).

Connections as environment variables (JSON or URI)::

    AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "http://mlflow.example.com",
                                  "port": 5000, "login": "airflow", "password": "..."}'
    AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow",
                                  "extra": {"tracking_uri": "sqlite:////srv/mlflow/mlflow.db",
                                            "ui_url": "http://mlflow.example.com:5000"}}'
    AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://airflow:...@mlflow.example.com:5000'

Example:
    >>> import os
    >>> os.environ["AIRFLOW_CONN_MLFLOW_DOC"] = '{"conn_type": "mlflow", "host": "ml", "port": 80}'
    >>> hook = MlflowHook("mlflow_doc")
    >>> hook.run_url("1", "abc")
    'http://ml:80/#/experiments/1/runs/abc'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseHook

from aimops.errors import ConfigurationError
from aimops.hooks import field_behaviour, form_widgets, register_secret, scrub
from aimops.hooks.connections import find_connection
from aimops.settings import temporary_environment

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from mlflow import MlflowClient

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
#: While testing a connection: fail in seconds instead of retrying for minutes.
_TEST_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@dataclass(frozen=True)
class _Settings:
    tracking_uri: str | None
    registry_uri: str | None
    ui_url: str | None
    username: str | None = None
    password: str | None = None


class MlflowHook(BaseHook):
    """Points MLflow at the server or store an Airflow connection names.

    Example:
        >>> hook = MlflowHook()  # doctest: +SKIP
        >>> client = hook.get_client()  # doctest: +SKIP
        >>> client.create_experiment("churn")  # doctest: +SKIP
    """

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(
        self, mlflow_conn_id: str = default_conn_name, *, logger_name: str | None = None
    ) -> None:
        super().__init__(logger_name=logger_name)
        self.mlflow_conn_id = mlflow_conn_id
        self._resolved: _Settings | None = None

    # -- resolution -------------------------------------------------------------------------

    @property
    def _settings(self) -> _Settings:
        if self._resolved is None:
            self._resolved = self._resolve()
            for secret in self._secrets():
                register_secret(secret)
        return self._resolved

    def _resolve(self) -> _Settings:
        connection = find_connection(self.mlflow_conn_id)  # once per process
        if connection is not None:
            return _from_connection(connection)
        if self.mlflow_conn_id != self.default_conn_name:
            raise ConfigurationError(
                f"no Airflow connection {self.mlflow_conn_id!r} for MLflow: define it "
                f"(AIRFLOW_CONN_{self.mlflow_conn_id.upper()} or the UI)"
            )
        return _from_environment()

    def _secrets(self) -> set[str]:
        settings = self._resolved
        if settings is None:
            return set()
        found = {settings.password or ""}
        for uri in (settings.tracking_uri, settings.registry_uri, settings.ui_url):
            found.add(urlsplit(uri).password or "" if uri else "")
        return found - {""}

    def get_tracking_uri(self) -> str:
        """The tracking URI; without connection or environment, MLflow's own default."""
        if self._settings.tracking_uri:
            return self._settings.tracking_uri
        import mlflow

        return str(mlflow.get_tracking_uri())

    def configured_tracking_uri(self) -> str | None:
        """The tracking URI the connection or ``MLFLOW_TRACKING_URI`` names; None without."""
        return self._settings.tracking_uri

    def get_registry_uri(self) -> str:
        """The model registry URI (the tracking URI unless the connection names another)."""
        return self._settings.registry_uri or self.get_tracking_uri()

    def get_ui_url(self) -> str | None:
        """The MLflow web UI's base URL, or None when it is not known."""
        return self._settings.ui_url

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        """The web page of a run (``<ui>/#/experiments/<e>/runs/<r>``), None without a UI."""
        base = self.get_ui_url()
        if not base:
            return None
        return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    # -- using MLflow -----------------------------------------------------------------------

    def configure(self) -> None:
        """Point this process's ``mlflow.*`` calls at the connection (URIs and credentials)."""
        import mlflow

        self._export_credentials()
        mlflow.set_tracking_uri(self.get_tracking_uri())
        mlflow.set_registry_uri(self.get_registry_uri())

    def model_location(self) -> tuple[str, str]:
        """(tracking URI, registry URI) to load registered models from: the connection's or
        ``MLFLOW_TRACKING_URI`` (credentials exported for MLflow), else the local SQLite
        default the examples train into (:func:`aimops.settings.local_mlflow_uri`)."""
        tracking_uri = self.configured_tracking_uri()
        if tracking_uri is None:
            from aimops.settings import local_mlflow_uri

            return local_mlflow_uri(), local_mlflow_uri()
        self._export_credentials()
        return tracking_uri, self.get_registry_uri()

    def get_client(self) -> MlflowClient:
        """An ``MlflowClient`` for the connection (its credentials exported for MLflow)."""
        from mlflow import MlflowClient

        self._export_credentials()
        return MlflowClient(
            tracking_uri=self.get_tracking_uri(), registry_uri=self.get_registry_uri()
        )

    def get_conn(self) -> MlflowClient:
        """Airflow's name for :meth:`get_client`."""
        return self.get_client()

    def _export_credentials(self) -> None:
        settings = self._settings
        if settings.username:
            os.environ[USERNAME_ENV] = settings.username
        if settings.password:
            os.environ[PASSWORD_ENV] = settings.password

    def test_connection(self) -> tuple[bool, str]:
        """List one experiment; the message names the tracking URI without its password."""
        where = "MLflow"
        try:
            where = f"MLflow at {_redact(self.get_tracking_uri())}"
            with temporary_environment(_TEST_ENV):
                self.get_client().search_experiments(max_results=1)
        except Exception as exc:
            message = f"cannot reach {where}: {type(exc).__name__}: {exc}"
            return False, scrub(message, self._secrets())
        return True, f"{where} is reachable"

    # -- the connection form ----------------------------------------------------------------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The ``tracking_uri``, ``registry_uri`` and ``ui_url`` extra fields."""
        return form_widgets(cls.conn_type)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hide the schema field; label host and login for a tracking server."""
        return field_behaviour(cls.conn_type)


def _from_connection(connection: Connection) -> _Settings:
    extra = connection.extra_dejson
    tracking = _text(extra.get("tracking_uri")) or _server_uri(connection)
    registry = _text(extra.get("registry_uri")) or tracking
    return _Settings(
        tracking_uri=tracking,
        registry_uri=registry,
        ui_url=_text(extra.get("ui_url")) or _web(tracking),
        username=connection.login or None,
        password=connection.password or None,
    )


def _from_environment() -> _Settings:
    tracking = _text(os.environ.get("MLFLOW_TRACKING_URI"))
    registry = _text(os.environ.get("MLFLOW_REGISTRY_URI")) or tracking
    return _Settings(tracking_uri=tracking, registry_uri=registry, ui_url=_web(tracking))


def _server_uri(connection: Connection) -> str | None:
    host = (connection.host or "").strip().rstrip("/")
    if not host:
        return None
    if "://" not in host:
        host = f"http://{host}"
    parts = urlsplit(host)
    if connection.port and parts.port is None:
        parts = parts._replace(netloc=f"{parts.netloc}:{connection.port}")
    return urlunsplit(parts)


def _web(uri: str | None) -> str | None:
    return uri if uri and uri.startswith(("http://", "https://")) else None


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _redact(uri: str) -> str:
    """The URI without credentials: the user part's password, and secret query parameters."""
    from urllib.parse import parse_qsl, urlencode

    from aimops.metadata.engine import REDACTED, secret_parameter

    parts = urlsplit(uri)
    if parts.password is None and not parts.query:
        return uri  # nothing to hide (and urlunsplit would drop sqlite:////'s slashes)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        hidden = [(k, REDACTED if secret_parameter(k) else v) for k, v in pairs]
        parts = parts._replace(query=urlencode(hidden))
    return urlunsplit(parts)
