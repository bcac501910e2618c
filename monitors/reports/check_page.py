"""A static HTML page of one check result: its verdict, headline metrics and detail.

:func:`render_check_report` turns the ``to_dict()`` document of a data quality, drift, feature
consistency, health or anomaly check into one self-contained page: a header with the kind, the
status as a coloured badge, the title, when the check ran, what it checked and named links;
the headline metrics; then the kind's own table (expectations, columns, features, model
versions or flagged points), failing rows highlighted. A kind it does not know, and keys it
does not expect, are shown as plain key/value tables rather than refused.

The page has no script and loads nothing: every value of the document is shown as text
(escaped, with controls, bidirectional overrides and lone surrogates as their escapes), and a
Content-Security-Policy meta tag allows only the page's own stylesheet, by its hash. Links are
kept only when they are http(s) or relative and hold no such character; anything else
(``javascript:``) is text.

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
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aimops import __version__, validation
from aimops.errors import InvalidInputError
from aimops.monitors.checks.registry import CheckKind, find_check_kind
from aimops.monitors.reports import blocks
from aimops.monitors.reports.page import (
    html_page,
    text_html,
    visible_text,
    write_text_atomically,
)

_LINK_SCHEMES = ("http", "https")
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
_BODY = """{header}
<main>
{sections}
</main>
<footer>Made by aimops {version}.</footer>"""


def render_check_report(
    document: Mapping[str, Any],
    *,
    title: str | None = None,
    links: Mapping[str, str] | None = None,
    checked_at: str | None = None,
    targets: str | Sequence[str] | None = (),
) -> str:
    """The page of a check result's ``document`` (its ``to_dict()``), as one HTML string.

    ``title`` defaults to the document's ``name``, else the kind; ``links`` are named links
    shown under the header; ``checked_at`` and ``targets`` (one or several) say when the
    check ran and what it checked. They are text, which the page shows whatever it holds.
    Raises :class:`~aimops.errors.InvalidInputError` when ``document`` is not a mapping, and
    when a keyword is not what it says.

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
    title = validation.optional_text(title, "title", storable=False)
    links = validation.text_pairs({} if links is None else links, "links", storable=False)
    checked_at = validation.optional_text(checked_at, "checked_at", storable=False)
    targets = _targets(targets)
    kind = find_check_kind(document.get("kind"))
    heading = title or _name(document) or f"{_kind_name(document.get('kind'))} check"
    sections, shown = _detail_sections(document, kind)
    sections.insert(0, _metrics_section(document.get("metrics"), kind))
    rest = {str(k): v for k, v in document.items() if str(k) not in shown | {"kind", "status"}}
    if rest:
        sections.append(blocks.section("Other details", blocks.key_values(rest.items())))
    status = document.get("status")
    body = _BODY.format(
        header=_header(document.get("kind"), status, heading, links, checked_at, targets),
        sections="\n".join(sections),
        version=html.escape(__version__),
    )
    return html_page(title=f"{heading} ({blocks.plain_text(status)})", body=body, css=_CSS)


def write_check_report(
    document: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    links: Mapping[str, str] | None = None,
    checked_at: str | None = None,
    targets: str | Sequence[str] | None = (),
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


def _targets(targets: Any) -> tuple[str, ...]:
    """What the check checked: one text, several, or none (None)."""
    if targets is None:
        return ()
    if isinstance(targets, str):
        targets = [targets]
    return validation.texts(targets, "targets", storable=False)


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
        facts.append(("Checked at", text_html(checked_at)))
    if targets:
        items = "".join(f"<li>{text_html(target)}</li>" for target in targets)
        facts.append(("Targets", f'<ul class="plain">{items}</ul>'))
    facts_html = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    kind_line = f"{_kind_name(kind)} check"
    parts = [
        "<header>",
        f'<p class="kind">{text_html(kind_line)}</p>' if kind_line != heading else "",
        f'<div class="headline"><h1>{text_html(heading)}</h1>{blocks.badge(status)}</div>',
        f'<dl class="facts">{facts_html}</dl>' if facts else "",
        _links(links),
        "</header>",
    ]
    return "\n".join(part for part in parts if part)


def _links(links: Mapping[str, str]) -> str:
    items = []
    for name, url in links.items():
        label, address = text_html(name), url
        if _is_safe_link(address):
            href = html.escape(address.strip(), quote=True)
            items.append(f'<li><a href="{href}" rel="noopener noreferrer">{label}</a></li>')
        else:
            items.append(f"<li>{label}: <code>{text_html(address)}</code></li>")
    return f'<nav><ul class="plain links">{"".join(items)}</ul></nav>' if items else ""


def _is_safe_link(url: str) -> bool:
    """Whether ``url`` may be a link: an http(s) URL or a relative one (no other scheme)."""
    text = url.strip()
    if not text or visible_text(text) != text:  # controls, bidirectional overrides, surrogates
        return False
    parts = urlsplit(text)
    if parts.scheme:
        return parts.scheme.lower() in _LINK_SCHEMES and bool(parts.netloc)
    first_segment = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return ":" not in first_segment  # "javascript%3A..." is a path; "x:y" would be a scheme


# The sections of each kind


def _metrics_section(metrics: Any, kind: CheckKind | None) -> str:
    """The headline metrics; per-item metrics the kind's own table shows (a drift check's
    ``drift.<column>`` scores) are left to it."""
    if isinstance(metrics, Mapping) and metrics:
        shown = [
            (name, value)
            for name, value in metrics.items()
            if kind is None or kind.shows_metric(str(name))
        ]
        return blocks.section("Metrics", blocks.key_values(shown, headers=("Metric", "Value")))
    return blocks.section("Metrics", '<p class="note">No metrics.</p>')


def _detail_sections(
    document: Mapping[str, Any], kind: CheckKind | None
) -> tuple[list[str], set[str]]:
    """The kind's sections and the keys they show (the rest go to a key/value table)."""
    shown = {"name"} if isinstance(document.get("name"), str | None) else set()
    if isinstance(document.get("metrics"), Mapping):
        shown.add("metrics")
    if kind is None or kind.page is None or not kind.page.draws(document):
        return [], shown
    return kind.page.sections(document), shown | kind.page.shown | {kind.page.rows}


def _name(document: Mapping[str, Any]) -> str | None:
    name = document.get("name")
    return name if isinstance(name, str) and name else None


def _kind_name(name: Any) -> str:
    found = find_check_kind(name)
    if found is not None:
        return found.title
    return ("" if name is None else str(name)) or "Unknown"
