"""The page of a model version: its lifecycle state and history, evaluations and checks.

The header shows the state as a badge, what the version is (URI, framework, MLflow run,
description) and which task registered it; then its serving (no deployment or ramp is
recorded yet: traffic 0 %, not the champion, no ramp), the lifecycle history (when, which
transition, from which state to which, who, why, from where, under which policy, on what
evidence), the evaluations and comparisons of the version and the checks on it, newest first.

Written as a static file beside the other pages (:func:`write_model_version_page`) after every
transition, linking to the evaluation and check pages written in the same folder; rendered
from the store by the Airflow plugin, linking to its own pages (``link_for``). Every value is
text (:func:`~aimops.monitors.reports.page.text_html`): a reason holding ``<script>`` or a
bidirectional override is shown, never acted on. The page has no script.

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> version = record_model_version(store, "churn", 1)
    >>> page = render_model_version_page(store, version)
    >>> "<title>churn/1 · registered</title>" in page, "<script" in page
    (True, False)
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops import __version__
from aimops.monitors.reports import blocks
from aimops.monitors.reports.check_page import _CSS as _CHECK_CSS  # one look for both pages
from aimops.monitors.reports.model_version_record import (
    LinkFor,
    VersionRecord,
    describe,
    describe_origin,
    read_version,
    safe_links,
    sibling_links,
    version_label,
    when,
)
from aimops.monitors.reports.page import html_page, report_path, text_html, write_text_atomically

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

#: The headline metrics of an evaluation, where it has them (a comparison: their deltas).
HEADLINE = ("auroc", "aupr", "auroc_macro", "rmse", "r2")
#: The most rows of each table (the newest); the rest are counted.
LIMIT = 100
_STATE_COLOURS = {
    "registered": "var(--grey)", "in_review": "var(--warn)", "publishable": "var(--accent)",
    "published": "var(--pass)", "deprecated": "#57606a", "unknown": "var(--grey)",
}  # fmt: skip
_CSS = _CHECK_CSS + "".join(
    f"\n.state-{state} {{ background: {colour}; }}" for state, colour in _STATE_COLOURS.items()
)


def render_model_version_page(
    store: AimStore,
    version: Any,
    *,
    link_for: LinkFor | None = None,
    include: Callable[[str], bool] | None = None,
) -> str:
    """The page of ``version`` (its URN, ``name/3`` or a ``model_version_ref``) as the store
    holds it now. ``link_for(urn)`` gives the address of an evaluation's, a check's or a model
    version's page, or None (default: no links; only http(s) and relative addresses become
    links); ``include(urn)`` says which evaluations and checks to list (default: all). A
    version that is not recorded is a :class:`~aimops.errors.MissingEntityError`."""
    record = read_version(store, version, include=include)
    link = safe_links(link_for)
    sections = [
        _serving(),
        _history(record, link),
        _evaluations(record.evaluations, link),
        _comparisons(record, link),
        _checks(record.checks, link),
    ]
    body = (
        f"{_header(record)}\n<main>\n{chr(10).join(sections)}\n</main>\n"
        f"<footer>Made by aimops {html.escape(__version__)}.</footer>"
    )
    return html_page(title=f"{record.label} · {record.state}", body=body, css=_CSS)


def write_model_version_page(
    store: AimStore, version: Any, report_dir: str | os.PathLike[str] = "default"
) -> Path:
    """Write the page of ``version`` under ``report_dir`` (``"default"``:
    ``$AIMOPS_HOME/reports``) in one step, linking to the pages of its evaluations and checks
    written there (:func:`sibling_links`); returns its path."""
    from aimops.metadata.lifecycle.queries import version_urn

    urn = version_urn(version)
    page = render_model_version_page(store, urn, link_for=sibling_links(report_dir))
    return write_text_atomically(report_path(report_dir, urn), page)


# The header and the sections


def _header(record: VersionRecord) -> str:
    info = record.info
    producers = [describe(urn) for urn in record.produced_by]
    facts = [
        ("URN", record.urn), ("URI", info.get("uri")), ("Framework", info.get("framework")),
        ("MLflow run", info.get("mlflow_run_id")), ("Description", info.get("description")),
        ("Produced by", "; ".join(producers) or None),
    ]  # fmt: skip
    terms = "".join(
        f"<dt>{name}</dt><dd>{text_html(blocks.format_value(value))}</dd>" for name, value in facts
    )
    known = record.state if record.state in _STATE_COLOURS else "unknown"
    badge = f'<span class="badge state-{known}">{text_html(record.state)}</span>'
    return (
        f'<header>\n<p class="kind">Model version</p>\n<div class="headline"><h1>'
        f'{text_html(record.label)}</h1>{badge}</div>\n<dl class="facts">{terms}</dl>\n</header>'
    )


def _serving() -> str:
    facts = blocks.key_values([("Traffic", "0 %"), ("Champion", "no"), ("Ramp", "none")])
    note = '<p class="note">No deployment or ramp of this version is recorded.</p>'
    return blocks.section("Serving", f"{facts}\n{note}")


def _history(record: VersionRecord, link: LinkFor) -> str:
    if not record.history:
        note = f"No transition yet: {record.label} is {record.state}, as it was recorded."
        return blocks.section("Lifecycle history", f'<p class="note">{text_html(note)}</p>')
    rows = [
        ("", [when(item.get("at")), item.get("transition"),
              f"{blocks.plain_text(item.get('previous'))} \u2192 "
              f"{blocks.plain_text(item.get('state'))}",
              item.get("actor"), item.get("reason"), describe_origin(item.get("origin")),
              item.get("policy"), _links(item.get("evidence"), link, evidence_name)])
        for item in record.history
    ]  # fmt: skip
    headers = ("When", "Transition", "From \u2192 to", "Actor", "Reason", "Origin", "Policy",
               "Evidence")  # fmt: skip
    return blocks.section("Lifecycle history", blocks.table(headers, rows))


def _evaluations(items: Sequence[dict[str, Any]], link: LinkFor) -> str:
    if not items:
        return _empty("Evaluations", "No evaluation of this version is recorded.")
    metrics = _columns(items, HEADLINE)
    rows = [
        (_status_class(item), [when(item.get("evaluated_at")), item.get("kind"),
         item.get("label"), item.get("dataset"), item.get("status"),
         *(_metric(item, name) for name in metrics), _page(item["urn"], link)])
        for item in items[:LIMIT]
    ]  # fmt: skip
    headers = ("Evaluated at", "Kind", "Label", "Dataset", "Status", *metrics, "Report")
    return blocks.section("Evaluations", blocks.table(headers, rows) + _more(items))


def _comparisons(record: VersionRecord, link: LinkFor) -> str:
    items = record.comparisons
    if not items:
        return _empty("Comparisons", "No comparison with this version is recorded.")
    deltas = _columns(items, [f"delta_{name}" for name in HEADLINE])
    rows = [
        (_status_class(item), [when(item.get("evaluated_at")), item.get("label"),
         _links([urn for urn in item.get("model_versions") or () if urn != record.urn], link,
                shown=version_label),
         item.get("dataset"), item.get("status"), *(_metric(item, name) for name in deltas),
         _page(item["urn"], link)])
        for item in items[:LIMIT]
    ]  # fmt: skip
    headers = ("Evaluated at", "Label", "Compared with", "Dataset", "Status", *deltas, "Report")
    return blocks.section("Comparisons", blocks.table(headers, rows) + _more(items))


def _checks(items: Sequence[dict[str, Any]], link: LinkFor) -> str:
    if not items:
        return _empty("Checks", "No check on this version is recorded.")
    rows = [
        (blocks.status_class(item.get("status")), [
            when(item.get("checked_at")), item.get("kind"), item.get("name"),
            blocks.Markup(blocks.badge(item.get("status"))), _page(item["urn"], link)])
        for item in items[:LIMIT]
    ]  # fmt: skip
    headers = ("Checked at", "Kind", "Name", "Status", "Page")
    return blocks.section("Checks", blocks.table(headers, rows) + _more(items))


def _empty(heading: str, note: str) -> str:
    return blocks.section(heading, f'<p class="note">{text_html(note)}</p>')


def _more(items: Sequence[Any]) -> str:
    hidden = len(items) - LIMIT
    return f'\n<p class="note">{hidden} older ones are not shown.</p>' if hidden > 0 else ""


def _columns(items: Iterable[Mapping[str, Any]], names: Iterable[str]) -> list[str]:
    """The metrics of ``names`` that any of ``items`` has."""
    return [name for name in names if any(name in (item.get("metrics") or {}) for item in items)]


def _metric(item: Mapping[str, Any], name: str) -> Any:
    return (item.get("metrics") or {}).get(name)


def _status_class(item: Mapping[str, Any]) -> str:
    return "row-fail" if item.get("status") == "failed" else ""


# Links


def _page(urn: str, link: LinkFor) -> blocks.Markup | None:
    """A link to the page of ``urn``, or None when it has none."""
    address = link(urn)
    if address is None:
        return None
    return blocks.Markup(f'<a href="{html.escape(address, quote=True)}" title="{text_html(urn)}"'
                         '>open</a>')  # fmt: skip


def evidence_name(urn: str) -> str:
    """A piece of evidence as a reader names it: its kind and the task that recorded it.

    Example:
        >>> evidence_name("urn:aim:check:airflow/evaluate_models/manual__1/check_test_data")
        'check check_test_data (evaluate_models, manual__1)'
        >>> evidence_name("urn:aim:evaluation:churn/1/38ae5c267ce99535")
        'evaluation churn/1/38ae5c267ce99535'
    """
    from aimops.errors import InvalidInputError
    from aimops.metadata.urns import Urn

    try:
        parsed = Urn.parse(urn)
    except InvalidInputError:
        return urn
    segments = parsed.segments
    if len(segments) >= 4 and segments[0] == "airflow":
        return f"{parsed.type} {'/'.join(segments[3:])} ({segments[1]}, {segments[2]})"
    return f"{parsed.type} {'/'.join(segments)}"


def _links(urns: Any, link: LinkFor, shown: Callable[[str], str] = str) -> blocks.Markup | None:
    """The URNs ``urns`` (each as ``shown`` names it), one a line, each a link to its page
    when it has one."""
    if not isinstance(urns, list | tuple) or not urns:
        return None
    items = []
    for urn in urns:
        address, text = link(str(urn)), text_html(shown(str(urn)))
        whole = text_html(str(urn))  # the whole URN on hover
        items.append(
            f'<li><a href="{html.escape(address, quote=True)}" title="{whole}">{text}</a></li>'
            if address is not None
            else f'<li title="{whole}">{text}</li>'
        )
    return blocks.Markup(f'<ul class="plain">{"".join(items)}</ul>')
