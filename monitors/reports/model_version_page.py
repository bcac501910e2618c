"""The page of a model version: its lifecycle state and history, traffic, ramps, evaluations
and checks.

The header shows the state as a badge, what the version is (URI, framework, MLflow run,
description) and which task registered it; then its serving (per environment it serves or
served in: its traffic now, whether it is the champion, and its ramp's status and URN), the
lifecycle history (when, which transition, from which state to which, who, why, from where,
under which policy, on what evidence), its traffic over time (a chart of its weight and a table
of every change of the deployment: revision, change, weights, champion, actor, reason), its
ramps (status, schedule with the current step marked, note, and each step's analysis: window,
verdict, requests per version and gates), the evaluations and comparisons of the version and
the checks on it, newest first.

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
    >>> "No deployment or ramp of this version is recorded." in page
    True
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops import __version__
from aimops.monitors.reports import blocks
from aimops.monitors.reports.check_page import _CSS as _CHECK_CSS  # one look for both pages
from aimops.monitors.reports.model_version_record import (
    EARLIEST,
    LinkFor,
    Serving,
    VersionRecord,
    describe,
    describe_origin,
    moment_of,
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
_RAMP_COLOURS = {
    "ramping": "var(--accent)", "paused": "var(--warn)", "complete": "var(--pass)",
    "rolled_back": "var(--fail)", "aborted": "#57606a", "none": "var(--grey)",
    "unknown": "var(--grey)",
}  # fmt: skip
_CSS = (
    _CHECK_CSS
    + "".join(
        f"\n.state-{state} {{ background: {colour}; }}" for state, colour in _STATE_COLOURS.items()
    )
    + "".join(
        f"\n.ramp-{status} {{ background: {colour}; }}" for status, colour in _RAMP_COLOURS.items()
    )
    + """
h3 { font-size: 15px; margin: 16px 0 6px; overflow-wrap: anywhere; }
h4 { font-size: 14px; margin: 12px 0 4px; }
h3 .badge, h4 .badge { margin-left: 8px; vertical-align: middle; }
ol.schedule { display: flex; flex-wrap: wrap; gap: 4px; margin: 0; padding: 0; list-style: none; }
ol.schedule li { padding: 0 8px; border: 1px solid var(--line); border-radius: 4px; }
ol.schedule li.step-done { background: var(--panel); }
ol.schedule li.step-current {
  border-color: var(--accent); background: var(--accent); color: #fff; font-weight: 600;
}
svg.weights { display: block; width: 100%; max-width: 640px; height: auto; margin: 4px 0 8px; }
svg.weights .grid { stroke: var(--line); stroke-width: 1; }
svg.weights .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg.weights circle { fill: var(--accent); }
svg.weights text { fill: var(--muted); font-size: 11px; }"""
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
        _serving(record),
        _history(record, link),
        _traffic(record),
        _ramps(record),
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


def _serving(record: VersionRecord) -> str:
    if not record.serving:
        facts = blocks.key_values([("Traffic", "0 %"), ("Champion", "no"), ("Ramp", "none")])
        note = '<p class="note">No deployment or ramp of this version is recorded.</p>'
        return blocks.section("Serving", f"{facts}\n{note}")
    rows = [
        ("", [serving.environment, f"{serving.weight} %", _champion(serving),
              _ramp_cell(serving.ramp), serving.revision, when(serving.changed_at),
              serving.deployment])
        for serving in record.serving
    ]  # fmt: skip
    headers = ("Environment", "Traffic", "Champion", "Ramp", "Revision", "Changed at",
               "Deployment")  # fmt: skip
    return blocks.section("Serving", blocks.table(headers, rows))


def _champion(serving: Serving) -> str:
    if serving.is_champion:
        return "yes"
    if serving.champion is None:
        return "no (no champion)"
    return f"no (the champion is {serving.model}/{serving.champion})"


def _ramp_cell(ramp: Mapping[str, Any] | None) -> blocks.Markup:
    """A ramp's status badge, its step and its URN; ``none`` without one."""
    if ramp is None:
        return blocks.Markup(ramp_badge("none"))
    return blocks.Markup(
        f"{ramp_badge(ramp.get('status'))} {text_html(_step_text(ramp))}"
        f"<br><code>{text_html(ramp.get('urn'))}</code>"
    )


def ramp_badge(status: Any) -> str:
    """A ramp's status (``none``, ``ramping``, ``paused``, ``complete``, ``rolled_back``,
    ``aborted``) as a coloured badge.

    Example:
        >>> ramp_badge("rolled_back")
        '<span class="badge ramp-rolled_back">rolled_back</span>'
    """
    known = status if isinstance(status, str) and status in _RAMP_COLOURS else "unknown"
    return f'<span class="badge ramp-{known}">{text_html(blocks.plain_text(status))}</span>'


