"""A static HTML page of one check result: its verdict, headline metrics and detail.

:func:`render_check_report` turns the ``to_dict()`` document of a data quality, drift, feature
consistency, health or anomaly check into one self-contained page: a header with the kind, the
status as a coloured badge, the title, when the check ran, what it checked and named links;
the headline metrics; then the kind's own table (expectations, columns, features, model
versions or flagged points), failing rows highlighted. A kind it does not know, and keys it
does not expect, are shown as plain key/value tables rather than refused.

The page has no script and loads nothing: every value of the document is escaped as text, and
a Content-Security-Policy meta tag allows only the page's own stylesheet, by its hash. Links
are kept only when they are http(s) or relative; anything else (``javascript:``) is text.

Example:
    >>> import pandas as pd
    >>> from aimops.monitors import check_drift
    >>> before = pd.DataFrame({"age": [30.5, 41.0, 25.5, 38.0, 52.5, 29.0, 44.5, 35.0]})
    >>> after = pd.DataFrame({"age": [60.5, 71.0, 65.5, 68.0, 72.5, 59.0, 64.5, 75.0]})
    >>> page = render_check_report(check_drift(before, after).to_dict(), title="Nightly drift")
    >>> '<span class="badge status-fail">fail</span>' in page, "<script" in page
    (True, False)
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aimops import __version__
from aimops.errors import InvalidInputError
from aimops.monitors.check import STATUSES
from aimops.monitors.report import source_hash, write_text_atomically

#: How each known kind is named on the page.
KIND_NAMES = {
    "data_quality": "Data quality",
    "drift": "Data drift",
    "feature_consistency": "Feature consistency",
    "health": "Service health",
    "anomaly": "Anomaly detection",
}
#: How many unexpected values an expectation's row shows.
EXAMPLES_SHOWN = 5
_LINK_SCHEMES = ("http", "https")
#: Feature consistency's measures: the kind of feature each applies to, and its name.
_MEASURES = {
    "jensenshannon": ("numeric", "Jensen-Shannon distance"),
    "linf": ("categorical", "L-infinity distance"),
}
_CSS = """\
:root {
  --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa; --accent: #0072b2;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --grey: #6e7781;
  --pass-bg: #dafbe1; --warn-bg: #fff8c5; --fail-bg: #ffebe9; --grey-bg: #eaeef2;
}
* { box-sizing: border-box; }
body {
  margin: 0; padding: 0 24px 32px; color: var(--ink); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
}
header { border-bottom: 1px solid var(--line); padding-bottom: 8px; }
.kind { margin: 16px 0 0; color: var(--muted); font-size: 12px; text-transform: uppercase; }
.headline { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; }
h1 { font-size: 22px; margin: 4px 0; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 24px 0 8px; }
.badge {
  display: inline-block; padding: 2px 10px; border-radius: 999px; color: #fff;
  font-size: 12px; font-weight: 600; text-transform: uppercase;
}
.status-pass { background: var(--pass); }
.status-warn { background: var(--warn); }
.status-fail { background: var(--fail); }
.status-inconclusive, .status-unknown { background: var(--grey); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
ul.plain { margin: 0; padding: 0; list-style: none; }
.links { display: flex; flex-wrap: wrap; gap: 4px 16px; }
a { color: var(--accent); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0 0 8px; }
th, td {
  padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; overflow-wrap: anywhere;
}
th { background: var(--panel); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.row-fail { background: var(--fail-bg); box-shadow: inset 4px 0 var(--fail); }
tr.row-warn { background: var(--warn-bg); box-shadow: inset 4px 0 var(--warn); }
tr.row-inconclusive { background: var(--grey-bg); box-shadow: inset 4px 0 var(--grey); }
.note, footer { color: var(--muted); }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
footer { margin-top: 24px; font-size: 12px; }"""
_POLICY = f"default-src 'none'; style-src {source_hash(_CSS)}; base-uri 'none'; form-action 'none'"
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="aimops {version}">
<title>{title} ({status})</title>
<style>
{css}
</style>
</head>
<body>
{header}
<main>
{sections}
</main>
<footer>Made by aimops {version}.</footer>
</body>
</html>
"""


class _Markup(str):
    """HTML made here, put into a cell as it is (everything else in a cell is escaped)."""

    __slots__ = ()


Row = tuple[str, Sequence[Any]]  # (the row's class, its cells)


def render_check_report(
    document: Mapping[str, Any],
    *,
    title: str | None = None,
    links: Mapping[str, str] | None = None,
    checked_at: str | None = None,
    targets: Sequence[str] = (),
) -> str:
    """The page of a check result's ``document`` (its ``to_dict()``), as one HTML string.

    ``title`` defaults to the document's ``name``, else the kind; ``links`` are named links
    shown under the header; ``checked_at`` and ``targets`` say when the check ran and what
    it checked. Raises :class:`~aimops.errors.InvalidInputError` when ``document`` is not a
    mapping.

    Example:
        >>> page = render_check_report(
        ...     {"kind": "anomaly", "status": "pass", "metrics": {"anomalies": 0.0}},
        ...     targets=["urn:aim:deployment:churn"], links={"Runbook": "javascript:alert(1)"})
        >>> '<span class="badge status-pass">pass</span>' in page, "<a " in page
        (True, False)
    """
    if not isinstance(document, Mapping):
        raise InvalidInputError(
            f"a check report needs a check's document (result.to_dict()), got "
            f"{type(document).__name__}"
        )
    kind = document.get("kind")
    heading = title or _name(document) or f"{_kind_name(kind)} check"
    sections, shown = _detail_sections(document)
    sections.insert(0, _metrics_section(document.get("metrics"), str(document.get("kind"))))
    rest = {str(k): v for k, v in document.items() if str(k) not in shown | {"kind", "status"}}
    if rest:
        sections.append(_section("Other details", _key_values(rest.items())))
    status = document.get("status")
    return _PAGE.format(
        policy=html.escape(_POLICY),
        version=html.escape(__version__),
        title=html.escape(heading),
        status=html.escape(_plain_text(status)),
        css=_CSS,
        header=_header(kind, status, heading, links or {}, checked_at, targets),
        sections="\n".join(sections),
    )


def write_check_report(
    document: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    links: Mapping[str, str] | None = None,
    checked_at: str | None = None,
    targets: Sequence[str] = (),
) -> Path:
    """Write the page of ``document`` to ``path`` in one step (folders made); return the path.

    The page goes to a temporary file beside ``path`` that then replaces it, so a reader sees
    the old page or the new one, never half of one. Keywords as :func:`render_check_report`.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> page = write_check_report({"kind": "health", "status": "warn"}, folder / "h.html")
        >>> page.name, [path.name for path in folder.iterdir()]
        ('h.html', ['h.html'])
    """
    page = render_check_report(
        document, title=title, links=links, checked_at=checked_at, targets=targets
    )
    return write_text_atomically(path, page)


# The header


def _header(
    kind: Any,
    status: Any,
    heading: str,
    links: Mapping[str, str],
    checked_at: str | None,
    targets: Sequence[str],
) -> str:
    facts: list[tuple[str, str]] = []
    if checked_at:
        facts.append(("Checked at", html.escape(str(checked_at))))
    shown_targets = [targets] if isinstance(targets, str) else list(targets)
    if shown_targets:
        items = "".join(f"<li>{html.escape(str(target))}</li>" for target in shown_targets)
        facts.append(("Targets", f'<ul class="plain">{items}</ul>'))
    facts_html = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    kind_line = f"{_kind_name(kind)} check"
    parts = [
        "<header>",
        f'<p class="kind">{html.escape(kind_line)}</p>' if kind_line != heading else "",
        f'<div class="headline"><h1>{html.escape(heading)}</h1>{_badge(status)}</div>',
        f'<dl class="facts">{facts_html}</dl>' if facts else "",
        _links(links),
        "</header>",
    ]
    return "\n".join(part for part in parts if part)


def _badge(status: Any) -> str:
    known = status if status in STATUSES else "unknown"
    return f'<span class="badge status-{known}">{html.escape(_plain_text(status))}</span>'


def _links(links: Mapping[str, str]) -> str:
    items = []
    for name, url in links.items():
        label, address = html.escape(str(name)), str(url)
        if _is_safe_link(address):
            href = html.escape(address.strip(), quote=True)
            items.append(f'<li><a href="{href}" rel="noopener noreferrer">{label}</a></li>')
        else:
            items.append(f"<li>{label}: <code>{html.escape(address)}</code></li>")
    return f'<nav><ul class="plain links">{"".join(items)}</ul></nav>' if items else ""


def _is_safe_link(url: str) -> bool:
    """Whether ``url`` may be a link: an http(s) URL or a relative one (no other scheme)."""
    text = url.strip()
    if not text or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        return False
    parts = urlsplit(text)
    if parts.scheme:
        return parts.scheme.lower() in _LINK_SCHEMES and bool(parts.netloc)
    first_segment = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return ":" not in first_segment  # "javascript%3A..." is a path; "x:y" would be a scheme


# The sections of each kind


def _metrics_section(metrics: Any, kind: str) -> str:
    """The headline metrics; a drift check's per-column scores (``drift.<column>``) are left
    to its column table."""
    if isinstance(metrics, Mapping) and metrics:
        shown = [
            (name, value)
            for name, value in metrics.items()
            if not (kind == "drift" and str(name).startswith("drift."))
        ]
        return _section("Metrics", _key_values(shown, headers=("Metric", "Value")))
    return _section("Metrics", '<p class="note">No metrics.</p>')


def _data_quality(document: Mapping[str, Any]) -> list[str]:
    rows: list[Row] = []
    for outcome in document["expectations"]:
        count, percent = _get(outcome, "unexpected_count"), _get(outcome, "unexpected_percent")
        unexpected = None if count is None else _format(count)
        if unexpected is not None and isinstance(percent, int | float):
            unexpected += f" ({_format(percent)}%)"
        examples = _get(outcome, "unexpected_examples")
        shown = examples[:EXAMPLES_SHOWN] if isinstance(examples, list) else examples
        status = _get(outcome, "status")
        cells = [
            _get(outcome, "description") or _get(outcome, "expect"),
            _get(outcome, "gx_type") or _get(outcome, "expect"),
            _get(outcome, "column"),
            _get(outcome, "severity"),
            _Markup(_badge(status)),
            _get(outcome, "observed_value"),
            unexpected,
            _examples(shown),
            _get(outcome, "error"),
        ]
        rows.append((_status_class(status), cells))
    headers = ("Expectation", "Type", "Column", "Severity", "Status", "Observed",
               "Unexpected (share)", "Unexpected examples", "Error")  # fmt: skip
    summary = _key_values([("Rows checked", document.get("n_rows"))])
    return [_section("Expectations", summary + _table(headers, rows))]


def _drift(document: Mapping[str, Any]) -> list[str]:
    columns = list(document["columns"].items())
    columns.sort(key=lambda item: _get(item[1], "drifted") is not True)  # drifted first
    shown = ("kind", "method", "threshold", "score", "drifted")
    rows: list[Row] = [
        (_flag_class(_get(column, "drifted")), [name, *(_get(column, key) for key in shown)])
        for name, column in columns
    ]
    drifted = sum(_get(column, "drifted") is True for _, column in columns)
    summary = [
        ("Drifted columns", f"{drifted} of {len(columns)}"),
        ("Drift share", document.get("drift_share")),
        ("Share threshold", document.get("drift_share_threshold")),
        ("Dataset drift", document.get("dataset_drift")),
        ("Reference rows", document.get("n_reference")),
        ("Current rows", document.get("n_current")),
    ]
    headers = ("Column", "Kind", "Method", "Threshold", "Score", "Drifted")
    return [
        _section("Dataset", _key_values(summary)),
        _section("Columns", _table(headers, rows)),
    ]


def _feature_consistency(document: Mapping[str, Any]) -> list[str]:
    rows: list[Row] = []
    for name, feature in document["features"].items():
        method = _get(feature, "method")
        kind, measure = _MEASURES.get(str(method), (None, method))
        cells = [name, kind, measure]
        cells += [_get(feature, key) for key in ("score", "threshold", "match_rate", "skewed")]
        rows.append((_flag_class(_get(feature, "skewed")), cells))
    summary: list[tuple[str, Any]] = [
        ("Training rows", document.get("n_training")),
        ("Serving rows", document.get("n_serving")),
    ]
    join = document.get("join")
    if isinstance(join, Mapping):
        summary += [
            ("Join key", join.get("key")),
            ("Keys matched", join.get("matched")),
            ("Keys missing in serving", join.get("missing_in_serving")),
            ("Keys missing in training", join.get("missing_in_training")),
        ]
    headers = ("Feature", "Kind", "Measure", "Score", "Threshold", "Match rate", "Skewed")
    return [
        _section("Features", _table(headers, rows)),
        _section("Rows and key join", _key_values(summary)),
    ]


def _health(document: Mapping[str, Any]) -> list[str]:
    rows: list[Row] = []
    for name, version in document["versions"].items():
        measured = ("requests", "errors", "error_rate", "latency_p50_ms", "latency_p90_ms",
                    "latency_p99_ms", "throughput_rps")  # fmt: skip
        status, violations = _get(version, "status"), _get(version, "violations")
        cells = [_get(version, "model_version") or name, *(_get(version, k) for k in measured)]
        cells += [_Markup(_badge(status)), violations or None]
        rows.append((_status_class(status), cells))
    objectives = document.get("objectives")
    limits = list(objectives.items()) if isinstance(objectives, Mapping) else []
    limits += [
        ("min_requests", document.get("min_requests")),
        ("window_seconds", document.get("window_seconds")),
    ]
    headers = ("Model version", "Requests", "Errors", "Error rate", "p50 ms", "p90 ms",
               "p99 ms", "Throughput (req/s)", "Status", "Violations")  # fmt: skip
    return [
        _section("Model versions", _table(headers, rows)),
        _section("Objectives", _key_values(limits, headers=("Objective", "Limit"))),
    ]


def _anomaly(document: Mapping[str, Any]) -> list[str]:
    points = document["points"]
    flagged = [point for point in points if _get(point, "anomalous") is True]
    rows: list[Row] = [
        ("row-fail", [_get(point, key) for key in ("timestamp", "value", "expected", "score")])
        for point in flagged
    ]
    summary = [
        ("Flagged points", f"{_format(document.get('anomalies', len(flagged)))} of {len(points)}"),
        ("Score threshold", document.get("threshold")),
        ("Season (points)", document.get("season")),
        ("Points needed", document.get("min_points")),
        ("Spread", document.get("spread")),
    ]
    table = _table(("Time", "Value", "Expected", "Score"), rows)
    return [
        _section("Series", _key_values(summary)),
        _section("Flagged points", table if rows else '<p class="note">No point was flagged.</p>'),
    ]


Renderer = Callable[[Mapping[str, Any]], list[str]]
#: Per kind: the key holding its rows, the type that key must have, the other keys the kind's
#: sections show, and the function that draws them.
_DETAILS: dict[str, tuple[str, type, frozenset[str], Renderer]] = {
    "data_quality": ("expectations", list, frozenset({"n_rows"}), _data_quality),
    "drift": (
        "columns",
        Mapping,
        frozenset(
            {"drift_share", "drift_share_threshold", "dataset_drift", "n_reference", "n_current"}
        ),
        _drift,
    ),
    "feature_consistency": (
        "features",
        Mapping,
        frozenset({"n_training", "n_serving", "join"}),
        _feature_consistency,
    ),
    "health": (
        "versions",
        Mapping,
        frozenset({"objectives", "min_requests", "window_seconds"}),
        _health,
    ),
    "anomaly": (
        "points",
        list,
        frozenset({"anomalies", "threshold", "season", "min_points", "spread"}),
        _anomaly,
    ),
}


def _detail_sections(document: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """The kind's sections and the keys they show (the rest go to a key/value table)."""
    shown = {"name"} if isinstance(document.get("name"), str | None) else set()
    if isinstance(document.get("metrics"), Mapping):
        shown.add("metrics")
    detail = _DETAILS.get(str(document.get("kind")))
    if detail is None or not isinstance(document.get(detail[0]), detail[1]):
        return [], shown
    rows_key, _, keys, render = detail
    return render(document), shown | keys | {rows_key}


# Building blocks


def _section(heading: str, body: str) -> str:
    return f"<section>\n<h2>{html.escape(heading)}</h2>\n{body}\n</section>"


def _table(headers: Sequence[str], rows: Iterable[Row]) -> str:
    head = "".join(f'<th scope="col">{html.escape(header)}</th>' for header in headers)
    body = "\n".join(
        (f'<tr class="{row_class}">' if row_class else "<tr>")
        + "".join(_cell(value) for value in cells)
        + "</tr>"
        for row_class, cells in rows
    )
    return (
        f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table></div>"
    )


def _key_values(items: Iterable[tuple[Any, Any]], headers: tuple[str, str] | None = None) -> str:
    rows = "\n".join(
        f'<tr><th scope="row">{html.escape(str(key))}</th>{_cell(value)}</tr>'
        for key, value in items
    )
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in headers or ())
    thead = f"<thead><tr>{head}</tr></thead>\n" if head else ""
    return f"<table>\n{thead}<tbody>\n{rows}\n</tbody>\n</table>"


def _cell(value: Any) -> str:
    if isinstance(value, _Markup):
        return f"<td>{value}</td>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{html.escape(_format(value))}</td>'
    if isinstance(value, Mapping | list | tuple) and value:
        return f"<td><code>{html.escape(_format(value))}</code></td>"
    return f"<td>{html.escape(_format(value))}</td>"


def _format(value: Any) -> str:
    """``value`` as the page shows it (not escaped yet)."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, list | tuple) and all(_is_scalar(item) for item in value):
        return ", ".join(_format(item) for item in value) or "\u2014"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 1e4 else f"{value:.4g}"


def _examples(values: Any) -> Any:
    """Unexpected values as JSON literals, so that a string reads apart from a number."""
    if isinstance(values, list) and values:
        return ", ".join(json.dumps(value, ensure_ascii=False, default=str) for value in values)
    return None


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def _get(row: Any, key: str) -> Any:
    return row.get(key) if isinstance(row, Mapping) else None


def _status_class(status: Any) -> str:
    return f"row-{status}" if status in ("fail", "warn", "inconclusive") else ""


def _flag_class(flagged: Any) -> str:
    return "row-fail" if flagged is True else ""


def _name(document: Mapping[str, Any]) -> str | None:
    name = document.get("name")
    return name if isinstance(name, str) and name else None


def _kind_name(kind: Any) -> str:
    if isinstance(kind, str) and kind in KIND_NAMES:
        return KIND_NAMES[kind]
    return str(kind) if kind else "Unknown"


def _plain_text(status: Any) -> str:
    return "unknown" if status is None else str(status)
