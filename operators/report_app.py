"""Evaluation reports inside Airflow: a page of the API server, and where a task links to it.

``GET /aimops/evaluations/<evaluation urn>`` renders a recorded evaluation or comparison as
the interactive report, straight from the AIM store: the page a task's "AIM report" link opens.
The plugin mounts :data:`report_app` under :data:`URL_PREFIX`. Airflow does not authenticate
plugin apps, so the route asks for a signed-in Airflow user itself (the UI's session cookie or
a bearer token, as the REST API does).

Airflow imports the plugin in every process; FastAPI (and the store) are loaded at the first
request, in the API server only.

Example:
    >>> import os
    >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com/"
    >>> report_url("urn:aim:evaluation:airflow/churn/manual__1/evaluate")
    'https://airflow.example.com/aimops/evaluations/urn:aim:evaluation:airflow/churn/manual__1/evaluate'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from fastapi import FastAPI

    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn

URL_PREFIX = "/aimops"
AIRFLOW_URL_ENV = "AIMOPS_AIRFLOW_URL"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def airflow_url() -> str:
    """The Airflow web address: ``$AIMOPS_AIRFLOW_URL``, else Airflow's ``[api] base_url``;
    empty when neither is set (links are then relative to the server the UI came from)."""
    configured = os.environ.get(AIRFLOW_URL_ENV, "").strip()
    if not configured:
        try:
            from airflow.sdk.configuration import conf

            configured = str(conf.get("api", "base_url", fallback="") or "").strip()
        except Exception:  # no Airflow configuration here: a relative link still works
            configured = ""
    return configured.rstrip("/")


def report_url(urn: str | Urn) -> str:
    """Where the API server shows the report of the evaluation ``urn``."""
    return f"{airflow_url()}{URL_PREFIX}/evaluations/{quote(str(urn), safe=':/')}"


def create_app(open_store: Callable[[], AimStore | None] | None = None) -> FastAPI:
    """The report app. ``open_store`` gives the store to read (default: the one the
    ``aimops_default`` connection names, opened once, never created; None while unreachable)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse, PlainTextResponse

    opener = open_store or _connection_store
    app = FastAPI(title="aimops reports", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(
        "/evaluations/{urn:path}",
        response_class=HTMLResponse,
        dependencies=[Depends(get_user)],
        summary="The interactive report of a recorded evaluation or comparison",
    )
    def evaluation_report(urn: str) -> Any:
        status, body = _report_page(opener, urn)
        if status != 200:
            return PlainTextResponse(body, status_code=status)
        return HTMLResponse(body)

    return app


def _connection_store() -> AimStore | None:
    from aimops.operators.links import _store

    store: AimStore | None = _store()
    return store


def _report_page(open_store: Callable[[], AimStore | None], urn: str) -> tuple[int, str]:
    """(HTTP status, page or plain message) for the report of ``urn``."""
    from aimops.errors import InvalidInputError, NotFoundError
    from aimops.metadata.urns import Urn
    from aimops.monitors.record import load_evaluation
    from aimops.monitors.report import render_report

    try:
        parsed = Urn.parse(urn)
    except InvalidInputError as exc:
        return 400, f"not an evaluation URN: {exc}"
    if parsed.type != "evaluation":
        return 400, f"{parsed} is not an evaluation URN (urn:aim:evaluation:...)"
    store = open_store()
    if store is None:
        return 503, "the AIM store cannot be opened right now; try again in a minute"
    try:
        document = load_evaluation(store, parsed)
    except NotFoundError:
        return 404, f"no evaluation {parsed} is recorded in the AIM store"
    title = f"{document.get('label') or document['kind']} · {document['kind']} · {parsed}"
    return 200, render_report([document], title=title)


class LazyApp:
    """An ASGI app that builds the real one at its first request.

    Airflow imports plugins in every process, and mounts their apps only in the API server;
    deferring the build keeps FastAPI and the store out of the others.
    """

    def __init__(self, factory: Callable[[], Callable[[Scope, Receive, Send], Awaitable[None]]]):
        self._factory = factory
        self._app: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
        self._lock = threading.Lock()

    def get_app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """The app, built on first use."""
        with self._lock:
            if self._app is None:
                self._app = self._factory()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.get_app()(scope, receive, send)


#: What the plugin mounts under :data:`URL_PREFIX`.
report_app = LazyApp(create_app)
