"""The AIM store as an Airflow connection (type ``aimops``, default id ``aimops_default``).

Where the store is, first match wins:

1. the connection's ``store_url`` extra: a full store URL, the way to name a SQLite file;
2. the connection's fields: ``postgresql://login:password@host:port/schema``; a host with a
   scheme (``postgresql+psycopg://db``) keeps it, other extras become URL query parameters
   (``sslmode``, ``connect_timeout``);
3. no ``aimops_default`` connection (or one with neither host nor ``store_url``):
   ``$AIMOPS_STORE_URL``, then ``$AIMOPS_HOME/aim.db``. A connection id named explicitly must
   exist: falling back would write somewhere the DAG author did not ask for.

A process asks Airflow for each connection once (:mod:`aimops.hooks.connections`).

Connections as environment variables (JSON or URI)::

    AIRFLOW_CONN_AIMOPS_DEFAULT='{"conn_type": "aimops",
                                  "extra": {"store_url": "sqlite:////srv/aimops/aim.db"}}'
    AIRFLOW_CONN_AIMOPS_DEFAULT='{"conn_type": "aimops", "host": "db.example.com",
                                  "port": 5432, "schema": "aim", "login": "aim",
                                  "password": "..."}'
    AIRFLOW_CONN_AIMOPS_DEFAULT='aimops://aim:...@db.example.com:5432/aim?sslmode=require'

Passwords are registered with Airflow's secrets masker and never appear in messages.

Example:
    >>> import os
    >>> os.environ["AIRFLOW_CONN_AIM_DOC"] = '{"conn_type": "aimops", "host": "db", "schema": "a"}'
    >>> AimHook("aim_doc").get_store_url()
    'postgresql://db/a'
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from aimops.errors import AimopsError, ConfigurationError
from aimops.hooks import field_behaviour, form_widgets, register_secret, scrub
from aimops.hooks.connections import find_connection
from aimops.metadata.engine import redact
from aimops.metadata.store import AimStore
from aimops.settings import default_store_url

if TYPE_CHECKING:
    from airflow.sdk import Connection

STORE_URL_EXTRA = "store_url"
_DEFAULT_SCHEME = "postgresql"


class AimHook(BaseHook):
    """Opens the AIM store an Airflow connection names (see the module docs for the forms).

    Example:
        >>> hook = AimHook()  # no aimops_default connection: $AIMOPS_STORE_URL or the home
        >>> store = hook.get_store()  # doctest: +SKIP
    """

    conn_name_attr = "aimops_conn_id"
    default_conn_name = "aimops_default"
    conn_type = "aimops"
    hook_name = "AIM store"

    def __init__(
        self,
        aimops_conn_id: str = default_conn_name,
        *,
        actor: str | None = None,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        self.aimops_conn_id = aimops_conn_id
        self.actor = actor
        self._store: AimStore | None = None
        self._secrets: set[str] = set()

    # -- resolution -------------------------------------------------------------------------

    def get_store_url(self) -> str:
        """The store URL, password included (show it only through ``redact``)."""
        connection = self._find_connection()
        url = _url_from_connection(connection) if connection is not None else None
        if connection is not None and connection.password:
            self._secret(connection.password)
        url = url or default_store_url()
        self._secret(_password_of(url))
        return url

    def _find_connection(self) -> Connection | None:
        connection = find_connection(self.aimops_conn_id)  # once per process
        if connection is None and self.aimops_conn_id != self.default_conn_name:
            raise ConfigurationError(
                f"no Airflow connection {self.aimops_conn_id!r} for the AIM store: define it "
                f"(AIRFLOW_CONN_{self.aimops_conn_id.upper()} or the UI), or leave the "
                f"connection id at {self.default_conn_name!r} to use AIMOPS_STORE_URL"
            )
        return connection

    def _secret(self, secret: str | None) -> None:
        if secret:
            self._secrets.add(secret)
            register_secret(secret)

    # -- the store --------------------------------------------------------------------------

    def get_store(self) -> AimStore:
        """The store, opened on first use and kept for this hook (a SQLite store is created)."""
        if self._store is None:
            self._store = AimStore.open(self.get_store_url(), actor=self.actor)
        return self._store

    def get_conn(self) -> AimStore:
        """Airflow's name for :meth:`get_store`."""
        return self.get_store()

    def close(self) -> None:
        """Release the kept store's connections."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def test_connection(self) -> tuple[bool, str]:
        """Open the store without creating it and count its runs; the message hides passwords."""
        url: str | None = None
        try:
            url = self.get_store_url()
            with AimStore.open(url, actor=self.actor, create=False) as store:
                runs = store.count("run")
        except AimopsError as exc:
            return False, scrub(str(exc), self._secrets)
        except Exception as exc:
            where = f" {redact(url)}" if url else ""
            message = f"cannot use the AIM store{where}: {type(exc).__name__}: {exc}"
            return False, scrub(message, self._secrets)
        return True, f"AIM store {redact(url)} is reachable: {runs} runs recorded"

    # -- the connection form ----------------------------------------------------------------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The ``store_url`` extra field (Airflow 3.2 reads it from the provider info)."""
        return form_widgets(cls.conn_type)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels and placeholders of the standard fields for a database store."""
        return field_behaviour(cls.conn_type)


def _url_from_connection(connection: Connection) -> str | None:
    extra = connection.extra_dejson
    explicit = extra.get(STORE_URL_EXTRA) or extra.get(f"extra__aimops__{STORE_URL_EXTRA}")
    if explicit:
        return str(explicit).strip()
    if not connection.host:
        return None
    scheme, separator, host = connection.host.partition("://")
    if not separator:
        scheme, host = _DEFAULT_SCHEME, connection.host
    query = {
        str(key): str(value)
        for key, value in extra.items()
        if value not in (None, "")
        and isinstance(value, str | int | float | bool)
        and key != STORE_URL_EXTRA
        and not str(key).startswith("extra__")
    }
    url = URL.create(
        drivername=scheme,
        username=connection.login or None,
        password=connection.password or None,
        host=host.strip("/") or None,
        port=connection.port or None,
        database=connection.schema or None,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def _password_of(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


log = logging.getLogger("aimops.hooks")
RETRY_OPEN_SECONDS = 30.0
_lookup_store: AimStore | None = None
_retry_open_at = 0.0


def lookup_store() -> AimStore | None:
    """The store the API server looks things up in (extra links, the AIM pages): the one the
    ``aimops_default`` connection names, opened once with the capture's short timeout, never
    created, and not asked again for ``RETRY_OPEN_SECONDS`` after it failed to open (None
    until then)."""
    global _lookup_store, _retry_open_at
    if _lookup_store is not None or time.monotonic() < _retry_open_at:
        return _lookup_store
    try:
        from aimops.metadata.capture.sink import capture_timeout

        url = AimHook().get_store_url()
        _lookup_store = AimStore.open(url, create=False, timeout=capture_timeout())
    except Exception as exc:  # links and pages go without the store: say why, once
        if not _retry_open_at:
            log.warning(
                "aimops cannot open the AIM store for links and pages (%s); trying again "
                "every %g s",
                exc,
                RETRY_OPEN_SECONDS,
            )
        _retry_open_at = time.monotonic() + RETRY_OPEN_SECONDS
    return _lookup_store


def forget_lookup_store() -> None:
    """Open the store anew at the next link (tests, a changed connection)."""
    global _lookup_store, _retry_open_at
    store, _lookup_store, _retry_open_at = _lookup_store, None, 0.0
    if store is not None:
        store.close()
