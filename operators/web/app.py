"""Evaluation reports and check pages inside Airflow: pages of the API server, and where a
task links to them.

``GET /aimops/evaluations/<evaluation urn>`` renders a recorded evaluation or comparison as
the interactive report, straight from the AIM store: the page a task's "AIM report" link opens.
``GET /aimops/checks/<check urn>`` renders a recorded monitoring check (its status, numbers
and every failed row: the "AIM check" link), and ``?report=evidently`` serves the Evidently
report saved with a drift check, sandboxed (:data:`SAVED_REPORT_HEADERS`). Checks follow the
same access rules as evaluations, below. The plugin mounts :data:`report_app` under
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
#: A saved report (Evidently's, with its inlined scripts) is served sandboxed: it runs in an
#: origin of its own, so its scripts can neither read Airflow's cookies nor call its API.
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


def check_url(urn: str | Urn, report: str | None = None) -> str:
    """Where the API server shows the check ``urn``; with ``report``, that saved report of it.

    Example:
        >>> import os
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com"
        >>> check_url("urn:aim:check:airflow/monitor/manual__1/drift", "evidently")
        'https://airflow.example.com/aimops/checks/urn:aim:check:airflow/monitor/manual__1/drift?report=evidently'
    """
    url = f"{airflow_url()}{URL_PREFIX}/checks/{quote(str(urn), safe=':/')}"
    return f"{url}?report={quote(report, safe='')}" if report else url


def keyed_dag(urn: Urn) -> str | None:
    """The DAG the key of the evaluation ``urn`` names, when it is shaped as a task's identity
    (``airflow/<dag_id>/<run_id>/<task_id>[/...]``, the operators' default key), else None.

    The fingerprint URN of an evaluation of a model named ``airflow`` (``airflow/<version>/
    <fingerprint>``) names no DAG: it has three segments, a task's identity at least four.

    Example:
        >>> from aimops.metadata.urns import Urn
        >>> keyed_dag(Urn.parse("urn:aim:evaluation:airflow/churn/manual__1/evaluate"))
        'churn'
        >>> keyed_dag(Urn.parse("urn:aim:evaluation:weekly/churn")) is None
        True
        >>> keyed_dag(Urn.parse("urn:aim:evaluation:airflow/3/0123456789abcdef")) is None
        True
    """
    if len(urn.segments) >= 4 and urn.segments[0] == "airflow":
        return urn.segments[1]
    return None


def producing_dags(store: AimStore, urn: Urn) -> set[str]:
    """The DAGs whose tasks produced the evaluation ``urn``: its ``producedBy`` edges to
    Airflow steps (``urn:aim:step:airflow/<dag_id>/<run_id>/<task_id>[/<map_index>]``).
    Empty when nothing in Airflow produced it, or it is not recorded."""
    from aimops.metadata.urns import ORCHESTRATED_TYPES, Urn

    dags: set[str] = set()
    for producer in store.related(urn, "producedBy"):
        if producer.type in ORCHESTRATED_TYPES:
            segments = Urn.parse(producer.urn).segments
            if segments[0] == "airflow":
                dags.add(segments[1])
    return dags


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

    opener = open_store or _connection_store
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
    def evaluation_report(urn: str, user: Any = Depends(get_user)) -> Any:  # noqa: B008
        status, body = _report_page(opener, urn, lambda dag_id: may_read_dag(user, dag_id))
        if status != 200:
            return PlainTextResponse(body, status_code=status)
        return HTMLResponse(body, headers=security_headers(body))

    @app.get(
        "/checks/{urn:path}",
        response_class=HTMLResponse,
        summary="A recorded monitoring check, or (?report=NAME) a report saved with it",
    )
    def check_page(
        urn: str,
        report: str | None = None,
        user: Any = Depends(get_user),  # noqa: B008
    ) -> Any:
        status, body, saved = _check_page(
            opener, urn, report, lambda dag_id: may_read_dag(user, dag_id)
        )
        if status != 200:
            return PlainTextResponse(body, status_code=status)
        return HTMLResponse(body, headers=SAVED_REPORT_HEADERS if saved else security_headers(body))

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
    says whether the user may read a DAG: the one the key names (asked before the store is),
    then each one that produced the evaluation (see the module's docstring)."""
    from aimops.errors import NotFoundError
    from aimops.monitors.evaluation.recording import load_evaluation
    from aimops.monitors.reports.evaluation_page import render_report

    found = _readable(open_store, urn, "evaluation", may_read)
    if isinstance(found[0], int):
        return found[0], str(found[1])
    store, parsed = found
    try:
        document = load_evaluation(store, parsed)
    except NotFoundError:
        return _not_yours("evaluation", parsed)
    title = f"{document.get('label') or document['kind']} · {document['kind']} · {parsed}"
    return 200, render_report([document], title=title)


def _check_page(
    open_store: Callable[[], AimStore | None],
    urn: str,
    report: str | None,
    may_read: Callable[[str], bool],
) -> tuple[int, str, bool]:
    """(HTTP status, page or message, whether it is a saved report) for the check ``urn``:
    its page rendered from the store, or the saved ``report`` recorded with it; the same
    access rules as for evaluations."""
    from aimops.monitors.reports.check_page import render_check_report

    found = _readable(open_store, urn, "check", may_read)
    if isinstance(found[0], int):
        return found[0], str(found[1]), False
    store, parsed = found
    info, result = store.get_aspect(parsed, "checkInfo"), store.get_aspect(parsed, "checkResult")
    if info is None or result is None:
        return (*_not_yours("check", parsed), False)
    reports = dict(info.value.get("reports") or {})
    if report is not None:
        return (*_saved_report(parsed, report, reports), True)
    links = {"Evidently report": "?report=evidently"} if "evidently" in reports else {}
    page = render_check_report(
        result.value["document"], title=str(parsed), links=links,
        checked_at=str(info.value["checked_at"]), targets=list(info.value.get("targets", [])),
    )  # fmt: skip
    return 200, page, False


def _saved_report(urn: Urn, report: str, reports: dict[str, str]) -> tuple[int, str]:
    """The saved HTML report ``report`` of the check ``urn``, when it is still there.

    Only the file the check's job writes is served: its name must be the one
    :func:`~aimops.monitors.checks.jobs.report_path` gives this check and report (a hash of the
    URN is part of it), and it must be a regular file, not a link. A check recorded with
    another path (anyone may record checks) cannot make the server read another check's
    report, or any other file."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from aimops.monitors.checks.jobs import CHECK_PAGE, report_path

    if report not in reports or report == CHECK_PAGE:
        known = ", ".join(sorted(set(reports) - {CHECK_PAGE})) or "none"
        return 404, f"{urn} has no saved report {report!r} (saved: {known})"
    parsed = urlsplit(reports[report])
    path = url2pathname(parsed.path) if parsed.scheme == "file" and not parsed.netloc else ""
    expected = report_path(".", urn, report).name
    if os.path.basename(path) != expected or os.path.islink(path):
        return 404, f"the {report} report of {urn} is not where aimops writes it"
    if not os.path.isfile(path):
        return 404, f"the {report} report of {urn} was saved at {reports[report]}; it is gone"
    with open(path, encoding="utf-8") as handle:
        return 200, handle.read()


def _readable(
    open_store: Callable[[], AimStore | None],
    text: str,
    kind: str,
    may_read: Callable[[str], bool],
) -> tuple[int, str] | tuple[AimStore, Urn]:
    """(store, URN) when the user may read the ``kind`` ``text`` names, else (status, why):
    the DAG its key names is asked before the store is opened, then the DAGs that produced
    it; one that may not read them gets the answer of a missing one."""
    parsed = _urn_of(text, kind)
    if isinstance(parsed, str):
        return 400, parsed
    dag_id = keyed_dag(parsed)
    if dag_id is not None and not may_read(dag_id):
        return 403, f"{parsed} was recorded by the DAG {dag_id!r}, which you may not read"
    store = open_store()
    if store is None:
        return 503, "the AIM store cannot be opened right now; try again in a minute"
    if not all(may_read(producer) for producer in producing_dags(store, parsed) - {dag_id}):
        return _not_yours(kind, parsed)
    return store, parsed


def _not_yours(kind: str, urn: Urn) -> tuple[int, str]:
    return 404, f"no {kind} {urn} that you may read is recorded in the AIM store"


def _urn_of(text: str, kind: str) -> Urn | str:
    """``text`` as a URN of ``kind``, or why it is not one."""
    from aimops.errors import InvalidInputError
    from aimops.metadata.urns import Urn

    try:
        parsed = Urn.parse(text)
    except InvalidInputError as exc:
        return f"not an {kind} URN: {exc}" if kind[0] in "aeiou" else f"not a {kind} URN: {exc}"
    if parsed.type != kind:
        return (
            f"{parsed} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind} URN (urn:aim:{kind}:...)"
        )
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