def _step_text(ramp: Mapping[str, Any]) -> str:
    """``step 2 of 5 (5 %)``: where the ramp is, or ended."""
    schedule, step = _schedule(ramp)
    if not schedule:
        return "no schedule"
    return f"step {step + 1} of {len(schedule)} ({schedule[step]} %)"


def _schedule(ramp: Mapping[str, Any]) -> tuple[list[Any], int]:
    schedule = ramp.get("schedule")
    weights = list(schedule) if isinstance(schedule, list | tuple) else []
    step = ramp.get("step")
    index = step if isinstance(step, int) and not isinstance(step, bool) else 0
    return weights, min(max(index, 0), max(len(weights) - 1, 0))


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


def _traffic(record: VersionRecord) -> str:
    """Per environment: the version's weight over time, and every traffic change there."""
    if not any(serving.history for serving in record.serving):
        return _empty("Traffic", "No traffic change of this version is recorded.")
    parts = []
    for serving in record.serving:
        model = serving.model
        parts.append(
            f"<h3>{text_html(serving.environment)}: {text_html(record.label)} serves "
            f"{serving.weight} %</h3>"
        )
        parts.append(
            weight_chart(serving.weights_over_time(), f"{record.label} in {serving.environment}")
        )
        shown = serving.history[-LIMIT:]
        rows = [
            ("", [when(item.get("at")), item.get("revision"), item.get("change"),
                  _weights_text(item.get("weights"), model), _weight_of(item, serving),
                  _version_of(model, item.get("champion")), item.get("actor"),
                  item.get("reason")])
            for item in shown
        ]  # fmt: skip
        headers = ("When", "Revision", "Change", "Weights", record.label, "Champion", "Actor",
                   "Reason")  # fmt: skip
        older = len(serving.history) - len(shown)
        more = f'\n<p class="note">{older} older ones are not shown.</p>' if older else ""
        parts.append(blocks.table(headers, rows) + more)
    return blocks.section("Traffic", "\n".join(parts))


def _weights_text(weights: Any, model: str) -> str:
    if not isinstance(weights, Mapping) or not weights:
        return "nothing serves"
    return ", ".join(f"{model}/{version} {weight} %" for version, weight in weights.items())


def _weight_of(item: Mapping[str, Any], serving: Serving) -> str:
    weights = item.get("weights")
    found = weights.get(serving.version, 0) if isinstance(weights, Mapping) else 0
    return f"{found} %"


def _version_of(model: str, version: Any) -> str:
    return "none" if version is None else f"{model}/{version}"


#: The weight chart's size, and its plot's margins (left, right, top, bottom).
_CHART = (640, 170, 44, 16, 10, 30)


def weight_chart(points: Sequence[tuple[Any, int]], title: str) -> str:
    """A step chart of a weight (percent) over time, as inline SVG with no script: each
    change of the weight a point (its time and weight on hover), the last weight held to the
    right edge.
    ``points`` are (an ISO 8601 time, a weight), oldest first; the chart is empty without
    one.

    Example:
        >>> svg = weight_chart([("2026-01-01T00:00:00Z", 10), ("2026-01-01T00:30:00Z", 10),
        ...                     ("2026-01-01T01:00:00Z", 50)], "churn/2 <in> production")
        >>> svg.startswith('<svg class="weights"'), "<in>" in svg, svg.count("<circle")
        (True, False, 2)
    """
    timed = [(moment_of(at), weight) for at, weight in points]
    timed = [(moment, weight) for moment, weight in timed if moment != EARLIEST]
    if not timed:
        return ""
    width, height, left, right, top, bottom = _CHART
    start, end = timed[0][0], timed[-1][0]
    span = max((end - start).total_seconds(), 1.0) * 1.08  # room to show the last weight

    def x(moment: datetime) -> float:
        return left + (moment - start).total_seconds() / span * (width - left - right)

    def y(weight: int) -> float:
        return top + (100 - min(max(weight, 0), 100)) / 100 * (height - top - bottom)

    changes = [
        (moment, weight)
        for number, (moment, weight) in enumerate(timed)
        if number == 0 or weight != timed[number - 1][1]
    ]
    line: list[tuple[float, float]] = []
    for moment, weight in changes:
        if line:
            line.append((x(moment), line[-1][1]))
        line.append((x(moment), y(weight)))
    line.append((width - right, line[-1][1]))
    grid = "".join(
        f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(w):.1f}" y2="{y(w):.1f}"/>'
        f'<text x="{left - 6}" y="{y(w) + 4:.1f}" text-anchor="end">{w} %</text>'
        for w in (0, 50, 100)
    )
    dots = "".join(
        f'<circle cx="{x(moment):.1f}" cy="{y(weight):.1f}" r="3"><title>'
        f"{text_html(when(moment))}: {weight} %</title></circle>"
        for moment, weight in changes
    )
    labels = f'<text x="{left}" y="{height - 8}">{text_html(when(start))}</text>'
    if end != start:
        labels += (
            f'<text x="{x(end):.1f}" y="{height - 8}" text-anchor="end">'
            f"{text_html(when(end))}</text>"
        )
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in line)
    return (
        f'<svg class="weights" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{text_html(f"weight of {title} over time")}">{grid}'
        f'<polyline class="line" points="{path}"/>{dots}{labels}</svg>'
    )


