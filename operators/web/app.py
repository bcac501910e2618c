"""Evaluation reports and check pages inside Airflow: pages of the API server, and where a
task links to them.

``GET /aimops/evaluations/<evaluation urn>`` renders a recorded evaluation or comparison as
the interactive report, straight from the AIM store: the page a task's "AIM report" link opens.
``GET /aimops/checks/<check urn>`` renders a recorded monitoring check (its status, numbers
and every failed row: the "AIM check" link), and ``?report=evidently`` serves the Evidently
report saved with a drift check, sandboxed (:data:`SAVED_REPORT_HEADERS`).
``GET /aimops/models/<model version urn>`` renders a model version: its lifecycle state and
history, its evaluations and checks (those the user may read), linking to their pages. Checks
and model versions follow the same access rules as evaluations, below (a model version is
produced by the task that registered it). The plugin mounts :data:`report_app` under
:data:`URL_PREFIX`.

Airflow does not protect plugin apps, so the route does it itself:

- it wants a signed-in Airflow user (the UI's session cookie or a bearer token, as the REST
  API does): 401 otherwise;
- an evaluation a DAG's task recorded (its ``producedBy`` edge in the store leads to a step
  ``airflow/<dag_id>/...``, whatever key the task chose) is shown only to a user whom Airflow's
  auth manager lets read that DAG, as the REST API decides it (with the DAG's team in
  multi-team mode);
- an evaluation keyed ``airflow/<dag_id>/<run_id>/<task_id>[/...]`` (the operators' default
  key) is also asked about the DAG its key names, and before the store is read: whoever may not
  read that DAG gets 403 for any such URN, recorded or not, and learns nothing of which exist;
- for any other URN the producer is known only once the store is read, so an evaluation
  produced by a DAG the user may not read answers the very 404 of an evaluation that is not
  recorded: guessing keys reveals neither that it exists nor which DAG made it (a 403 would);
- an evaluation with neither (recorded from a notebook, a Prefect flow, a script, under its
  own key or its fingerprint) is shown to any signed-in user: nothing says whose it is.

Every answer (401, 404 and 500 included) carries ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: no-referrer`` and a Content-Security-Policy: the report's own (its script
and styles only, as its meta tag says) plus ``frame-ancestors 'self'``, which only a header can
set; for anything but a report, ``default-src 'none'``.

Airflow imports the plugin in every process; FastAPI (and the store) are loaded at the first
request, in the API server only.

Example:
    >>> security_headers()["X-Content-Type-Options"]
    'nosniff'
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from aimops.operators.web.access import may_read_dag
from aimops.operators.web.pages import check_page, evaluation_page, model_version_page

if TYPE_CHECKING:
    from fastapi import FastAPI

    from aimops.metadata.store import AimStore


#: Headers of every answer besides its Content-Security-Policy.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
#: Who may frame the report: Airflow's own pages only.
FRAME_POLICY = "frame-ancestors 'self'"
#: A saved report (Evidently's, with its inlined scripts) is served sandboxed: it runs in an
#: origin of its own, so its scripts can neither read Airflow's cookies nor call its API. (The
#: file itself is inert too, opened from disk: aimops escapes its data and its own policy lets
#: only its own scripts run, see :func:`aimops.monitors.checks.evidently_engine.inert_report`.)
SAVED_REPORT_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts; default-src 'none'; "
    "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    f"img-src data: blob:; font-src data:; form-action 'none'; {FRAME_POLICY}",
    **SECURITY_HEADERS,
}
_PAGE_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"')

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def security_headers(page: str | None = None) -> dict[str, str]:
    """The headers of an answer: for a report ``page``, its own policy (read from its meta
    tag, so that the header allows exactly the script and styles the page holds) with
    :data:`FRAME_POLICY`; for anything else, nothing may load.

    Example:
        >>> security_headers()["Content-Security-Policy"]
        "default-src 'none'; frame-ancestors 'self'"
    """
    found = _PAGE_POLICY.search(page) if page is not None else None
    policy = html.unescape(found.group(1)) if found else "default-src 'none'"
    return {"Content-Security-Policy": f"{policy}; {FRAME_POLICY}", **SECURITY_HEADERS}


def create_app(open_store: Callable[[], AimStore | None] | None = None) -> FastAPI:
    """The report app. ``open_store`` gives the store to read (default: the one the
    ``aimops_default`` connection names, opened once, never created; None while unreachable)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, Request, Response
    from fastapi.responses import HTMLResponse, PlainTextResponse

    from aimops.hooks.aim import lookup_store

    opener = open_store or lookup_store
    app = FastAPI(title="aimops reports", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def add_security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """The headers on every answer: the 401 of ``get_user`` and FastAPI's own 404/422
        included. A report's page sets its own policy first, and keeps it."""
        response = await call_next(request)
        for name, value in security_headers().items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        """A crash (the store failing mid-read, say) is answered outside every middleware,
        so this answer carries the headers itself; the server still logs the exception."""
        return PlainTextResponse(
            "internal error; see the API server's log", status_code=500, headers=security_headers()
        )

    @app.get(
        "/evaluations/{urn:path}",
        response_class=HTMLResponse,
        summary="The interactive report of a recorded evaluation or comparison",
    )
    def evaluation_route(urn: str, user: Any = Depends(get_user)) -> Any:  # noqa: B008
        return _answer(*evaluation_page(opener, urn, lambda dag_id: may_read_dag(user, dag_id)))

    @app.get(
        "/checks/{urn:path}",
        response_class=HTMLResponse,
        summary="A recorded monitoring check, or (?report=NAME) a report saved with it",
    )
    def check_route(
        urn: str,
        report: str | None = None,
        user: Any = Depends(get_user),  # noqa: B008
    ) -> Any:
        status, body, saved = check_page(
            opener, urn, report, lambda dag_id: may_read_dag(user, dag_id)
        )
        return _answer(status, body, SAVED_REPORT_HEADERS if saved else None)

    @app.get(
        "/models/{urn:path}",
        response_class=HTMLResponse,
        summary="A model version: its lifecycle state and history, evaluations and checks",
    )
    def model_version_route(urn: str, user: Any = Depends(get_user)) -> Any:  # noqa: B008
        return _answer(*model_version_page(opener, urn, lambda d: may_read_dag(user, d)))

    return app


def _answer(status: int, body: str, headers: dict[str, str] | None = None) -> Any:
    """A page (with ``headers``, else the page's own security headers) or, for any other status,
    its message as plain text."""
    from fastapi.responses import HTMLResponse, PlainTextResponse

    if status != 200:
        return PlainTextResponse(body, status_code=status)
    return HTMLResponse(body, headers=headers or security_headers(body))


class LazyApp:
    """An ASGI app that builds the real one at its first request.

    Airflow imports plugins in every process, and mounts their apps only in the API server;
    deferring the build keeps FastAPI and the store out of the others. No lock: ``get_app``
    does not await, so the event loop runs it to its end before it serves another request,
    and one loop builds the app once. Called from two threads at once it could build twice;
    that is harmless (the app keeps no state of its own: both would read the same store) and
    the spare one is dropped.
    """

    def __init__(self, factory: Callable[[], App]) -> None:
        self._factory = factory
        self._app: App | None = None

    def get_app(self) -> App:
        """The app, built on first use."""
        if self._app is None:
            self._app = self._factory()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.get_app()(scope, receive, send)


#: What the plugin mounts under :data:`URL_PREFIX`.
report_app = LazyApp(create_app)
