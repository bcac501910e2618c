"""Building blocks of the pages aimops draws on the server: sections, tables, cells, badges.

Everything put into a cell, a heading or a badge is text
(:func:`~aimops.monitors.reports.page.text_html`: escaped, its invisible and bidirectional
characters shown as escapes), except :class:`Markup` (HTML made here); numbers
are right-aligned and shown with a few significant digits, lists and mappings as JSON. A check
kind draws its page's sections with these (see :class:`~aimops.monitors.checks.registry.CheckPage`).

Example:
    >>> html = table(("Column", "Score"), [("row-fail", ["age", 0.31234])])
    >>> '<tr class="row-fail"><td>age</td><td class="num">0.3123</td></tr>' in html
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aimops.monitors.checks.base import STATUSES
from aimops.monitors.reports.page import text_html


class Markup(str):
    """HTML made here, put into a cell as it is (everything else in a cell is escaped)."""

    __slots__ = ()


Row = tuple[str, Sequence[Any]]  # (the row's class, its cells)


def badge(status: Any) -> str:
    known = status if _is_one_of(status, STATUSES) else "unknown"
    return f'<span class="badge status-{known}">{text_html(plain_text(status))}</span>'


def section(heading: str, body: str) -> str:
    return f"<section>\n<h2>{text_html(heading)}</h2>\n{body}\n</section>"


def table(headers: Sequence[str], rows: Iterable[Row]) -> str:
    head = "".join(f'<th scope="col">{text_html(header)}</th>' for header in headers)
    body = "\n".join(
        (f'<tr class="{text_html(row_class)}">' if row_class else "<tr>")
        + "".join(cell(value) for value in cells)
        + "</tr>"
        for row_class, cells in rows
    )
    return (
        f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table></div>"
    )


def key_values(items: Iterable[tuple[Any, Any]], headers: tuple[str, str] | None = None) -> str:
    rows = "\n".join(
        f'<tr><th scope="row">{text_html(key)}</th>{cell(value)}</tr>' for key, value in items
    )
    head = "".join(f'<th scope="col">{text_html(h)}</th>' for h in headers or ())
    thead = f"<thead><tr>{head}</tr></thead>\n" if head else ""
    return f"<table>\n{thead}<tbody>\n{rows}\n</tbody>\n</table>"


def cell(value: Any) -> str:
    if isinstance(value, Markup):
        return f"<td>{value}</td>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{text_html(format_value(value))}</td>'
    if isinstance(value, Mapping | list | tuple) and value:
        return f"<td><code>{text_html(format_value(value))}</code></td>"
    return f"<td>{text_html(format_value(value))}</td>"


def format_value(value: Any) -> str:
    """``value`` as the page shows it (not escaped yet)."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, list | tuple) and all(_is_scalar(item) for item in value):
        return ", ".join(format_value(item) for item in value) or "\u2014"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 1e4 else f"{value:.4g}"


def examples(values: Any) -> Any:
    """Unexpected values as JSON literals, so that a string reads apart from a number."""
    if isinstance(values, list) and values:
        return ", ".join(json.dumps(value, ensure_ascii=False, default=str) for value in values)
    return None


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def get(row: Any, key: str) -> Any:
    return row.get(key) if isinstance(row, Mapping) else None


def status_class(status: Any) -> str:
    return f"row-{status}" if _is_one_of(status, ("fail", "warn", "inconclusive")) else ""


def _is_one_of(value: Any, words: Sequence[str]) -> bool:
    """Whether ``value`` is one of ``words`` (an array is not: ``in`` would compare its items)."""
    return isinstance(value, str) and value in words


def flag_class(flagged: Any) -> str:
    return "row-fail" if flagged is True else ""


def plain_text(value: Any) -> str:
    """``value`` as text; ``unknown`` for None."""
    return "unknown" if value is None else str(value)