def _ramps(record: VersionRecord) -> str:
    """Each ramp of the version: its record, then each step's analysis with its gates."""
    ramps = [ramp for serving in record.serving for ramp in serving.ramps]
    if not ramps:
        return _empty("Ramps", "No ramp of this version is recorded.")
    return blocks.section("Ramps", "\n".join(_ramp(ramp, record) for ramp in ramps))


def _ramp(ramp: Mapping[str, Any], record: VersionRecord) -> str:
    model = str(ramp.get("model"))
    champion = ramp.get("champion")
    facts = [
        ("Status", blocks.Markup(ramp_badge(ramp.get("status")))),
        ("Environment", ramp.get("environment")),
        ("Step", _step_text(ramp)),
        ("Schedule", blocks.Markup(_schedule_html(ramp))),
        ("Champion when it started",
         f"{model}/{champion}" if champion is not None else "none (an initial rollout)"),
        ("Started", when(ramp.get("started_at"))), ("Ended", when(ramp.get("ended_at"))),
        ("Started by", ramp.get("actor")), ("Reason", ramp.get("reason")),
        ("Origin", describe_origin(ramp.get("origin"))),
        ("Bake time (s)", ramp.get("bake_seconds")),
        ("Progress deadline (s)", ramp.get("progress_deadline_seconds")),
        ("Failed analyses", f"{ramp.get('failures')} of {ramp.get('failure_limit')} allowed"),
        ("Gates", ramp.get("gates")), ("Note", ramp.get("note")),
    ]  # fmt: skip
    analyses = ramp.get("analyses")
    shown = list(analyses)[-LIMIT:] if isinstance(analyses, list | tuple) else []
    steps = [_analysis(item, ramp) for item in shown if isinstance(item, Mapping)]
    if not steps:
        steps = [f'<p class="note">{text_html("No step of this ramp is analysed yet.")}</p>']
    heading = (
        f"<h3>{text_html(ramp.get('urn'))}: {text_html(record.label)} in "
        f"{text_html(ramp.get('environment'))}{ramp_badge(ramp.get('status'))}</h3>"
    )
    return "\n".join([heading, blocks.key_values(facts), *steps])


def _schedule_html(ramp: Mapping[str, Any]) -> str:
    """The schedule's weights in order, the steps passed and the current one marked."""
    schedule, step = _schedule(ramp)
    items = []
    for index, weight in enumerate(schedule):
        mark = (' class="step-current" aria-current="step"' if index == step
                else ' class="step-done"' if index < step else "")  # fmt: skip
        items.append(f"<li{mark}>{text_html(blocks.format_value(weight))} %</li>")
    return f'<ol class="schedule">{"".join(items)}</ol>'


def _analysis(item: Mapping[str, Any], ramp: Mapping[str, Any]) -> str:
    schedule, _ = _schedule(ramp)
    step = item.get("step")
    number = step + 1 if isinstance(step, int) and not isinstance(step, bool) else step
    verdict = item.get("verdict")
    heading = (
        f"<h4>Step {text_html(blocks.plain_text(number))} of {len(schedule)} at "
        f"{text_html(blocks.format_value(item.get('weight')))} %{blocks.badge(verdict)}</h4>"
    )
    requests = item.get("requests")
    counts = (
        ", ".join(f"{name}: {count}" for name, count in requests.items())
        if isinstance(requests, Mapping) and requests else None
    )  # fmt: skip
    facts = blocks.key_values([
        ("Window", f"{when(item.get('window_start'))} \u2192 {when(item.get('window_end'))}"),
        ("Requests", counts), ("Decision", item.get("decision")),
        ("Analysed at", when(item.get("at"))),
    ])  # fmt: skip
    gates = item.get("gates")
    rows = [
        (blocks.status_class(blocks.get(gate, "status")), [
            blocks.get(gate, "name"), blocks.Markup(blocks.badge(blocks.get(gate, "status"))),
            blocks.get(gate, "value"), blocks.get(gate, "limit"), blocks.get(gate, "detail")])
        for gate in (gates if isinstance(gates, list | tuple) else ())
    ]  # fmt: skip
    table = blocks.table(("Gate", "Status", "Value", "Limit", "Detail"), rows)
    return "\n".join([heading, facts, table])


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
