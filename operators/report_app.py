"""Evaluation reports inside Airflow: a page of the API server, and where a task links to it.

``GET /aimops/evaluations/<evaluation urn>`` renders a recorded evaluation or comparison as
the interactive report, straight from the AIM store: the page a task's "AIM report" link opens.
The plugin mounts :data:`report_app` under :data:`URL_PREFIX`.

Airflow does not protect plugin apps, so the route does it itself:

- it wants a signed-in Airflow user (the UI's session cookie or a bearer token, as the REST
  API does): 401 otherwise;
- an evaluation a DAG's task recorded (its key is ``airflow/<dag_id>/...``, as the evaluation
  operators name theirs) is shown only to a user whom Airflow's auth manager lets read that
  DAG, as the REST API decides it (with the DAG's team in multi-team mode): 403 otherwise;
- any other evaluation (recorded from a notebook, a Prefect flow, a script) is shown to any
  signed-in user.

Every answer carries ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
a Content-Security-Policy: the report's own (its script and styles only, as its meta tag says)
plus ``frame-ancestors 'self'``, which only a header can set.

Airflow imports the plugin in every process; FastAPI (and the store) are loaded at the first
request, in the API server only.

Example:
    >>> import os
    >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com/"
    >>> report_url("urn:aim:evaluation:airflow/churn/manual__1/evaluate")
    'https://airflow.example.com/aimops/evaluations/urn:aim:evaluation:airflow/churn/manual__1/evaluate'
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from fastapi import FastAPI

    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn

URL_PREFIX = "/aimops"
AIRFLOW_URL_ENV = "AIMOPS_AIRFLOW_URL"

#: Headers of every answer besides its Content-Security-Policy.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
#: Who may frame the report: Airflow's own pages only.
FRAME_POLICY = "frame-ancestors 'self'"
_PAGE_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"')

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


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


def recording_dag(urn: Urn) -> str | None:
    """The DAG whose task recorded the evaluation ``urn`` (key ``airflow/<dag_id>/...``), or
    None for an evaluation recorded outside Airflow.

    Example:
        >>> from aimops.metadata.urns import Urn
        >>> recording_dag(Urn.parse("urn:aim:evaluation:airflow/churn/manual__1/evaluate"))
        'churn'
        >>> recording_dag(Urn.parse("urn:aim:evaluation:weekly/churn")) is None
        True
    """
    if len(urn.segments) >= 2 and urn.segments[0] == "airflow":
        return urn.segments[1]
    return None


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
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse, PlainTextResponse

    opener = open_store or _connection_store
    app = FastAPI(title="aimops reports", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(
        "/evaluations/{urn:path}",
        response_class=HTMLResponse,
        summary="The interactive report of a recorded evaluation or comparison",
    )
    def evaluation_report(urn: str, user: Any = Depends(get_user)) -> Any:  # noqa: B008
        status, body = _report_page(opener, urn, lambda dag_id: may_read_dag(user, dag_id))
        if status != 200:
            return PlainTextResponse(body, status_code=status, headers=security_headers())
        return HTMLResponse(body, headers=security_headers(body))

    return app


def may_read_dag(user: Any, dag_id: str) -> bool:
    """Whether Airflow's auth manager lets ``user`` read the DAG ``dag_id``, decided as the
    REST API's ``requires_access_dag("GET")`` does (the team owning the DAG's bundle included)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.models.dag import DagModel

    details = DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))
    return bool(get_auth_manager().is_authorized_dag(method="GET", details=details, user=user))


def _connection_store() -> AimStore | None:
    from aimops.operators.links import _store

    store: AimStore | None = _store()
    return store


def _report_page(
    open_store: Callable[[], AimStore | None], urn: str, may_read: Callable[[str], bool]
) -> tuple[int, str]:
    """(HTTP status, page or plain message) for the report of ``urn``; ``may_read(dag_id)``
    says whether the user may read the DAG that recorded it (asked before the store is)."""
    from aimops.errors import NotFoundError
    from aimops.monitors.record import load_evaluation
    from aimops.monitors.report import render_report

    parsed = _evaluation_urn(urn)
    if isinstance(parsed, str):
        return 400, parsed
    dag_id = recording_dag(parsed)
    if dag_id is not None and not may_read(dag_id):
        return 403, f"{parsed} was recorded by the DAG {dag_id!r}, which you may not read"
    store = open_store()
    if store is None:
        return 503, "the AIM store cannot be opened right now; try again in a minute"
    try:
        document = load_evaluation(store, parsed)
    except NotFoundError:
        return 404, f"no evaluation {parsed} is recorded in the AIM store"
    title = f"{document.get('label') or document['kind']} · {document['kind']} · {parsed}"
    return 200, render_report([document], title=title)


def _evaluation_urn(text: str) -> Urn | str:
    """``text`` as an evaluation URN, or why it is not one."""
    from aimops.errors import InvalidInputError
    from aimops.metadata.urns import Urn

    try:
        parsed = Urn.parse(text)
    except InvalidInputError as exc:
        return f"not an evaluation URN: {exc}"
    if parsed.type != "evaluation":
        return f"{parsed} is not an evaluation URN (urn:aim:evaluation:...)"
    return parsed


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
