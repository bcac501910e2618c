"""The aimops pages the API server answers with: a recorded evaluation's report, a check's
page, the reports saved beside a check, and a model version's page; each as (HTTP status,
body), after the access rules of :mod:`aimops.operators.web.access`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from aimops.operators.web.access import keyed_dag, not_yours, producing_dags, readable_entity

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn


def evaluation_page(
    open_store: Callable[[], AimStore | None], urn: str, may_read: Callable[[str], bool]
) -> tuple[int, str]:
    """(HTTP status, page or plain message) for the report of ``urn``; ``may_read(dag_id)``
    says whether the user may read a DAG: the one the key names (asked before the store is),
    then each one that produced the evaluation (see :mod:`aimops.operators.web.access`)."""
    from aimops.errors import NotFoundError
    from aimops.monitors.evaluation.recording import load_evaluation
    from aimops.monitors.reports.evaluation_page import render_report

    found = readable_entity(open_store, urn, "evaluation", may_read)
    if isinstance(found[0], int):
        return found[0], str(found[1])
    store, parsed = found
    try:
        document = load_evaluation(store, parsed)
    except NotFoundError:
        return not_yours("evaluation", parsed)
    title = f"{document.get('label') or document['kind']} · {document['kind']} · {parsed}"
    return 200, render_report([document], title=title)


def check_page(
    open_store: Callable[[], AimStore | None],
    urn: str,
    report: str | None,
    may_read: Callable[[str], bool],
) -> tuple[int, str, bool]:
    """(HTTP status, page or message, whether it is a saved report) for the check ``urn``:
    its page rendered from the store, or the saved ``report`` recorded with it; the same
    access rules as for evaluations."""
    from aimops.monitors.reports.check_page import render_check_report

    found = readable_entity(open_store, urn, "check", may_read)
    if isinstance(found[0], int):
        return found[0], str(found[1]), False
    store, parsed = found
    info, result = store.get_aspect(parsed, "checkInfo"), store.get_aspect(parsed, "checkResult")
    if info is None or result is None:
        return (*not_yours("check", parsed), False)
    reports = dict(info.value.get("reports") or {})
    if report is not None:
        return (*_saved_report(parsed, report, reports), True)
    links = {"Evidently report": "?report=evidently"} if "evidently" in reports else {}
    page = render_check_report(
        result.value["document"], title=str(parsed), links=links,
        checked_at=str(info.value["checked_at"]), targets=list(info.value.get("targets", [])),
    )  # fmt: skip
    return 200, page, False


def model_version_page(
    open_store: Callable[[], AimStore | None], urn: str, may_read: Callable[[str], bool]
) -> tuple[int, str]:
    """(HTTP status, page or plain message) for the model version ``urn``: its state, history,
    evaluations and checks, linking to their pages here. The same access rules as for
    evaluations (a version a DAG's task registered is shown only to who may read that DAG);
    its evaluations and checks are listed, and the pages in its history linked, only when the
    reader may read them too."""
    from aimops.monitors.reports.model_version_page import render_model_version_page

    found = readable_entity(open_store, urn, "modelVersion", may_read)
    if isinstance(found[0], int):
        return found[0], str(found[1])
    store, parsed = found
    if store.get_entity(parsed) is None:
        return not_yours("modelVersion", parsed)
    readable = _readable_in(store, may_read)
    page = render_model_version_page(
        store, parsed, include=readable, link_for=lambda seen: _page_url(seen, readable)
    )
    return 200, page


def _readable_in(store: AimStore, may_read: Callable[[str], bool]) -> Callable[[str], bool]:
    """Whether the reader may read the entity a URN names, as its own page would decide it:
    the DAG its key names and the DAGs that produced it (each answer kept for the request)."""
    from functools import cache

    from aimops.errors import InvalidInputError
    from aimops.metadata.urns import Urn

    readable_dag = cache(may_read)

    @cache
    def readable(text: str) -> bool:
        try:
            parsed = Urn.parse(text)
        except InvalidInputError:
            return False
        keyed = keyed_dag(parsed)
        dags = producing_dags(store, parsed) | ({keyed} if keyed else set())
        return all(readable_dag(dag_id) for dag_id in dags)

    return readable


def _page_url(urn: str, readable: Callable[[str], bool]) -> str | None:
    """Where this server shows the evaluation, check or model version ``urn``, when the reader
    may read it; else None."""
    from aimops.metadata.urns import Urn
    from aimops.operators.web.urls import check_url, model_version_url, report_url

    if not readable(urn):  # the reader may not, or it is no URN
        return None
    pages = {"evaluation": report_url, "check": check_url, "modelVersion": model_version_url}
    page = pages.get(Urn.parse(urn).type)
    return page(urn) if page is not None else None


def _saved_report(urn: Urn, report: str, reports: dict[str, str]) -> tuple[int, str]:
    """The saved HTML report ``report`` of the check ``urn``, when it is still there.

    Only the file the check's job writes is served: its name must be the one
    :func:`~aimops.monitors.reports.page.report_path` gives this check and report (a hash of the
    URN is part of it), and it must be a regular file, not a link. A check recorded with
    another path (anyone may record checks) cannot make the server read another check's
    report, or any other file."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from aimops.monitors.checks.jobs import CHECK_PAGE
    from aimops.monitors.reports.page import report_path

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
